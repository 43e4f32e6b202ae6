package perf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results/flamegraph"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// probeOrSkip returns the host's capability. The CI host is root and can
// always sample; elsewhere the reason is printed.
func probeOrSkip(t *testing.T) Capability {
	t.Helper()
	c, err := Probe()
	if err != nil {
		testenv.Missing(t, "this host cannot sample: %v", err)
	}
	return c
}

// buildPrimes compiles examples/c/primes.c with cflags into the test's
// temporary directory.
func buildPrimes(t *testing.T, name string, cflags ...string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		testenv.Missing(t, "no C compiler")
	}
	out := filepath.Join(t.TempDir(), name)
	args := append(append([]string{}, cflags...), "-o", out, "../../examples/c/primes.c")
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %v: %v\n%s", args, err, b)
	}
	return out
}

// record runs each command through a Session's Launcher, one after the other
// like the exec harness's rounds, and returns the recording.
func record(t *testing.T, c Config, cmds ...[]string) *Recording {
	t.Helper()
	return recordB(t, c, cmds...)
}

func execCommand(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

func recordB(t testing.TB, c Config, cmds ...[]string) *Recording {
	t.Helper()
	s, err := Start(c)
	if err != nil {
		t.Fatal(err)
	}
	l := s.Launcher(instruments.Direct)
	for _, argv := range cmds {
		cmd := exec.Command(argv[0], argv[1:]...)
		if err := l.Start(cmd); err != nil {
			s.Stop()
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			s.Stop()
			t.Fatalf("%v: %v", argv, err)
		}
	}
	rec, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// frameShare is the fraction of samples with a frame named fn.
func frameShare(p *flamegraph.Profile, fn string) float64 {
	var n float64
	for _, s := range p.Stacks() {
		for _, f := range s.Frames {
			if f == fn {
				n += s.Value
				break
			}
		}
	}
	if p.Total() == 0 {
		return 0
	}
	return n / p.Total()
}

func folded(p *flamegraph.Profile) string {
	var b strings.Builder
	p.WriteFolded(&b)
	return b.String()
}

func TestSessionFramePointerNamesHotFunction(t *testing.T) {
	c := probeOrSkip(t)
	bin := buildPrimes(t, "primes", "-O2", "-g", "-fno-inline", "-fno-omit-frame-pointer")
	rec := record(t, Config{Event: c.Event, Unwinding: FramePointer},
		[]string{bin, "2000000", "10"}, []string{bin, "2000000", "10"})
	ps := rec.Symbolize("")
	if ps.Samples < 20 {
		t.Fatalf("%d samples, want at least 20 for ~100 ms of CPU", ps.Samples)
	}
	if share := frameShare(ps.Whole, "count_primes"); share < 0.8 {
		t.Errorf("count_primes in %.0f%% of samples, want most:\n%s", share*100, folded(ps.Whole))
	}
	// The caller is there too: frame pointers were followed.
	if share := frameShare(ps.Whole, "main"); share < 0.8 {
		t.Errorf("main in %.0f%% of samples, want most:\n%s", share*100, folded(ps.Whole))
	}
	t.Logf("%s: %d samples\n%s", rec.Event, ps.Samples, folded(ps.Whole))
	_ = os.Stdout
}

// Built without frame pointers, only DWARF unwinding finds the caller of
// the hot function; with frame pointers, both modes do.
func TestUnwindingModes(t *testing.T) {
	c := probeOrSkip(t)
	fp := buildPrimes(t, "primes-fp", "-O2", "-g", "-fno-inline", "-fno-omit-frame-pointer")
	nofp := buildPrimes(t, "primes-nofp", "-O2", "-g", "-fno-inline", "-fomit-frame-pointer")
	for _, tc := range []struct {
		name     string
		bin      string
		mode     Unwinding
		wantMain bool
	}{
		{"fp/fp", fp, FramePointer, true},
		{"fp/dwarf", fp, DWARF, true},
		{"nofp/dwarf", nofp, DWARF, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := record(t, Config{Event: c.Event, Unwinding: tc.mode}, []string{tc.bin, "2000000", "10"})
			ps := rec.Symbolize("")
			if share := frameShare(ps.Whole, "count_primes"); share < 0.8 {
				t.Errorf("count_primes in %.0f%% of samples:\n%s", share*100, folded(ps.Whole))
			}
			if share := frameShare(ps.Whole, "main"); tc.wantMain && share < 0.8 {
				t.Errorf("main in %.0f%% of samples:\n%s", share*100, folded(ps.Whole))
			}
			t.Logf("%d samples\n%s", ps.Samples, folded(ps.Whole))
		})
	}
}

// BeginBenchmark and EndBenchmark bound each benchmark's profile, and
// sampling is off in between, as the instrument-hooks server drives them.
func TestBenchmarkBoundaries(t *testing.T) {
	c := probeOrSkip(t)
	bin := buildPrimes(t, "primes", "-O2", "-fno-inline", "-fno-omit-frame-pointer")
	other := buildPrimes(t, "other", "-O2", "-fno-inline", "-fno-omit-frame-pointer")
	s, err := Start(Config{Event: c.Event})
	if err != nil {
		t.Fatal(err)
	}
	l := s.Launcher(nil)
	run := func(path string, repeat string) {
		cmd := exec.Command(path, "2000000", repeat)
		if err := l.Start(cmd); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	run(other, "4") // before any benchmark: the whole run only
	if err := s.BeginBenchmark("c::first"); err != nil {
		t.Fatal(err)
	}
	run(bin, "4")
	if err := s.EndBenchmark(); err != nil {
		t.Fatal(err)
	}
	// Disabled: not sampled at all. Ten times the work of the runs around
	// it, so that sampling it could not pass for noise.
	run(other, "40")
	s.BeginBenchmark("c::second")
	run(other, "4")
	s.EndBenchmark()
	// A process that starts while sampling is off and is sampled later
	// still gets names: its mappings were recorded all along.
	late := exec.Command(bin, "2000000", "20")
	if err := l.Start(late); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	s.BeginBenchmark("c::late")
	if err := late.Wait(); err != nil {
		t.Fatal(err)
	}
	s.EndBenchmark()
	rec, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	ps := rec.Symbolize("")
	if len(ps.Benchmarks) != 3 || ps.Benchmarks[0].URI != "c::first" || ps.Benchmarks[1].URI != "c::second" || ps.Benchmarks[2].URI != "c::late" {
		t.Fatalf("benchmarks %+v", ps.Benchmarks)
	}
	if late := ps.Benchmarks[2].Profile; frameShare(late, "count_primes") < 0.8 {
		t.Errorf("process started while disabled:\n%s", folded(late))
	}
	first, second := ps.Benchmarks[0].Profile, ps.Benchmarks[1].Profile
	if frameShare(first, "primes") != 1 || frameShare(second, "other") != 1 {
		t.Errorf("attribution:\nfirst:\n%s\nsecond:\n%s", folded(first), folded(second))
	}
	if frameShare(first, "count_primes") < 0.8 {
		t.Errorf("first:\n%s", folded(first))
	}
	// Whole = first + second + the run before any benchmark; the run while
	// disabled (ten times the work) adds nothing. The run before any
	// benchmark is about the work of the second, give or take its cold
	// start and a loaded host's stolen time (seen: 1.7 times).
	otherOutside := ps.Whole.Total() - first.Total() - second.Total() - ps.Benchmarks[2].Profile.Total()
	if otherOutside < 0.5*second.Total() || otherOutside > 3*second.Total() {
		t.Errorf("samples outside benchmarks: %v, one run of other: %v (the disabled run was sampled?)", otherOutside, second.Total())
	}
}

// TestLeaderExitsFirst: a process whose main thread exits before its other
// threads is still profiled to the end (perf reports the leader's exit as
// the process's).
func TestLeaderExitsFirst(t *testing.T) {
	c := probeOrSkip(t)
	cc, err := exec.LookPath("cc")
	if err != nil {
		testenv.Missing(t, "no C compiler")
	}
	bin := filepath.Join(t.TempDir(), "leader_exit")
	if b, err := exec.Command(cc, "-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", bin, "testdata/leader_exit.c").CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, b)
	}
	rec := record(t, Config{Event: c.Event, Unwinding: FramePointer}, []string{bin})
	ps := rec.Symbolize("")
	if share := frameShare(ps.Whole, "burn"); ps.Samples < 10 || share < 0.8 {
		t.Errorf("%d samples, burn in %.0f%% of them; want most of ~200 ms of CPU:\n%s", ps.Samples, share*100, folded(ps.Whole))
	}
}
