package simulation

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// needValgrind skips when the host lacks valgrind; the CI host has it.
func needValgrind(t *testing.T) *Instrument {
	t.Helper()
	in := New(Options{})
	if err := in.Check(); err != nil {
		if errors.Is(err, instruments.ErrNotSupported) {
			testenv.Missing(t, "simulation not supported here: %v", err)
		}
		t.Fatal(err)
	}
	return in
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// cProgram compiles testdata/<name>.c (once per test binary).
func cProgram(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "simtest-")
		if buildErr != nil {
			return
		}
		for _, n := range []string{"benches", "known"} {
			out, err := exec.Command("cc", "-O1", "-g", "-o", filepath.Join(buildDir, n), filepath.Join("testdata", n+".c")).CombinedOutput()
			if err != nil {
				buildErr = errors.New(string(out))
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("compile C test programs (needs cc and valgrind/callgrind.h from the valgrind package): %v", buildErr)
	}
	return filepath.Join(buildDir, name)
}

type recorder struct {
	mu    sync.Mutex
	warns []string
}

func (*recorder) Phase(string, string) {}
func (*recorder) Step(int, int)        {}
func (r *recorder) Warn(m string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warns = append(r.warns, m)
}

func testEnv(t *testing.T) instruments.Env {
	pf := t.TempDir()
	if keep := os.Getenv("SIMTEST_KEEP"); keep != "" {
		// Keep the profile folder for inspection.
		var err error
		if pf, err = os.MkdirTemp(keep, "pf-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("profile folder: %s", pf)
	}
	return instruments.Env{
		ProfileFolder: pf,
		Launcher:      instruments.Direct,
		BaseEnv:       append(os.Environ(), "CODSPEED_ENV=runner", "CODSPEED_RUNNER_MODE=instrumentation"),
		Stdout:        testWriter{t},
		Stderr:        testWriter{t},
		Progress:      &recorder{},
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func measure(t *testing.T, in *Instrument, tg instruments.Target) ([]results.Benchmark, instruments.Env) {
	t.Helper()
	env := testEnv(t)
	bs, err := in.Measure(context.Background(), tg, env)
	if err != nil {
		skipIfUprobed(t, err.Error())
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Error != "" {
			skipIfUprobed(t, b.Error)
			t.Fatalf("%s: %s", b.URI, b.Error)
		}
	}
	return bs, env
}

// sameCounts compares everything simulated; sys_ns is wall time spent in
// system calls and is not expected to repeat.
func sameCounts(a, b results.SimulationStats) bool {
	a.SysNs, b.SysNs = 0, 0
	return a == b
}

// skipIfUprobed skips when valgrind could not run the program because a
// uprobe was attached to a library function at that moment (another
// process's eBPF tracing, e.g. the memory instrument's tests running in
// parallel): the host cannot run valgrind then, and the error says so.
func skipIfUprobed(t *testing.T, msg string) {
	t.Helper()
	if strings.Contains(msg, SigtrapHintPrefix) {
		testenv.Missing(t, "valgrind cannot run now: a uprobe is attached to a shared library (run simulation tests apart from eBPF tests): %s", msg)
	}
}

func byURI(bs []results.Benchmark) map[string]results.Benchmark {
	m := map[string]results.Benchmark{}
	for _, b := range bs {
		m[b.URI] = b
	}
	return m
}

// TestEntrypointClientRequests: a C program marking three benchmarks with
// callgrind client requests yields each by its URI, with its own figures,
// its folded stacks and the raw file; the Metadata dump names the
// integration and is not a benchmark. Measured twice, the counts are
// identical.
func TestEntrypointClientRequests(t *testing.T) {
	in := needValgrind(t)
	bin := cProgram(t, "benches")
	tg := instruments.Target{Name: "benches", Kind: instruments.Entrypoint, Command: bin, Args: []string{bin}}
	first, env := measure(t, in, tg)
	if got := in.LastIntegrations; len(got) != 1 || got[0] != (Integration{"c-test-harness", "1.2.3"}) {
		t.Errorf("integrations = %+v", got)
	}
	second, _ := measure(t, in, tg)
	want := []string{"testdata/benches.c::fib20", "testdata/benches.c::sort_10000", "testdata/benches.c::fib15"}
	if len(first) != len(want) {
		t.Fatalf("got %d benchmarks, want %d: %+v", len(first), len(want), first)
	}
	a, b := byURI(first), byURI(second)
	for _, uri := range want {
		x, ok := a[uri]
		if !ok {
			t.Fatalf("benchmark %s missing", uri)
		}
		if x.Simulation.Instructions <= 0 {
			t.Errorf("%s: no instructions", uri)
		}
		if !sameCounts(*x.Simulation, *b[uri].Simulation) {
			t.Errorf("%s: not deterministic:\n%+v\n%+v", uri, *x.Simulation, *b[uri].Simulation)
		}
		for _, p := range []string{x.Profile.Folded, x.Profile.Raw} {
			if _, err := os.Stat(filepath.Join(env.ProfileFolder, p)); err != nil {
				t.Errorf("%s: artifact: %v", uri, err)
			}
		}
	}
	// fib(20) makes 21891 calls, fib(15) 1973: the ratio of their costs
	// must show it (each call costs the same handful of instructions).
	r := a[want[0]].Simulation.Instructions / a[want[2]].Simulation.Instructions
	if math.Abs(r-21891.0/1973.0) > 0.05*r {
		t.Errorf("fib20/fib15 instruction ratio = %.3f, want about %.3f", r, 21891.0/1973.0)
	}
	if a[want[0]].Name != "fib20" {
		t.Errorf("name = %q", a[want[0]].Name)
	}
	folded, err := os.ReadFile(filepath.Join(env.ProfileFolder, a[want[0]].Profile.Folded))
	if err != nil || !strings.Contains(string(folded), "main;fib ") {
		t.Errorf("folded stacks of fib20 lack main;fib: %q %v", folded, err)
	}
}

// TestGroundTruthEntrypoint: the region between the client requests of
// known.c executes exactly 100000 add instructions.
func TestGroundTruthEntrypoint(t *testing.T) {
	in := needValgrind(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("known.c's asm is x86-64")
	}
	bin := cProgram(t, "known")
	bs, _ := measure(t, in, instruments.Target{Name: "known", Kind: instruments.Entrypoint, Args: []string{bin}})
	if len(bs) != 1 || bs[0].URI != "known::add100000" {
		t.Fatalf("benchmarks = %+v", bs)
	}
	if got := bs[0].Simulation.Instructions; math.Abs(got-100000) > 1000 {
		t.Errorf("instructions = %.0f, want 100000 within 1%%", got)
	}
}

// TestGroundTruthExec: known.c with argument N runs a 2-instruction loop N
// times. The difference between N=2e6 and N=0 is 4e6 instructions, and
// the whole program is within 1% of 2N plus its start-up.
func TestGroundTruthExec(t *testing.T) {
	in := needValgrind(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("known.c's asm is x86-64")
	}
	bin := cProgram(t, "known")
	run := func(n string) results.SimulationStats {
		bs, _ := measure(t, in, instruments.Target{Name: "known " + n, Kind: instruments.Exec, Args: []string{bin, n}})
		if len(bs) != 1 || bs[0].URI != "exec_harness::known "+n {
			t.Fatalf("benchmarks = %+v", bs)
		}
		return *bs[0].Simulation
	}
	base, big, again := run("0"), run("2000000"), run("2000000")
	if !sameCounts(big, again) {
		t.Errorf("exec not deterministic:\n%+v\n%+v", big, again)
	}
	// strtoul reads 7 digits instead of 1: about 100 instructions more.
	if d := big.Instructions - base.Instructions; math.Abs(d-4e6) > 200 {
		t.Errorf("loop cost = %.0f instructions, want 4000000 (+ ~100 for parsing the argument)", d)
	}
	if math.Abs(big.Instructions-4e6) > 0.01*4e6+base.Instructions {
		t.Errorf("total %.0f far from 4e6 + start-up %.0f", big.Instructions, base.Instructions)
	}
	t.Logf("start-up of known.c (ld.so, libc init, exit): %.0f instructions", base.Instructions)
	cm := DefaultCostModel()
	wantCycles := big.Instructions + 10*big.L1Misses + 100*big.LLMisses
	if big.EstimatedCycles != wantCycles || big.TimeNs != wantCycles/cm.FrequencyGHz || big.CostModel != cm {
		t.Errorf("cost model not applied: %+v", big)
	}
}

// TestExecFailure: a failing command is a benchmark with Error set.
func TestExecFailure(t *testing.T) {
	in := needValgrind(t)
	bin := cProgram(t, "known")
	bs, err := in.Measure(context.Background(), instruments.Target{Name: "fail", Kind: instruments.Exec, Args: []string{bin, "fail"}}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) == 1 {
		skipIfUprobed(t, bs[0].Error)
	}
	if len(bs) != 1 || !strings.Contains(bs[0].Error, "exit status 3") {
		t.Fatalf("benchmarks = %+v", bs)
	}
}

// TestEntrypointWithoutDumps: a command that makes no client request
// reports no benchmark, and says why.
func TestEntrypointWithoutDumps(t *testing.T) {
	in := needValgrind(t)
	_, err := in.Measure(context.Background(), instruments.Target{Name: "true", Kind: instruments.Entrypoint, Args: []string{"true"}}, testEnv(t))
	if err == nil || !strings.Contains(err.Error(), "CALLGRIND_DUMP_STATS_AT") {
		t.Fatalf("err = %v", err)
	}
	// The run loop accepts exactly this with --allow-empty.
	if !errors.Is(err, instruments.ErrNoBenchmarks) {
		t.Fatalf("err = %v, want one wrapping instruments.ErrNoBenchmarks", err)
	}
}

func TestCheckMissingValgrind(t *testing.T) {
	err := New(Options{Valgrind: "/nonexistent/valgrind"}).Check()
	if !errors.Is(err, instruments.ErrNotSupported) || !strings.Contains(err.Error(), "apt-get install valgrind") {
		t.Fatalf("err = %v", err)
	}
}

func TestProbe(t *testing.T) {
	in := needValgrind(t)
	p, _ := in.Probe()
	if p.Version == "" || p.Valgrind == "" {
		t.Fatalf("probe = %+v", p)
	}
	t.Logf("probe: %+v", p)
}

// TestMain removes the programs built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// TestPersonalityRefused: where the kernel refuses setarch's
// personality(ADDR_NO_RANDOMIZE) (Docker's default seccomp profile), the
// probe does not fail: the run goes on with address randomisation on, says
// so once, and records why in each benchmark; the counts are those of a run
// with it off (valgrind lays out the program's memory itself). The two runs
// see a PATH of the same length, so that the environment's size, which the
// program's start-up reads, is the same.
func TestPersonalityRefused(t *testing.T) {
	needValgrind(t)
	bin := cProgram(t, "known")
	real, err := exec.LookPath("setarch")
	if err != nil {
		testenv.Missing(t, "no setarch (util-linux)")
	}
	dir := t.TempDir()
	refused, allowed := filepath.Join(dir, "r"), filepath.Join(dir, "a")
	os.Mkdir(refused, 0o755)
	os.Mkdir(allowed, 0o755)
	os.WriteFile(filepath.Join(refused, "setarch"), []byte("#!/bin/sh\necho 'setarch: failed to set personality to x86_64: Operation not permitted' >&2\nexit 1\n"), 0o755)
	if err := os.Symlink(real, filepath.Join(allowed, "setarch")); err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("PATH")
	counts := map[string]results.SimulationStats{}
	for _, d := range []string{allowed, refused} {
		t.Setenv("PATH", d+":"+path)
		in := New(Options{})
		p, err := in.Probe()
		if err != nil {
			t.Fatalf("probe with %s: %v", d, err)
		}
		rec := &recorder{}
		env := testEnv(t)
		env.Progress = rec
		bs, err := in.Measure(context.Background(), instruments.Target{Name: "known", Kind: instruments.Exec, Args: []string{bin, "10000"}}, env)
		if err != nil || len(bs) != 1 || bs[0].Simulation == nil {
			t.Fatalf("%s: %v %+v", d, err, bs)
		}
		// A second target: the note is said once per run, not per target.
		if _, err := in.Measure(context.Background(), instruments.Target{Name: "known", Kind: instruments.Exec, Args: []string{bin, "10000"}}, env); err != nil {
			t.Fatal(err)
		}
		sim := *bs[0].Simulation
		warned := rec.warns
		if d == refused {
			if p.Setarch != "" || !strings.Contains(p.ASLR, "seccomp refuses personality(ADDR_NO_RANDOMIZE)") {
				t.Errorf("probe: setarch %q, ASLR %q", p.Setarch, p.ASLR)
			}
			if sim.AddressRandomization != p.ASLR {
				t.Errorf("results say address_randomization %q, want %q", sim.AddressRandomization, p.ASLR)
			}
			if len(warned) != 1 || !strings.Contains(warned[0], "address randomisation stays on") || !strings.Contains(warned[0], "seccomp-profile") {
				t.Errorf("warnings %q, want one naming randomisation and the seccomp profile", warned)
			}
		} else {
			if p.Setarch == "" || p.ASLR != "" || sim.AddressRandomization != "" || len(warned) != 0 {
				t.Errorf("setarch allowed: probe %+v, results %q, warnings %q", p, sim.AddressRandomization, warned)
			}
		}
		sim.AddressRandomization = ""
		counts[d] = sim
	}
	if !sameCounts(counts[allowed], counts[refused]) {
		t.Errorf("counts with randomisation off %+v, on %+v", counts[allowed], counts[refused])
	}
}
