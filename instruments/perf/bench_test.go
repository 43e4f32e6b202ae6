package perf

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results/flamegraph"
)

// BenchmarkRawToFlamegraph measures profile processing: from the raw sample
// file to folded stacks and an SVG flame graph (read, symbolize with the
// ELF files, fold, draw), on a real recording of ROUNDS (default 20) runs of
// PRIMES (default examples/c/primes.c built here) with arguments 2000000 10.
// scripts/bench-profiling.sh compares it with perf script and a folding
// script on the same workload.
func BenchmarkRawToFlamegraph(b *testing.B) {
	c, err := Probe()
	if err != nil {
		b.Skipf("this host cannot sample: %v", err)
	}
	bin := os.Getenv("PRIMES")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "primes")
		if out, err := execCommand("cc", "-O2", "-g", "-fno-omit-frame-pointer", "-o", bin, "../../examples/c/primes.c"); err != nil {
			b.Skipf("cc: %v\n%s", err, out)
		}
	}
	rounds := 20
	if n, err := strconv.Atoi(os.Getenv("ROUNDS")); err == nil {
		rounds = n
	}
	unw := FramePointer
	if os.Getenv("UNWINDING") == "dwarf" {
		unw = DWARF
	}
	var cmds [][]string
	for range rounds {
		cmds = append(cmds, []string{bin, "2000000", "10"})
	}
	rec := recordB(b, Config{Event: c.Event, Unwinding: unw}, cmds...)
	samples := 0
	for _, r := range rec.Records {
		if r.Kind == KindSample {
			samples++
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ps := rec.Symbolize("")
		if ps.Samples != samples {
			b.Fatalf("%d samples symbolized, %d recorded", ps.Samples, samples)
		}
		if err := ps.Whole.WriteFolded(io.Discard); err != nil {
			b.Fatal(err)
		}
		if err := flamegraph.WriteSVG(io.Discard, ps.Whole, flamegraph.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(samples), "samples")
}

// BenchmarkProfilingOverhead runs PRIMES 2000000 10 (default: the example
// built here with frame pointers) alternately without and with a Session,
// one round each per iteration, so that both see the same machine; it
// reports the median wall time of each, launch to wait as the exec harness
// times a round, and their ratio, and the ratio of the processes' median CPU
// times. UNWINDING=dwarf measures DWARF mode, FREQ sets the frequency.
func BenchmarkProfilingOverhead(b *testing.B) {
	c, err := Probe()
	if err != nil {
		b.Skipf("this host cannot sample: %v", err)
	}
	bin := os.Getenv("PRIMES")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "primes")
		if out, err := execCommand("cc", "-O2", "-g", "-fno-omit-frame-pointer", "-o", bin, "../../examples/c/primes.c"); err != nil {
			b.Skipf("cc: %v\n%s", err, out)
		}
	}
	unw := FramePointer
	if os.Getenv("UNWINDING") == "dwarf" {
		unw = DWARF
	}
	freq, _ := strconv.Atoi(os.Getenv("FREQ"))
	s, err := Start(Config{Event: c.Event, Unwinding: unw, Frequency: freq})
	if err != nil {
		b.Fatal(err)
	}
	profiled := s.Launcher(nil)
	var cpuOff, cpuOn []float64
	round := func(l func(*exec.Cmd) error, cpu *[]float64) time.Duration {
		cmd := &exec.Cmd{Path: bin, Args: []string{bin, "2000000", "10"}}
		start := time.Now()
		if err := l(cmd); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		*cpu = append(*cpu, float64(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()))
		return d
	}
	var off, on []float64
	for b.Loop() {
		// The unprofiled round runs on another goroutine: this one is
		// locked to the thread that carries the events, and everything it
		// forks inherits them. The clock runs inside the goroutine.
		done := make(chan time.Duration)
		go func() { done <- round((*exec.Cmd).Start, &cpuOff) }()
		off = append(off, float64(<-done))
		on = append(on, float64(round(profiled.Start, &cpuOn)))
	}
	b.StopTimer()
	rec, err := s.Stop()
	if err != nil {
		b.Fatal(err)
	}
	rec.Close()
	samples := 0
	for _, r := range rec.Records {
		if r.Kind == KindSample {
			samples++
		}
	}
	slices.Sort(off)
	slices.Sort(on)
	mOff, mOn := off[len(off)/2], on[len(on)/2]
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(mOff/1e6, "ms-median-off")
	b.ReportMetric(mOn/1e6, "ms-median-on")
	b.ReportMetric(mOn/mOff, "ratio")
	b.ReportMetric(float64(samples)/float64(len(on)), "samples/round")
	// CPU time of the benchmark process (user + system) is less disturbed
	// by other load on the machine than wall time.
	slices.Sort(cpuOff)
	slices.Sort(cpuOn)
	b.ReportMetric(cpuOn[len(cpuOn)/2]/cpuOff[len(cpuOff)/2], "cpu-ratio")
}
