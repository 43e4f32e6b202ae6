// Package hooks implements the runner side of CodSpeed's instrument-hooks
// pipe protocol (docs/protocol.md), so that CodSpeed's own integrations
// (codspeed-rust, codspeed-cpp, pytest-codspeed, codspeed-go, codspeed-node)
// report their measured regions, benchmark URIs and markers to this runner
// unchanged. Package hooks/client is the matching pure-Go client.
//
// # Wire format
//
// Every message is a u32 little-endian payload length followed by a bincode-1
// payload: the enum variant as u32 LE, then the fields in declaration order
// (integers LE, strings as u64 LE length + bytes, nested enums again as a u32
// variant). protocol.go encodes and decodes every variant byte-exactly.
//
// # Handshake (as read in CodSpeedHQ/instrument-hooks)
//
// An integration built on instrument-hooks initialises like this
// (src/instruments/root.zig, src/instruments/fifo_instrument.zig,
// src/runner_fifo.zig, src/fifo/posix.zig):
//
//  1. If RUNNING_ON_VALGRIND, it uses callgrind client requests and never
//     touches the pipes.
//  2. Otherwise it opens both FIFOs with O_RDWR|O_NONBLOCK (a missing FIFO
//     means "no runner": it continues as a no-op), sends SetVersion(2) and
//     waits about 1 s for Ack (an ack timeout means "runner not detected";
//     Err makes it print "please update the CodSpeed action" and exit(1)),
//     then sends GetIntegrationMode and waits for IntegrationModeResponse
//     (fifo_instrument.zig: validate_protocol_version, then
//     get_integration_mode).
//  3. It probes the memory ("analysis") mode first and the walltime mode
//     second, closing (and draining) the pipes and reopening them between
//     probes, so a walltime runner sees SetVersion, GetIntegrationMode twice.
//  4. Then, per benchmark: StartBenchmark, the measured code, StopBenchmark,
//     CurrentBenchmark{pid, uri} (which the library calls
//     ExecutedBenchmark: the URI names the region that was just measured),
//     with AddMarker for per-round timestamps where the integration takes
//     them, and SetIntegration{name, version} once.
//
// Protocol version 1 integrations skip GetIntegrationMode and probe with the
// deprecated PingPerf instead; libraries older still (instrument-hooks of
// May 2025, commit b003e50) send no SetVersion at all and are served too
// (Session.ProtocolVersion stays 0). Every request waits for its answer, so at
// most one request per client is in flight.
//
// # Paths, and why runs are serialised by a lock
//
// Both CodSpeed's runner (crates/runner-shared/src/fifo.rs in
// CodSpeedHQ/codspeed) and instrument-hooks (src/shared.zig) hard-code
// /tmp/runner.ctl.fifo and /tmp/runner.ack.fifo; no environment variable
// moves them (instrument-hooks reads only CODSPEED_PROFILE_FOLDER from the
// environment). Two runners on one host would therefore delete each other's
// FIFOs, or one run's integration would talk to the other's server. This
// package keeps the fixed paths, which real integrations need, and
// serialises runs with an exclusive flock(2) on a lock file beside the
// FIFOs: NewServer fails with an error wrapping ErrBusy (naming the holder's
// pid) or, with WithLockWait, waits for the other run to finish (telling
// WithWaitNotice whom it waits for). The lock file is opened without
// following symlinks and must be a plain file of one link (ErrUnsafeLock
// otherwise): /tmp is writable by every user. Servers in other directories
// (tests, this project's Go client through CODSPEED_HOOKS_DIR) do not
// contend with /tmp.
//
// # Markers
//
// Markers carry the integration's own CLOCK_MONOTONIC timestamps and are
// matched to benchmarks by time: a marker belongs to the benchmark one of
// whose measured regions contains it, whatever order the messages came in
// (@codspeed/tinybench-plugin sends a benchmark's markers after its
// StopBenchmark and its URI). See docs/protocol.md.
//
// # Known limits (shared with CodSpeed's runner)
//
// All processes of a run share one ack pipe. Requests are answered in
// order, but when two processes talk at the same moment (for example test
// binaries that `go test ./...` runs in parallel) one may read the other's
// answer. Real frames are a few hundred bytes, written with one write(2),
// below PIPE_BUF (4096), so requests never interleave; only answers can be
// swapped.
package hooks
