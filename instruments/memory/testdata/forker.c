// Forks a child that allocates, and execs a program given as arguments
// in a second child. Usage: forker N [prog args...]
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int n = atoi(argv[1]);
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < n; i++) free(malloc(1000));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	if (argc > 2) {
		pid = fork();
		if (pid == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
	}
	return 0;
}
