/*
 * A minimal instrument-hooks client in C that writes the protocol's bytes by
 * hand (no encoder), to prove the Go server talks to non-Go integrations.
 * It opens the FIFOs the way instrument-hooks does (O_RDWR | O_NONBLOCK),
 * sends each request as one write(2), and checks every answer byte for byte.
 *
 *   cclient DIR 2   SetVersion(2), GetIntegrationMode, SetIntegration,
 *                   StartBenchmark, StopBenchmark, CurrentBenchmark, then
 *                   AddMarker(RoundStart) and AddMarker(RoundEnd) with
 *                   CLOCK_MONOTONIC times taken inside the region (the
 *                   order @codspeed/tinybench-plugin sends them in)
 *   cclient DIR 1   SetVersion(1), PingPerf, StartBenchmark, StopBenchmark,
 *                   CurrentBenchmark
 *   cclient DIR 3   SetVersion(3): expects Err
 *
 * Exit status 0 when every answer matched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int ctl, ack;

static const uint8_t ACK[] = {0x04, 0, 0, 0, 0x03, 0, 0, 0};
static const uint8_t ERR[] = {0x04, 0, 0, 0, 0x06, 0, 0, 0};
/* IntegrationModeResponse(Walltime): len 8, variant 10, mode 0 */
static const uint8_t MODE_WALLTIME[] = {0x08, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0};

static void put32(uint8_t *p, uint32_t v) {
	for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
	for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* now_ns is the clock markers use: CLOCK_MONOTONIC in ns. */
static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* send writes one frame and waits up to 2 s for an answer of want_len bytes. */
static int send(const char *what, const uint8_t *frame, size_t len, const uint8_t *want, size_t want_len) {
	if (write(ctl, frame, len) != (ssize_t)len) {
		fprintf(stderr, "%s: write: %s\n", what, strerror(errno));
		return 1;
	}
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
	if (have != want_len || memcmp(got, want, want_len) != 0) {
		fprintf(stderr, "%s: answer mismatch (%zu bytes):", what, have);
		for (size_t i = 0; i < have; i++) fprintf(stderr, " %02x", got[i]);
		fprintf(stderr, "\n");
		return 1;
	}
	printf("%s: ok\n", what);
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: cclient DIR VERSION\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/runner.ctl.fifo", argv[1]);
	ctl = open(path, O_RDWR | O_NONBLOCK);
	snprintf(path, sizeof path, "%s/runner.ack.fifo", argv[1]);
	ack = open(path, O_RDWR | O_NONBLOCK);
	if (ctl < 0 || ack < 0) {
		fprintf(stderr, "open FIFOs: %s\n", strerror(errno));
		return 2;
	}
	int version = atoi(argv[2]);
	int bad = 0;

	/* SetVersion(v): len 12, variant 8, u64 v */
	uint8_t setv[] = {0x0c, 0, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	setv[8] = (uint8_t)version;
	if (version > 2) return send("SetVersion(3)", setv, sizeof setv, ERR, sizeof ERR);
	bad |= send("SetVersion", setv, sizeof setv, ACK, sizeof ACK);

	if (version == 2) {
		const uint8_t getmode[] = {0x04, 0, 0, 0, 0x09, 0, 0, 0};
		bad |= send("GetIntegrationMode", getmode, sizeof getmode, MODE_WALLTIME, sizeof MODE_WALLTIME);
		/* SetIntegration{"c-client","0.1"}: 4 + (8+8) + (8+3) = 31 = 0x1f */
		const uint8_t setint[] = {0x1f, 0, 0, 0, 0x05, 0, 0, 0,
		                          0x08, 0, 0, 0, 0, 0, 0, 0, 'c', '-', 'c', 'l', 'i', 'e', 'n', 't',
		                          0x03, 0, 0, 0, 0, 0, 0, 0, '0', '.', '1'};
		bad |= send("SetIntegration", setint, sizeof setint, ACK, sizeof ACK);
	} else {
		const uint8_t ping[] = {0x04, 0, 0, 0, 0x04, 0, 0, 0};
		bad |= send("PingPerf", ping, sizeof ping, ACK, sizeof ACK);
	}

	const uint8_t start[] = {0x04, 0, 0, 0, 0x01, 0, 0, 0};
	const uint8_t stop[] = {0x04, 0, 0, 0, 0x02, 0, 0, 0};
	bad |= send("StartBenchmark", start, sizeof start, ACK, sizeof ACK);
	uint64_t round_start = now_ns();
	struct timespec work = {0, 2 * 1000 * 1000};
	nanosleep(&work, NULL);
	uint64_t round_end = now_ns();
	bad |= send("StopBenchmark", stop, sizeof stop, ACK, sizeof ACK);

	/* CurrentBenchmark{pid, "c::bench"}: 4 + 4 + 8 + 8 = 24 = 0x18 */
	uint8_t cur[28] = {0x18, 0, 0, 0, 0x00, 0, 0, 0};
	put32(cur + 8, (uint32_t)getpid());
	put64(cur + 12, 8);
	memcpy(cur + 20, "c::bench", 8);
	bad |= send("CurrentBenchmark", cur, sizeof cur, ACK, sizeof ACK);

	if (version == 2) { /* the round's markers, after the URI */
		/* AddMarker{pid, kind, ns}: 4+4+4+8 = 20 = 0x14; kinds 2 and 3 */
		uint64_t at[2] = {round_start, round_end};
		for (int k = 0; k < 2; k++) {
			uint8_t mark[24] = {0x14, 0, 0, 0, 0x07, 0, 0, 0};
			put32(mark + 8, (uint32_t)getpid());
			put32(mark + 12, (uint32_t)(2 + k));
			put64(mark + 16, at[k]);
			bad |= send(k == 0 ? "AddMarker(RoundStart)" : "AddMarker(RoundEnd)", mark, sizeof mark, ACK, sizeof ACK);
		}
	}

	return bad;
}
