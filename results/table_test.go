package results

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// checkTableGolden compares got with testdata/<name> (testenv.Golden).
func checkTableGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got)
}

// tableWallBench makes a walltime benchmark from round times through ComputeStats,
// so the tables show figures the real pipeline produces.
func tableWallBench(name string, perIter ...float64) Benchmark {
	s := ComputeStats(perIter, 1, 0)
	return Benchmark{Name: name, URI: "exec_harness::" + name, Stats: &s, Samples: perIter}
}

func tableSpread(center, step float64, n int, extra ...float64) []float64 {
	out := make([]float64, 0, n+len(extra))
	for i := range n {
		out = append(out, center+step*float64(i%7-3))
	}
	return append(out, extra...)
}

var tableLongName = "./bin/benchmark-with-a-very-long-command-line --input testdata/large-input-file.bin --iterations 1000"

func TestRenderTableGolden(t *testing.T) {
	sim := func(name string, ir, l1, ll float64) Benchmark {
		cycles := ir + 10*l1 + 100*ll
		return Benchmark{Name: name, Simulation: &SimulationStats{
			Instructions: ir, L1Misses: l1, LLMisses: ll, EstimatedCycles: cycles, TimeNs: cycles / 3,
			CostModel: CostModel{Name: "kcachegrind", InstructionWeight: 1, L1MissWeight: 10, LLMissWeight: 100, FrequencyGHz: 3},
		}}
	}
	mem := func(name string, peak, total, allocs, frees float64) Benchmark {
		return Benchmark{Name: name, Memory: &MemoryStats{PeakBytes: peak, TotalAllocatedBytes: total, AllocCalls: allocs, FreeCalls: frees}}
	}
	failed := Benchmark{Name: "./bin/crash --now", Error: "exit status 2: segmentation fault\nstderr: core dumped"}

	tests := []struct {
		golden     string
		instrument string
		benches    []Benchmark
	}{
		{"table_walltime.golden", Walltime, []Benchmark{
			tableWallBench("fast op", tableSpread(812, 3, 100)...),
			tableWallBench("sleep 0.05", tableSpread(50.3e6, 2e5, 30, 61e6, 75e6)...),
			tableWallBench(tableLongName, tableSpread(1.234e9, 1e7, 5)...),
			tableWallBench("name\twith\x1b[31mescapes", 1500, 1600),
			failed,
			{Name: "no figures"},
		}},
		{"table_walltime_single.golden", Walltime, []Benchmark{tableWallBench("fast op", tableSpread(812, 3, 100, 2000, 2100)...)}},
		{"table_failed_single.golden", Walltime, []Benchmark{failed}},
		{"table_simulation.golden", Simulation, []Benchmark{
			sim("BenchmarkParse", 1234567, 1234, 56),
			sim("BenchmarkParse/small", 812, 3, 0),
			failed,
			sim("BenchmarkEncode/json/large-document", 4.2e9, 3.1e6, 2.2e5),
		}},
		{"table_simulation_single.golden", Simulation, []Benchmark{sim("BenchmarkParse", 1234567, 1234, 56)}},
		{"table_memory.golden", Memory, []Benchmark{
			mem("alloc-heavy", 3<<20, 1.5*(1<<30), 1234567, 1234000),
			mem("BenchmarkSmall", 24.5, 48, 1, 1),
			failed,
		}},
		{"table_memory_single.golden", Memory, []Benchmark{mem("alloc-heavy", 3<<20, 1.5*(1<<30), 1234567, 1234000)}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := RenderTable(&buf, tt.instrument, tt.benches); err != nil {
				t.Fatal(err)
			}
			checkTableGolden(t, tt.golden, buf.Bytes())
		})
	}
}

func TestRenderTableShape(t *testing.T) {
	var buf bytes.Buffer
	benches := []Benchmark{tableWallBench("a", 1, 2, 3), tableWallBench(tableLongName, 10, 20, 30), tableWallBench("ü", 100, 200, 300)}
	if err := RenderTable(&buf, Walltime, benches); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2+len(benches) {
		t.Fatalf("got %d lines, want header, rule and %d rows:\n%s", len(lines), len(benches), buf.String())
	}
	// Every line of a table without failures has the same width in runes,
	// and the long name is shortened to exactly the limit.
	width := utf8.RuneCountInString(lines[0])
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n != width {
			t.Errorf("line %q is %d runes wide, header is %d", l, n, width)
		}
	}
	name := string([]rune(lines[3])[:maxNameRunes])
	if utf8.RuneCountInString(name) != maxNameRunes || !strings.Contains(name, "…") {
		t.Errorf("long name shown as %q (%d runes), want %d runes with an ellipsis", name, utf8.RuneCountInString(name), maxNameRunes)
	}
	if !strings.HasPrefix(name, tableLongName[:29]) || !strings.HasSuffix(name, tableLongName[len(tableLongName)-30:]) {
		t.Errorf("long name %q does not keep the start and the end of %q", name, tableLongName)
	}
}

func TestRenderTableEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderTable(&buf, Memory, nil); err != nil || buf.Len() != 0 {
		t.Errorf("no benchmarks: wrote %q, err %v; want nothing", buf.String(), err)
	}
}

func TestRenderTableUnknownInstrument(t *testing.T) {
	err := RenderTable(&bytes.Buffer{}, "perf", []Benchmark{{Name: "x"}})
	if err == nil || !strings.Contains(err.Error(), `"perf"`) {
		t.Fatalf("err = %v, want one naming the unknown instrument", err)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name       string
		instrument string
		b          Benchmark
		want       []string // substrings, one per expected warning
	}{
		{"quiet", Walltime, tableWallBench("quiet", tableSpread(1000, 1, 50)...), nil},
		{"noisy", Walltime, tableWallBench("noisy", tableSpread(1000, 1, 40, 5000, 6000, 7000)...),
			[]string{"noisy: 3 of 43 rounds are outliers; the machine is noisy: close other programs or pin the benchmark with --cpus",
				"noisy: the standard deviation is"}},
		{"noisy but pinned", Walltime, pinned(tableWallBench("noisy", tableSpread(1000, 1, 40, 5000, 6000, 7000)...), "local", "3"),
			[]string{"noisy: 3 of 43 rounds are outliers; the machine is noisy: close other programs (it already ran pinned to CPU 3;",
				"of the mean; the results are unstable: run on a quieter machine, or raise --max-time"}},
		{"noisy, unpinned", Walltime, pinned(tableWallBench("noisy", tableSpread(1000, 1, 40, 5000, 6000, 7000)...), "none", ""),
			[]string{"close other programs or pin the benchmark with --cpus", "pin the benchmark with --cpus, or raise --max-time"}},
		{"one outlier is no pattern", Walltime, tableWallBench("x", tableSpread(1000, 1, 40, 1100)...), nil},
		{"unstable", Walltime, tableWallBench("unstable", 100, 150, 200, 250, 300, 120, 180), []string{"standard deviation is 38.3% of the mean"}},
		{"few rounds", Walltime, tableWallBench("few", 100, 101, 100), []string{"few: only 3 rounds were measured, too few for reliable statistics: raise --min-rounds or --max-time"}},
		{"one round", Walltime, tableWallBench("one", 100), []string{"only 1 round was measured"}},
		{"no stats", Walltime, Benchmark{Name: "empty"}, []string{"empty: no rounds were measured"}},
		{"failed", Walltime, Benchmark{Name: "f", Error: "boom"}, nil},
		{"no instructions", Simulation, Benchmark{Name: "s", Simulation: &SimulationStats{}}, []string{"no instructions were counted"}},
		{"instructions", Simulation, Benchmark{Name: "s", Simulation: &SimulationStats{Instructions: 5}}, nil},
		{"no allocations", Memory, Benchmark{Name: "m", Memory: &MemoryStats{}}, []string{"no allocation or free was seen"}},
		{"allocations", Memory, Benchmark{Name: "m", Memory: &MemoryStats{AllocCalls: 3}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Warnings(tt.instrument, tt.b)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d warnings %q, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func pinned(b Benchmark, kind, cpus string) Benchmark {
	b.Sandbox = &Sandbox{Kind: kind, CPUs: cpus}
	return b
}

// TestGoMemoryPeakNotMeasured: a Go benchmark's peak covers C allocations
// only; without any it reads "-" (not measured), not "0 B".
func TestGoMemoryPeakNotMeasured(t *testing.T) {
	benches := []Benchmark{
		{Name: "pure Go", GoBench: &GoBench{Iterations: 10}, Memory: &MemoryStats{TotalAllocatedBytes: 4096, AllocCalls: 1, PerIteration: true}},
		{Name: "cgo", GoBench: &GoBench{Iterations: 10}, Memory: &MemoryStats{PeakBytes: 2048, TotalAllocatedBytes: 4096, AllocCalls: 1, PerIteration: true}},
		{Name: "C", Memory: &MemoryStats{TotalAllocatedBytes: 4096, AllocCalls: 1}},
	}
	var b strings.Builder
	if err := RenderTable(&b, Memory, benches); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for _, want := range []struct{ name, peak string }{{"pure Go", "-"}, {"cgo", "2.00 KiB"}, {"C", "0 B"}} {
		found := false
		for _, l := range lines {
			if f := strings.Fields(strings.TrimPrefix(l, want.name)); strings.HasPrefix(l, want.name) && len(f) > 0 {
				found = true
				if got := strings.Join(f[:len(strings.Fields(want.peak))], " "); got != want.peak {
					t.Errorf("%s: peak %q, want %q\n%s", want.name, got, want.peak, b.String())
				}
			}
		}
		if !found {
			t.Errorf("no row for %s:\n%s", want.name, b.String())
		}
	}
}
