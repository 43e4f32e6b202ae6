package perf

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

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
	var raw bytes.Buffer
	if err := rec.WriteRaw(&raw); err != nil {
		b.Fatal(err)
	}
	samples := 0
	for _, r := range rec.Records {
		if r.Kind == KindSample {
			samples++
		}
	}
	b.SetBytes(int64(raw.Len()))
	b.ResetTimer()
	for b.Loop() {
		back, err := ReadRaw(bytes.NewReader(raw.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		ps := back.Symbolize("")
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
	b.ReportMetric(float64(raw.Len())/float64(samples), "B/sample")
}
