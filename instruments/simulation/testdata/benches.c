/* Several benchmarks marked with callgrind client requests, the way
 * CodSpeed's integrations mark them: ZERO_STATS + START_INSTRUMENTATION
 * before, STOP_INSTRUMENTATION + DUMP_STATS_AT(uri) after, and a
 * "Metadata: <name> <version>" dump naming the integration.
 * It calls no allocator (no malloc, no stdio): valgrind can then run it even
 * while a uprobe sits on the C library's malloc (see README.md). */
#include <unistd.h>
#include <valgrind/callgrind.h>

static unsigned long fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static int v[10000];

static void quicksort(int *a, int n) {
	while (n > 1) {
		int p = a[n / 2], i = 0, j = n - 1;
		while (i <= j) {
			while (a[i] < p) i++;
			while (a[j] > p) j--;
			if (i <= j) { int t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
		}
		quicksort(a, j + 1);
		a += i;
		n -= i;
	}
}

static unsigned long sort_ints(int n) {
	unsigned s = 12345;
	for (int i = 0; i < n; i++) { s = s * 1103515245u + 12345u; v[i] = (int)(s >> 8); }
	quicksort(v, n);
	return (unsigned long)v[n / 2];
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
	char buf[32], *p = buf + sizeof buf;
	unsigned long x = sink;
	*--p = '\n';
	do { *--p = (char)('0' + x % 10); x /= 10; } while (x);
	return write(1, p, (size_t)(buf + sizeof buf - p)) < 0;
}
