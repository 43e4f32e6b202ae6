package results

import (
	"bytes"
	"strings"
	"testing"
)

// TestTableTellsSameNamesApart: Go benchmarks of one name in two packages
// get their URI's file in front of the name; unique names and names whose
// URIs cannot tell them apart stay as they are.
func TestTableTellsSameNamesApart(t *testing.T) {
	st := &Stats{MedianNs: 100, MeanNs: 100, MinNs: 90, MaxNs: 110, Rounds: 5}
	benches := []Benchmark{
		{Name: "BenchmarkParse/small", URI: "pkg/a/parse_test.go::BenchmarkParse::small", Stats: st},
		{Name: "BenchmarkParse/small", URI: "pkg/b/parse_test.go::BenchmarkParse::small", Stats: st},
		{Name: "BenchmarkOnly", URI: "pkg/a/parse_test.go::BenchmarkOnly", Stats: st},
		{Name: "./run.sh", URI: "exec_harness::./run.sh", Stats: st},
		{Name: "./run.sh", URI: "exec_harness::./run.sh", Stats: st},
	}
	var buf bytes.Buffer
	if err := RenderTable(&buf, Walltime, benches); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	for i, want := range []string{"pkg/a/parse_test.go::BenchmarkParse/small ", "pkg/b/parse_test.go::BenchmarkParse/small ", "BenchmarkOnly ", "./run.sh ", "./run.sh "} {
		if !strings.HasPrefix(lines[i+2], want) {
			t.Errorf("row %d: %q, want it to start with %q", i, lines[i+2], want)
		}
	}

	c := &Comparison{Base: &RunRef{Label: "a"}, Head: RunRef{Label: "b"}, Benchmarks: []BenchmarkChange{
		{Instrument: Walltime, Name: "BenchmarkParse", URI: "x/p_test.go::BenchmarkParse", Verdict: VerdictUnchanged},
		{Instrument: Walltime, Name: "BenchmarkParse", URI: "y/p_test.go::BenchmarkParse", Verdict: VerdictUnchanged},
	}}
	buf.Reset()
	if err := RenderComparisonTable(&buf, c, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "x/p_test.go::BenchmarkParse ") || !strings.Contains(buf.String(), "y/p_test.go::BenchmarkParse ") {
		t.Errorf("comparison table:\n%s", buf.String())
	}
}

// TestNoPinningAdviceWhenPinned: a benchmark its sandbox pinned is not told
// to pin itself with --cpus.
func TestNoPinningAdviceWhenPinned(t *testing.T) {
	for _, kind := range []string{"local", "affinity", "docker"} {
		b := tableWallBench("noisy", tableSpread(1000, 1, 40, 5000, 6000, 7000)...)
		b.Sandbox = &Sandbox{Kind: kind, CPUs: "2-3"}
		ws := Warnings(Walltime, b)
		if len(ws) != 2 {
			t.Fatalf("%s: %q", kind, ws)
		}
		for _, w := range ws {
			if strings.Contains(w, "--cpus") {
				t.Errorf("%s: pinned benchmark told to pin: %s", kind, w)
			}
		}
	}
}
