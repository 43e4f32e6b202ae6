package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/instruments/hooks/client"
	"github.com/codspeed-go/codspeed-go/testenv"
	"golang.org/x/sys/unix"
)

// helperEnv selects a helper role when the test binary re-executes itself as
// the "benchmark" process.
const helperEnv = "HOOKS_TEST_HELPER"

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role))
	}
	os.Exit(m.Run())
}

// runHelper is the benchmark side of the prompt-exit tests.
func runHelper(role string) int {
	dir := os.Getenv(hooks.DirEnv)
	switch role {
	case "never-connects":
		time.Sleep(100 * time.Millisecond)
		return 0
	case "dies-mid-message":
		c, err := client.ConnectWith(client.Options{IgnoreValgrind: true})
		if err != nil || !c.Active() {
			fmt.Fprintln(os.Stderr, "connect:", err)
			return 3
		}
		if err := c.StartBenchmark(); err != nil {
			fmt.Fprintln(os.Stderr, "start:", err)
			return 3
		}
		// Half a CurrentBenchmark frame, then exit without closing anything.
		ctl, err := os.OpenFile(filepath.Join(dir, hooks.CtlFIFOName), os.O_RDWR|unix.O_NONBLOCK, 0)
		if err != nil {
			return 3
		}
		frame := hooks.AppendFrame(nil, hooks.CurrentBenchmark{Pid: 1, URI: "never::finished"})
		ctl.Write(frame[:len(frame)/2])
		return 0
	case "fire-and-exit":
		// Writes a whole benchmark without waiting for a single answer and
		// exits at once: the runner must still record all of it.
		ctl, err := os.OpenFile(filepath.Join(dir, hooks.CtlFIFOName), os.O_RDWR|unix.O_NONBLOCK, 0)
		if err != nil {
			return 3
		}
		var b []byte
		b = hooks.AppendFrame(b, hooks.StartBenchmark{})
		b = hooks.AppendFrame(b, hooks.StopBenchmark{})
		b = hooks.AppendFrame(b, hooks.CurrentBenchmark{Pid: int32(os.Getpid()), URI: "fire::and::exit"})
		ctl.Write(b)
		return 0
	}
	return 2
}

// event is one Handler callback, for comparing sequences.
type event struct {
	What string
	Pid  int32
	Arg  string
}

type recordingHandler struct {
	mu       sync.Mutex
	events   []event
	startErr error
}

func (h *recordingHandler) add(e event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	return nil
}
func (h *recordingHandler) OnStart(ts uint64) error {
	if h.startErr != nil {
		return h.startErr
	}
	return h.add(event{What: "start"})
}
func (h *recordingHandler) OnStop(ts uint64) error { return h.add(event{What: "stop"}) }
func (h *recordingHandler) OnBenchmark(pid int32, uri string) error {
	return h.add(event{What: "benchmark", Pid: pid, Arg: uri})
}
func (h *recordingHandler) OnMarker(pid int32, m hooks.Marker) error {
	return h.add(event{What: "marker", Pid: pid, Arg: m.Kind.String()})
}
func (h *recordingHandler) OnIntegration(name, version string) error {
	return h.add(event{What: "integration", Arg: name + " " + version})
}
func (h *recordingHandler) Events() []event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]event(nil), h.events...)
}

// serve starts a server in a fresh directory; stop cancels Serve, waits for
// it and returns the session.
func serve(t *testing.T, h hooks.Handler, opts ...hooks.Option) (dir string, stop func() hooks.Session) {
	t.Helper()
	dir = t.TempDir()
	srv, err := hooks.NewServer(dir, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	var sess hooks.Session
	stop = func() hooks.Session {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return after cancel")
			}
			sess = srv.Session()
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return sess
	}
	t.Cleanup(func() { stop() })
	return dir, stop
}

func connect(t *testing.T, dir string, protocol uint64) *client.Client {
	t.Helper()
	c, err := client.ConnectWith(client.Options{Dir: dir, Protocol: protocol, IgnoreValgrind: true})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if !c.Active() {
		t.Fatal("client inactive although a server is listening")
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestHandshakeV2GoClient(t *testing.T) {
	h := &recordingHandler{}
	dir, stop := serve(t, h)
	c := connect(t, dir, 2)
	if c.Mode() != hooks.ModeWalltime {
		t.Fatalf("mode %v, want walltime", c.Mode())
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	before := hooks.MonotonicNow()
	must(c.SetIntegration("codspeed-go-test", "0.0.1"))
	must(c.StartBenchmark())
	must(c.AddMarker(hooks.BenchmarkStart, client.Now()))
	must(c.AddMarker(hooks.BenchmarkEnd, client.Now()))
	must(c.StopBenchmark())
	must(c.CurrentBenchmark("pkg/a_test.go::BenchmarkA"))
	must(c.StartBenchmark())
	must(c.StopBenchmark())
	must(c.CurrentBenchmark("pkg/a_test.go::BenchmarkB::sub"))
	after := hooks.MonotonicNow()
	sess := stop()

	pid := int32(os.Getpid())
	wantEvents := []event{
		{What: "integration", Arg: "codspeed-go-test 0.0.1"},
		{What: "start"},
		{What: "marker", Pid: pid, Arg: "BenchmarkStart"},
		{What: "marker", Pid: pid, Arg: "BenchmarkEnd"},
		{What: "stop"},
		{What: "benchmark", Pid: pid, Arg: "pkg/a_test.go::BenchmarkA"},
		{What: "start"},
		{What: "stop"},
		{What: "benchmark", Pid: pid, Arg: "pkg/a_test.go::BenchmarkB::sub"},
	}
	if got := h.Events(); !reflect.DeepEqual(got, wantEvents) {
		t.Fatalf("events\n got %v\nwant %v", got, wantEvents)
	}
	if err := sess.Err(); err != nil || len(sess.Warnings) > 0 {
		t.Fatalf("session errors %v warnings %v", err, sess.Warnings)
	}
	if sess.ProtocolVersion != 2 {
		t.Fatalf("protocol %d, want 2", sess.ProtocolVersion)
	}
	if sess.Integration == nil || *sess.Integration != (hooks.Integration{Name: "codspeed-go-test", Version: "0.0.1"}) {
		t.Fatalf("integration %+v", sess.Integration)
	}
	if len(sess.Benchmarks) != 2 || len(sess.Unclaimed) != 0 {
		t.Fatalf("benchmarks %+v unclaimed %+v", sess.Benchmarks, sess.Unclaimed)
	}
	a, b := sess.Benchmarks[0], sess.Benchmarks[1]
	if a.URI != "pkg/a_test.go::BenchmarkA" || b.URI != "pkg/a_test.go::BenchmarkB::sub" || a.Pid != pid {
		t.Fatalf("benchmarks %+v", sess.Benchmarks)
	}
	if len(a.Intervals) != 1 || len(b.Intervals) != 1 || len(a.Markers) != 2 || len(b.Markers) != 0 {
		t.Fatalf("intervals/markers not attributed: %+v", sess.Benchmarks)
	}
	// Timestamps are CLOCK_MONOTONIC and ordered like the conversation.
	seq := []uint64{before, a.Intervals[0].StartNs, a.Markers[0].ReceivedNs, a.Markers[1].ReceivedNs,
		a.Intervals[0].StopNs, a.AnnouncedNs, b.Intervals[0].StartNs, b.Intervals[0].StopNs, b.AnnouncedNs, after}
	for i := 1; i < len(seq); i++ {
		if seq[i] < seq[i-1] {
			t.Fatalf("timestamps out of order at %d: %v", i, seq)
		}
	}
	if m := a.Markers[0].Marker; m.Kind != hooks.BenchmarkStart || m.Ns < before || m.Ns > after {
		t.Fatalf("marker %+v outside [%d, %d]", m, before, after)
	}
}

func TestHandshakeV1GoClient(t *testing.T) {
	dir, stop := serve(t, nil)
	c := connect(t, dir, 1)
	if err := c.StartBenchmark(); err != nil {
		t.Fatal(err)
	}
	if err := c.StopBenchmark(); err != nil {
		t.Fatal(err)
	}
	if err := c.CurrentBenchmark("v1::bench"); err != nil {
		t.Fatal(err)
	}
	sess := stop()
	if sess.ProtocolVersion != 1 || len(sess.Benchmarks) != 1 || sess.Benchmarks[0].URI != "v1::bench" || sess.Err() != nil {
		t.Fatalf("session %+v", sess)
	}
}

func TestIntegrationModeFromConfig(t *testing.T) {
	for _, mode := range []hooks.IntegrationMode{hooks.ModeWalltime, hooks.ModeSimulation, hooks.ModeMemory} {
		t.Run(mode.String(), func(t *testing.T) {
			dir, _ := serve(t, nil, hooks.WithMode(mode))
			if c := connect(t, dir, 2); c.Mode() != mode {
				t.Fatalf("client saw mode %v, want %v", c.Mode(), mode)
			}
		})
	}
}

// rawConn talks to a server with hand-made frames.
type rawConn struct {
	t        *testing.T
	ctl, ack *os.File
}

func dialRaw(t *testing.T, dir string) *rawConn {
	t.Helper()
	open := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|unix.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	return &rawConn{t: t, ctl: open(hooks.CtlFIFOName), ack: open(hooks.AckFIFOName)}
}

func (r *rawConn) roundTrip(frame []byte) hooks.Command {
	r.t.Helper()
	if _, err := r.ctl.Write(frame); err != nil {
		r.t.Fatal(err)
	}
	r.ack.SetReadDeadline(time.Now().Add(2 * time.Second))
	c, err := hooks.ReadFrame(r.ack)
	if err != nil {
		r.t.Fatalf("answer: %v", err)
	}
	return c
}

func TestUnknownCommandAnswersErr(t *testing.T) {
	dir, stop := serve(t, nil)
	r := dialRaw(t, dir)
	// variant 11 does not exist: len 4, variant 0x0b
	if got := r.roundTrip([]byte{4, 0, 0, 0, 0x0b, 0, 0, 0}); got != (hooks.Err{}) {
		t.Fatalf("unknown command answered %#v, want Err", got)
	}
	// a runner->integration message sent the wrong way: Ack
	if got := r.roundTrip([]byte{4, 0, 0, 0, 0x03, 0, 0, 0}); got != (hooks.Err{}) {
		t.Fatalf("Ack from the integration answered %#v, want Err", got)
	}
	// a malformed known command: SetVersion with 2 of its 8 bytes
	if got := r.roundTrip([]byte{6, 0, 0, 0, 0x08, 0, 0, 0, 2, 0}); got != (hooks.Err{}) {
		t.Fatalf("truncated SetVersion answered %#v, want Err", got)
	}
	// and the conversation goes on afterwards
	if got := r.roundTrip(hooks.AppendFrame(nil, hooks.SetVersion(2))); got != (hooks.Ack{}) {
		t.Fatalf("SetVersion(2) after errors answered %#v, want Ack", got)
	}
	sess := stop()
	if len(sess.Errors) != 2 || !errors.Is(sess.Errors[0], hooks.ErrUnknownVariant) || !errors.Is(sess.Errors[1], hooks.ErrTruncated) {
		t.Fatalf("errors %v", sess.Errors)
	}
	if len(sess.Warnings) != 1 || !strings.Contains(sess.Warnings[0], "Ack") {
		t.Fatalf("warnings %v", sess.Warnings)
	}
}

func TestNewerVersionRefused(t *testing.T) {
	dir, stop := serve(t, nil)
	c, err := client.ConnectWith(client.Options{Dir: dir, Protocol: 3, IgnoreValgrind: true})
	if !errors.Is(err, client.ErrRefused) {
		t.Fatalf("connect with protocol 3: %v, want ErrRefused", err)
	}
	if c.Active() {
		t.Fatal("refused client is active")
	}
	sess := stop()
	var ve *hooks.VersionError
	if !errors.As(sess.Err(), &ve) || !errors.Is(sess.Err(), hooks.ErrProtocolVersion) || ve.Got != 3 || ve.Max != 2 {
		t.Fatalf("session error %v", sess.Err())
	}
	msg := sess.Err().Error()
	if !strings.Contains(msg, "version 3") || !strings.Contains(msg, "at most 2") || !strings.Contains(msg, "update codspeed-go") {
		t.Fatalf("message does not say what happened and what to do: %q", msg)
	}
	if sess.ProtocolVersion != 0 {
		t.Fatalf("refused version recorded as accepted: %d", sess.ProtocolVersion)
	}
}

func TestMemoryModeNeedsVersion2(t *testing.T) {
	dir, stop := serve(t, nil, hooks.WithMode(hooks.ModeMemory))
	r := dialRaw(t, dir)
	if got := r.roundTrip(hooks.AppendFrame(nil, hooks.SetVersion(1))); got != (hooks.Err{}) {
		t.Fatalf("SetVersion(1) in memory mode answered %#v, want Err", got)
	}
	if got := r.roundTrip(hooks.AppendFrame(nil, hooks.PingPerf{})); got != (hooks.Err{}) {
		t.Fatalf("PingPerf in memory mode answered %#v, want Err", got)
	}
	var ve *hooks.VersionError
	if sess := stop(); !errors.As(sess.Err(), &ve) || ve.Min != 2 || !strings.Contains(ve.Error(), "memory mode needs at least 2") {
		t.Fatalf("session error %v", sess.Err())
	}
}

func TestHandlerErrorAnswersErr(t *testing.T) {
	h := &recordingHandler{startErr: errors.New("perf_event_open: permission denied")}
	dir, stop := serve(t, h)
	c := connect(t, dir, 2)
	if err := c.StartBenchmark(); !errors.Is(err, client.ErrRefused) {
		t.Fatalf("StartBenchmark = %v, want ErrRefused", err)
	}
	if sess := stop(); sess.Err() == nil || !strings.Contains(sess.Err().Error(), "permission denied") {
		t.Fatalf("session error %v", sess.Err())
	}
}

func TestFIFOs(t *testing.T) {
	dir := t.TempDir()
	old := unix.Umask(0o077) // the mode must not depend on the umask
	srv, err := hooks.NewServer(dir, nil)
	unix.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{srv.CtlPath(), srv.AckPath()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: mode %v, want named pipe 0700", p, fi.Mode())
		}
	}
	if got := srv.Env(); !reflect.DeepEqual(got, []string{hooks.DirEnv + "=" + dir}) {
		t.Fatalf("Env = %v", got)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{srv.CtlPath(), srv.AckPath()} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s left behind: %v", p, err)
		}
	}
	// No runner: the client is an inactive no-op, not an error.
	c, err := client.ConnectWith(client.Options{Dir: dir, IgnoreValgrind: true})
	if err != nil || c.Active() || c.StartBenchmark() != nil || c.CurrentBenchmark("x") != nil {
		t.Fatalf("client without runner: %v active=%v", err, c.Active())
	}
}

func TestConcurrentRunsDoNotCollide(t *testing.T) {
	dir := t.TempDir()
	first, err := hooks.NewServer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = hooks.NewServer(dir, nil)
	if !errors.Is(err, hooks.ErrBusy) {
		t.Fatalf("second server: %v, want ErrBusy", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("error does not name the holder: %v", err)
	}
	// The refused server must not have touched the first one's FIFOs.
	if _, err := os.Stat(first.CtlPath()); err != nil {
		t.Fatal(err)
	}
	// A waiting server gets the directory once the first run ends.
	go func() {
		time.Sleep(150 * time.Millisecond)
		first.Close()
	}()
	t0 := time.Now()
	second, err := hooks.NewServer(dir, nil, hooks.WithLockWait(5*time.Second))
	if err != nil {
		t.Fatalf("waiting server: %v", err)
	}
	defer second.Close()
	if waited := time.Since(t0); waited < 100*time.Millisecond {
		t.Fatalf("second server did not wait (%v)", waited)
	}
	// Another process is locked out too (flock is per open file, so this
	// also holds across processes; checked with flock(1) when present).
	if _, err := exec.LookPath("flock"); err == nil {
		out, err := exec.Command("flock", "-n", filepath.Join(dir, hooks.LockName), "true").CombinedOutput()
		if err == nil {
			t.Fatalf("flock(1) took the lock of a running server: %s", out)
		}
	}
}

// runChild starts the test binary as a benchmark helper, and measures how
// long Serve takes to return once the child has exited and ctx is cancelled
// (what the runner does).
func runChild(t *testing.T, role string) (hooks.Session, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	srv, err := hooks.NewServer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+role)
	cmd.Env = append(cmd.Env, srv.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", role, err, out)
	}
	exited := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running 5 s after the benchmark exited")
	}
	return srv.Session(), time.Since(exited)
}

func TestPromptExitChildNeverConnects(t *testing.T) {
	sess, took := runChild(t, "never-connects")
	if took > time.Second {
		t.Fatalf("Serve returned %v after the child exited, want < 1 s", took)
	}
	if sess.Err() != nil || len(sess.Benchmarks) != 0 {
		t.Fatalf("session %+v", sess)
	}
	t.Logf("Serve returned %v after exit", took)
}

func TestPromptExitChildDiesMidConversation(t *testing.T) {
	sess, took := runChild(t, "dies-mid-message")
	if took > time.Second {
		t.Fatalf("Serve returned %v after the child exited, want < 1 s", took)
	}
	if sess.ProtocolVersion != 2 || len(sess.Unclaimed) != 1 || sess.Unclaimed[0].StopNs != 0 {
		t.Fatalf("open region not recorded: %+v", sess)
	}
	if sess.Err() == nil || !strings.Contains(sess.Err().Error(), "incomplete message") {
		t.Fatalf("truncated frame not reported: %v", sess.Err())
	}
	if len(sess.Warnings) != 1 || !strings.Contains(sess.Warnings[0], "still open") {
		t.Fatalf("warnings %v", sess.Warnings)
	}
	t.Logf("Serve returned %v after exit", took)
}

func TestMessagesWrittenJustBeforeExitAreKept(t *testing.T) {
	sess, took := runChild(t, "fire-and-exit")
	if took > time.Second {
		t.Fatalf("Serve returned %v after the child exited", took)
	}
	if len(sess.Benchmarks) != 1 || sess.Benchmarks[0].URI != "fire::and::exit" || len(sess.Benchmarks[0].Intervals) != 1 {
		t.Fatalf("session %+v", sess)
	}
}

// TestCClient runs a C program that writes the protocol's bytes by hand
// (testdata/cclient.c) against the server: cross-language proof that the
// bytes are CodSpeed's and not just self-consistent.
func TestCClient(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		testenv.Missing(t, "gcc not installed (apt-get install gcc): cannot build the C client")
	}
	bin := filepath.Join(t.TempDir(), "cclient")
	if out, err := exec.Command(gcc, "-Wall", "-Werror", "-O1", "-o", bin, "testdata/cclient.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		version  string
		protocol uint64
		markers  int
		refused  bool
	}{{"2", 2, 2, false}, {"1", 1, 0, false}, {"3", 0, 0, true}} {
		t.Run("v"+tt.version, func(t *testing.T) {
			dir, stop := serve(t, nil)
			cmd := exec.Command(bin, dir, tt.version)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("C client: %v\n%s", err, out)
			}
			sess := stop()
			if tt.refused {
				if !errors.Is(sess.Err(), hooks.ErrProtocolVersion) {
					t.Fatalf("version 3 not refused: %v", sess.Err())
				}
				return
			}
			if err := sess.Err(); err != nil {
				t.Fatal(err)
			}
			if sess.ProtocolVersion != tt.protocol || len(sess.Benchmarks) != 1 {
				t.Fatalf("session %+v", sess)
			}
			b := sess.Benchmarks[0]
			if b.URI != "c::bench" || int(b.Pid) != cmd.Process.Pid || len(b.Intervals) != 1 || len(b.Markers) != tt.markers {
				t.Fatalf("benchmark %+v (child pid %d)", b, cmd.Process.Pid)
			}
			if tt.markers == 2 {
				iv := b.Intervals[0]
				s, e := b.Markers[0].Marker, b.Markers[1].Marker
				if s.Kind != hooks.BenchmarkStart || e.Kind != hooks.BenchmarkEnd || s.Ns < iv.StartNs || e.Ns > iv.StopNs || e.Ns-s.Ns < 2e6 {
					t.Fatalf("markers %+v outside the region %+v", b.Markers, iv)
				}
			}
			if len(sess.UnmatchedMarkers) != 0 {
				t.Fatalf("unmatched markers %+v", sess.UnmatchedMarkers)
			}
			if tt.protocol == 2 && (sess.Integration == nil || *sess.Integration != (hooks.Integration{Name: "c-client", Version: "0.1"})) {
				t.Fatalf("integration %+v", sess.Integration)
			}
		})
	}
}

// TestInstrumentHooksProbeSequence replays what instrument-hooks does at
// init against a walltime runner: probe the memory ("analysis") mode, get
// a mismatch, close and reopen the pipes, probe walltime, then benchmark.
func TestInstrumentHooksProbeSequence(t *testing.T) {
	dir, stop := serve(t, nil, hooks.WithMode(hooks.ModeWalltime))
	for probe := 0; probe < 2; probe++ {
		r := dialRaw(t, dir)
		if got := r.roundTrip(hooks.AppendFrame(nil, hooks.SetVersion(2))); got != (hooks.Ack{}) {
			t.Fatalf("probe %d: SetVersion answered %#v", probe, got)
		}
		got := r.roundTrip(hooks.AppendFrame(nil, hooks.GetIntegrationMode{}))
		if got != (hooks.IntegrationModeResponse{Mode: hooks.ModeWalltime}) {
			t.Fatalf("probe %d: GetIntegrationMode answered %#v", probe, got)
		}
		if probe == 0 {
			r.ctl.Close() // analysis probe failed: the library closes both pipes
			r.ack.Close()
			continue
		}
		for _, c := range []hooks.Command{hooks.StartBenchmark{}, hooks.StopBenchmark{},
			hooks.CurrentBenchmark{Pid: 9, URI: "probe::bench"}} {
			if got := r.roundTrip(hooks.AppendFrame(nil, c)); got != (hooks.Ack{}) {
				t.Fatalf("%T answered %#v", c, got)
			}
		}
	}
	sess := stop()
	if sess.Err() != nil || sess.ProtocolVersion != 2 || len(sess.Benchmarks) != 1 || sess.Benchmarks[0].URI != "probe::bench" {
		t.Fatalf("session %+v", sess)
	}
}

// TestMarkersAfterURIGoToTheirOwnBenchmark replays, through the FIFOs, the
// order in which @codspeed/tinybench-plugin talks: StartBenchmark, round
// start read from the clock, the work, round end, StopBenchmark, the URI,
// then the two markers. Each benchmark must get its own markers (not its
// successor's), the last one included, and the session file must keep them.
func TestMarkersAfterURIGoToTheirOwnBenchmark(t *testing.T) {
	dir, stop := serve(t, nil)
	c := connect(t, dir, 2)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	uris := []string{"bench.mjs::fibonacci 20", "bench.mjs::build string 10k", "bench.mjs::sort 10k"}
	for _, uri := range uris {
		must(c.StartBenchmark())
		start := client.Now()
		time.Sleep(time.Millisecond)
		end := client.Now()
		must(c.StopBenchmark())
		must(c.CurrentBenchmark(uri))
		must(c.AddMarker(hooks.BenchmarkStart, start))
		must(c.AddMarker(hooks.BenchmarkEnd, end))
	}
	sess := stop()
	if len(sess.Benchmarks) != len(uris) || len(sess.Markers) != 2*len(uris) || len(sess.UnmatchedMarkers) != 0 {
		t.Fatalf("session %+v", sess)
	}
	for i, b := range sess.Benchmarks {
		if b.URI != uris[i] || len(b.Intervals) != 1 || len(b.Markers) != 2 {
			t.Fatalf("benchmark %d: %+v", i, b)
		}
		iv := b.Intervals[0]
		for _, m := range b.Markers {
			if m.Marker.Ns < iv.StartNs || m.Marker.Ns > iv.StopNs {
				t.Fatalf("%s: marker %+v outside its region %+v", b.URI, m.Marker, iv)
			}
			// They arrived after the URI: matched by time, not by order.
			if m.ReceivedNs < b.AnnouncedNs {
				t.Fatalf("%s: marker received before the URI", b.URI)
			}
		}
		if b.Markers[0].Marker.Kind != hooks.BenchmarkStart || b.Markers[1].Marker.Kind != hooks.BenchmarkEnd {
			t.Fatalf("%s: kinds %+v", b.URI, b.Markers)
		}
	}

	path := filepath.Join(t.TempDir(), "session.json")
	if err := hooks.WriteSession(path, sess); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Benchmarks []struct {
			URI     string
			Markers []struct{ Marker hooks.Marker }
		}
		Markers []hooks.MarkerEvent `json:"markers"`
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(back.Markers) != 6 || len(back.Benchmarks) != 3 {
		t.Fatalf("session file lost markers:\n%s", data)
	}
	for i, b := range back.Benchmarks {
		if len(b.Markers) != 2 || b.Markers[0].Marker != sess.Benchmarks[i].Markers[0].Marker {
			t.Fatalf("session file: %s markers %+v", b.URI, b.Markers)
		}
	}
	if !strings.Contains(string(data), `"Kind": "BenchmarkStart"`) {
		t.Fatalf("marker kinds not named in the session file:\n%s", data)
	}
}

// TestLockFileIsOpenedSafely plants what a local user could leave at the
// lock's path in /tmp: the runner (root) must neither follow a symlink nor
// write into another file through a hard link, and must not write its pid
// into a lock file someone else owns.
func TestLockFileIsOpenedSafely(t *testing.T) {
	plant := func(t *testing.T, how string) (dir, victim string) {
		dir = t.TempDir()
		victim = filepath.Join(dir, "victim")
		if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(dir, hooks.LockName)
		switch how {
		case "symlink":
			if err := os.Symlink(victim, lock); err != nil {
				t.Fatal(err)
			}
		case "dangling symlink":
			victim = filepath.Join(dir, "created-through-the-link")
			if err := os.Symlink(victim, lock); err != nil {
				t.Fatal(err)
			}
		case "hard link":
			if err := os.Link(victim, lock); err != nil {
				t.Fatal(err)
			}
		case "fifo":
			if err := unix.Mkfifo(lock, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir, victim
	}
	for _, how := range []string{"symlink", "dangling symlink", "hard link", "fifo"} {
		t.Run(how, func(t *testing.T) {
			dir, victim := plant(t, how)
			done := make(chan error, 1)
			go func() {
				srv, err := hooks.NewServer(dir, nil)
				if err == nil {
					srv.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("NewServer hung on the planted lock file")
			}
			if !errors.Is(err, hooks.ErrUnsafeLock) {
				t.Fatalf("NewServer = %v, want ErrUnsafeLock", err)
			}
			if !strings.Contains(err.Error(), "remove it") {
				t.Fatalf("the error does not say what to do: %v", err)
			}
			data, rerr := os.ReadFile(victim)
			switch how {
			case "dangling symlink":
				if !errors.Is(rerr, os.ErrNotExist) {
					t.Fatalf("a file was created through the symlink: %q %v", data, rerr)
				}
			case "fifo":
			default:
				if string(data) != "precious\n" {
					t.Fatalf("the link's target was written: %q %v", data, rerr)
				}
			}
		})
	}

	t.Run("owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the lock file to another user")
		}
		dir := t.TempDir()
		lock := filepath.Join(dir, hooks.LockName)
		if err := os.WriteFile(lock, []byte("theirs\n"), 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(lock, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		srv, err := hooks.NewServer(dir, nil)
		if err != nil {
			t.Fatalf("a plain lock file of another user must still serialise runs: %v", err)
		}
		defer srv.Close()
		if data, _ := os.ReadFile(lock); string(data) != "theirs\n" {
			t.Fatalf("root wrote into another user's file: %q", data)
		}
	})

	t.Run("created private to writers", func(t *testing.T) {
		dir := t.TempDir()
		old := unix.Umask(0)
		srv, err := hooks.NewServer(dir, nil)
		unix.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		fi, err := os.Lstat(filepath.Join(dir, hooks.LockName))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
			t.Fatalf("lock file mode %v, want a regular 0644 file (others may read it to wait, none may write)", fi.Mode())
		}
	})
}

// TestWaitForAnotherRunSaysSo: a second run waits for the first, says whom
// it waits for, and stops waiting when cancelled.
func TestWaitForAnotherRunSaysSo(t *testing.T) {
	dir := t.TempDir()
	first, err := hooks.NewServer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var notices []string
	var mu sync.Mutex
	notice := hooks.WithWaitNotice(func(msg string) {
		mu.Lock()
		notices = append(notices, msg)
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = hooks.NewServerContext(ctx, dir, nil, hooks.WithLockWait(hooks.WaitForever), notice)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait = %v, want the context's error", err)
	}
	mu.Lock()
	if len(notices) != 1 || !strings.Contains(notices[0], fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(notices[0], "waiting for another codspeed run") {
		t.Fatalf("notices %q", notices)
	}
	notices = nil
	mu.Unlock()

	go func() {
		time.Sleep(100 * time.Millisecond)
		first.Close()
	}()
	second, err := hooks.NewServerContext(context.Background(), dir, nil, hooks.WithLockWait(hooks.WaitForever), notice)
	if err != nil {
		t.Fatal(err)
	}
	second.Close()
	if len(notices) != 1 {
		t.Fatalf("notices %q", notices)
	}
}
