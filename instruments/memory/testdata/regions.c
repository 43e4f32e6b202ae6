// Allocates in three phases, each started by a line on stdin and confirmed
// by a line on stdout, so a test can open and close regions between them.
#include <stdio.h>
#include <stdlib.h>

static void *kept[200];

static void wait_go(void) {
	char line[16];
	if (!fgets(line, sizeof line, stdin)) exit(1);
}

static void done(const char *what) {
	printf("%s\n", what);
	fflush(stdout);
}

int main(void) {
	wait_go();
	for (int i = 0; i < 30; i++) free(malloc(777)); // outside any region
	done("phase1");
	wait_go();
	for (int i = 0; i < 200; i++) kept[i] = malloc(1000); // kept live
	done("phase2");
	wait_go();
	for (int i = 0; i < 200; i++) free(kept[i]); // frees of the previous region's blocks
	void *more[10];
	for (int i = 0; i < 10; i++) more[i] = malloc(5000);
	for (int i = 0; i < 10; i++) free(more[i]);
	done("phase3");
	return 0;
}
