// The overhead benchmark: N malloc/free pairs of varied sizes. Usage: malloc_loop N
#include <stdlib.h>

int main(int argc, char **argv) {
	long n = atol(argv[1]);
	void *keep[16] = {0};
	for (long i = 0; i < n; i++) {
		size_t size = 16 + (i * 7919) % 4096;
		int slot = i & 15;
		free(keep[slot]);
		keep[slot] = malloc(size);
		((volatile char *)keep[slot])[0] = 1;
	}
	for (int i = 0; i < 16; i++) free(keep[i]);
	return 0;
}
