/* Several benchmarks marked with callgrind client requests, the way
 * CodSpeed's integrations mark them: ZERO_STATS + START_INSTRUMENTATION
 * before, STOP_INSTRUMENTATION + DUMP_STATS_AT(uri) after, and a
 * "Metadata: <name> <version>" dump naming the integration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>

static unsigned long fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static int cmp(const void *a, const void *b) {
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static unsigned long sort_ints(int n) {
	int *v = malloc(sizeof(int) * n);
	unsigned s = 12345;
	for (int i = 0; i < n; i++) { s = s * 1103515245u + 12345u; v[i] = (int)(s >> 8); }
	qsort(v, n, sizeof(int), cmp);
	unsigned long r = (unsigned long)v[n / 2];
	free(v);
	return r;
}

#define BENCH(uri, expr)                   \
	do {                                   \
		CALLGRIND_ZERO_STATS;              \
		CALLGRIND_START_INSTRUMENTATION;   \
		sink += (expr);                    \
		CALLGRIND_STOP_INSTRUMENTATION;    \
		CALLGRIND_DUMP_STATS_AT(uri);      \
	} while (0)

volatile unsigned long sink;

int main(void) {
	BENCH("testdata/benches.c::fib20", fib(20));
	BENCH("testdata/benches.c::sort_10000", sort_ints(10000));
	BENCH("testdata/benches.c::fib15", fib(15));
	CALLGRIND_DUMP_STATS_AT("Metadata: c-test-harness 1.2.3");
	printf("%lu\n", sink);
	return 0;
}
