// jemalloc's non-standard API next to its malloc. Usage: jemalloc_api N
#include <jemalloc/jemalloc.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	int n = atoi(argv[1]);
	for (int i = 0; i < n; i++) {
		void *p = mallocx(100, 0);         // 1 alloc, 100 bytes
		p = rallocx(p, 200, 0);            // 1 alloc + 1 free, 200 bytes
		sdallocx(p, 200, 0);               // 1 free
		dallocx(mallocx(50, 0), 0);        // 1 alloc + 1 free, 50 bytes
		free(calloc(2, 30));               // 1 alloc + 1 free, 60 bytes
	}
	return 0;
}
