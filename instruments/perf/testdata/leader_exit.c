// The main thread leaves through pthread_exit at once; a second thread then
// burns CPU in burn() for about 200 ms. perf reports the leader's exit as
// the process's: the profile must still have the other thread's samples.
#include <pthread.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void burn(void)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < 100000; i++)
			sink = sink * 6364136223846793005UL + i;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 200000000L);
}

static void *worker(void *arg)
{
	struct timespec d = {0, 20000000};
	nanosleep(&d, NULL); // main has exited by now
	burn();
	return arg;
}

int main(void)
{
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	pthread_exit(NULL);
}
