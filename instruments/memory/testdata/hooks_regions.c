/*
 * An integration written in C that speaks the instrument-hooks protocol by
 * hand (the raw frames, as instrument-hooks sends them) and allocates known
 * amounts inside and outside two marked regions:
 *
 *   outside:  30 x malloc(777) + free
 *   region 1 ("bench.c::group::first"):  200 x malloc(1000), kept live
 *   outside:  5 x malloc(3333) + free
 *   region 2 ("bench.c::group::second"): the 200 blocks freed,
 *             10 x malloc(5000) + free
 *
 *   hooks_regions DIR         the above
 *   hooks_regions DIR none    the same allocations, no pipe (nothing marked)
 *
 * Exit status 0 when every answer was the expected one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int ctl = -1, ack = -1;
static void *volatile sink;

static const uint8_t ACK[] = {0x04, 0, 0, 0, 0x03, 0, 0, 0};
/* IntegrationModeResponse(Memory): len 8, variant 10, mode 2 */
static const uint8_t MODE_MEMORY[] = {0x08, 0, 0, 0, 0x0a, 0, 0, 0, 2, 0, 0, 0};

static void put32(uint8_t *p, uint32_t v) {
	for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
	for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* send writes one frame and waits up to 2 s for the expected answer; it
 * allocates nothing, so it may run inside a region. */
static void send(const uint8_t *frame, size_t len, const uint8_t *want, size_t want_len) {
	if (ctl < 0) return;
	if (write(ctl, frame, len) != (ssize_t)len) _exit(3);
	uint8_t got[64];
	size_t have = 0;
	for (int tries = 0; tries < 200 && have < want_len; tries++) {
		ssize_t n = read(ack, got + have, want_len - have);
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (have != want_len || memcmp(got, want, want_len) != 0) _exit(4);
}

static const uint8_t START[] = {0x04, 0, 0, 0, 0x01, 0, 0, 0};
static const uint8_t STOP[] = {0x04, 0, 0, 0, 0x02, 0, 0, 0};

static void current(const char *uri) {
	uint8_t frame[256];
	size_t n = strlen(uri);
	put32(frame, (uint32_t)(4 + 4 + 8 + n));
	put32(frame + 4, 0); /* CurrentBenchmark */
	put32(frame + 8, (uint32_t)getpid());
	put64(frame + 12, n);
	memcpy(frame + 20, uri, n);
	send(frame, 20 + n, ACK, sizeof ACK);
}

int main(int argc, char **argv) {
	if (argc < 2) return 2;
	if (argc < 3) {
		char path[4096];
		snprintf(path, sizeof path, "%s/runner.ctl.fifo", argv[1]);
		ctl = open(path, O_RDWR | O_NONBLOCK);
		snprintf(path, sizeof path, "%s/runner.ack.fifo", argv[1]);
		ack = open(path, O_RDWR | O_NONBLOCK);
		if (ctl < 0 || ack < 0) return 2;
		const uint8_t setv[] = {0x0c, 0, 0, 0, 0x08, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
		send(setv, sizeof setv, ACK, sizeof ACK);
		const uint8_t getmode[] = {0x04, 0, 0, 0, 0x09, 0, 0, 0};
		send(getmode, sizeof getmode, MODE_MEMORY, sizeof MODE_MEMORY);
	}

	for (int i = 0; i < 30; i++) free(sink = malloc(777));

	static void *kept[200];
	send(START, sizeof START, ACK, sizeof ACK);
	for (int i = 0; i < 200; i++) sink = kept[i] = malloc(1000);
	send(STOP, sizeof STOP, ACK, sizeof ACK);
	current("bench.c::group::first");

	for (int i = 0; i < 5; i++) free(sink = malloc(3333));

	send(START, sizeof START, ACK, sizeof ACK);
	for (int i = 0; i < 200; i++) free(kept[i]);
	void *more[10];
	for (int i = 0; i < 10; i++) sink = more[i] = malloc(5000);
	for (int i = 0; i < 10; i++) free(more[i]);
	send(STOP, sizeof STOP, ACK, sizeof ACK);
	current("bench.c::group::second");
	return 0;
}
