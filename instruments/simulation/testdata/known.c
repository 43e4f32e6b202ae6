/* Ground truth: code whose instruction count is known by construction.
 * Entry-point mode: the region between the client requests executes
 * exactly 100000 `add` instructions (an unrolled asm block, no loop).
 * Exec mode (argument N): a loop of two instructions (dec; jnz) run N
 * times, so the whole program costs 2*N plus start-up. Argument "fail":
 * exit status 3. It calls no allocator (see benches.c). */
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "fail") == 0)
		return 3;
	if (argc > 1) {
		unsigned long n = strtoul(argv[1], 0, 10);
		if (n > 0)
			__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n));
		return 0;
	}
	CALLGRIND_ZERO_STATS;
	CALLGRIND_START_INSTRUMENTATION;
	__asm__ volatile(".rept 100000\n\tadd $1, %%rax\n\t.endr" ::: "rax", "cc");
	CALLGRIND_STOP_INSTRUMENTATION;
	CALLGRIND_DUMP_STATS_AT("known::add100000");
	return 0;
}
