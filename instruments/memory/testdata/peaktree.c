// Peak live bytes across the processes of a tree. Usage: peaktree MODE N M
//   exit: a child allocates N MiB and leaves with _exit without freeing;
//         then a second child allocates M MiB and leaves the same way.
//   exit-normal: the same, the children leaving with exit (destructors run).
//   leader-exit: as exit, but in the first child main returns through
//         pthread_exit at once and a second thread allocates the N MiB
//         afterwards; the process ends with that thread.
//   exec: allocates N MiB, then execs itself to allocate M MiB (the first
//         image's blocks vanish with it, unfreed).
//   fork: allocates N MiB and forks a child that frees those inherited
//         blocks; then the parent frees them too and allocates M MiB.
// The true peak is max(N, M) MiB in those modes.
//   vfork: allocates N MiB, vforks a child that leaves with _exit at once
//         (in the parent's memory), then allocates M MiB: N+M MiB.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1 << 20)

static char **alloc(int mib)
{
	char **blocks = malloc(sizeof(char *) * mib);
	for (int i = 0; i < mib; i++) {
		blocks[i] = malloc(MIB);
		memset(blocks[i], 1, MIB);
	}
	return blocks;
}

static void release(char **blocks, int mib)
{
	for (int i = 0; i < mib; i++)
		free(blocks[i]);
	free(blocks);
}

static void child_alloc(int mib, int normal)
{
	pid_t pid = fork();
	if (pid == 0) {
		alloc(mib);
		if (normal)
			exit(0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static void *late_alloc(void *arg)
{
	usleep(50000); // main has exited by now
	alloc(*(int *)arg);
	return NULL;
}

static void child_leader_exits(int mib)
{
	pid_t pid = fork();
	if (pid == 0) {
		static int n;
		n = mib;
		pthread_t t;
		pthread_create(&t, NULL, late_alloc, &n);
		pthread_exit(NULL); // the process lives on in t
	}
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int n = atoi(argv[2]);
	if (strcmp(argv[1], "alloc") == 0) {
		alloc(n);
		return 0;
	}
	if (argc < 4)
		return 2;
	int m = atoi(argv[3]);
	if (strcmp(argv[1], "exit") == 0 || strcmp(argv[1], "exit-normal") == 0) {
		int normal = strcmp(argv[1], "exit-normal") == 0;
		child_alloc(n, normal);
		child_alloc(m, normal);
		return 0;
	}
	if (strcmp(argv[1], "leader-exit") == 0) {
		child_leader_exits(n);
		child_alloc(m, 0);
		return 0;
	}
	if (strcmp(argv[1], "exec") == 0) {
		alloc(n);
		execl("/proc/self/exe", argv[0], "alloc", argv[3], (char *)NULL);
		return 127;
	}
	if (strcmp(argv[1], "vfork") == 0) {
		alloc(n);
		pid_t pid = vfork();
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		alloc(m);
		return 0;
	}
	if (strcmp(argv[1], "fork") == 0) {
		char **blocks = alloc(n);
		pid_t pid = fork();
		if (pid == 0) {
			release(blocks, n);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		release(blocks, n);
		alloc(m);
		return 0;
	}
	return 2;
}
