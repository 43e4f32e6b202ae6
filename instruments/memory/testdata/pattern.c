// A known allocation pattern exercising every libc allocator entry point.
// Usage: pattern N  (N rounds)
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
	int rounds = argc > 1 ? atoi(argv[1]) : 100;
	volatile char sink = 0;
	for (int i = 0; i < rounds; i++) {
		char *a = malloc(16 + i % 64);
		char *b = calloc(3, 40 + i % 7);
		a = realloc(a, 200 + i);
		char *c = realloc(NULL, 24);
		void *d = NULL;
		if (posix_memalign(&d, 64, 100) != 0) return 1;
		char *e = aligned_alloc(32, 256);
		char *f = memalign(128, 72);
		char *g = strdup("hello, allocator");
		sink += a[0] + b[0] + c[0] + g[0];
		free(NULL);
		free(a); free(b); free(c); free(d); free(e); free(f); free(g);
	}
	return sink == 42;
}
