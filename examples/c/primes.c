/* primes: counts the primes below N with a sieve, REPEAT times.
 * A small CPU- and memory-bound program for the examples: its run time grows
 * with N, and it allocates its sieve with malloc so the memory mode has
 * something to see. Usage: primes N [REPEAT] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long count_primes(long n) {
	unsigned char *composite = malloc((size_t)n + 1);
	if (!composite) {
		perror("malloc");
		exit(2);
	}
	memset(composite, 0, (size_t)n + 1);
	long count = 0;
	for (long i = 2; i <= n; i++) {
		if (composite[i])
			continue;
		count++;
		for (long j = i * i; j <= n; j += i)
			composite[j] = 1;
	}
	free(composite);
	return count;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: %s N [REPEAT]\n", argv[0]);
		return 2;
	}
	long n = atol(argv[1]);
	long repeat = argc > 2 ? atol(argv[2]) : 1;
	if (n < 2 || repeat < 1) {
		fprintf(stderr, "primes: N must be >= 2 and REPEAT >= 1\n");
		return 2;
	}
	long count = 0;
	for (long r = 0; r < repeat; r++)
		count = count_primes(n);
	printf("%ld\n", count);
	return 0;
}
