// Allocates N MiB in 1 MiB blocks, frees them, then M MiB. Usage: peak N M
#include <stdlib.h>
#include <string.h>

static void phase(int mib) {
	char **blocks = malloc(sizeof(char *) * mib);
	for (int i = 0; i < mib; i++) {
		blocks[i] = malloc(1 << 20);
		memset(blocks[i], 1, 1 << 20);
	}
	for (int i = 0; i < mib; i++) free(blocks[i]);
	free(blocks);
}

int main(int argc, char **argv) {
	phase(atoi(argv[1]));
	phase(atoi(argv[2]));
	return 0;
}
