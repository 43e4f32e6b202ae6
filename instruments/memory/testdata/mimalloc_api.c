// mimalloc's API. Usage: mimalloc_api N
#include <mimalloc.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	int n = atoi(argv[1]);
	for (int i = 0; i < n; i++) {
		void *p = mi_malloc(100);   // 1 alloc, 100 bytes
		p = mi_realloc(p, 300);     // 1 alloc + 1 free, 300 bytes
		mi_free(p);                 // 1 free
		mi_free(mi_calloc(4, 25));  // 1 alloc + 1 free, 100 bytes
		free(malloc(40));           // 1 alloc + 1 free, 40 bytes
	}
	return 0;
}
