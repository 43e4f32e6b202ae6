/* jit: a minimal JIT for the perf map test. It copies a counting loop into
 * anonymous executable memory, announces it in /tmp/perf-<pid>.map the way
 * V8, the JVM's perf-map-agent and CPython's -X perf do, and runs it for a
 * while. x86-64 only: the loop is "dec %rdi; jnz .-3; ret". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
	static const unsigned char code[] = {0x48, 0xff, 0xcf, 0x75, 0xfb, 0xc3};
	unsigned char *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
	                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memcpy(mem, code, sizeof code);
	char path[64];
	snprintf(path, sizeof path, "/tmp/perf-%d.map", (int)getpid());
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return 1;
	}
	fprintf(f, "%lx %zx jitted_hot_loop\n", (unsigned long)mem, sizeof code);
	fclose(f);
	long n = argc > 1 ? atol(argv[1]) : 200000000;
	((void (*)(long))mem)(n);
	printf("%d\n", (int)getpid());
	return 0;
}
