package results_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
	"github.com/codspeed-go/codspeed-go/testenv"
)

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", "compare", name), got)
}

func rounds(center float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = center * (1 + 0.001*float64(i%9-4))
	}
	return out
}

func wallBench(name string, center float64, folded string) results.Benchmark {
	s := rounds(center, 40)
	st := results.ComputeStats(s, 1, 0)
	b := results.Benchmark{Name: name, URI: "exec_harness::" + name, Stats: &st, Samples: s}
	if folded != "" {
		b.Profile = &results.Profile{Folded: folded, Event: "samples"}
	}
	return b
}

// sampleComparison is a comparison with every verdict, built by
// results/compare from benchmarks as the instruments write them.
func sampleComparison(t *testing.T) *results.Comparison {
	dir, _ := filepath.Abs(filepath.Join("testdata", "compare"))
	mem := func(peak, total, allocs float64) results.Benchmark {
		return results.Benchmark{Name: "alloc", URI: "alloc", Memory: &results.MemoryStats{PeakBytes: peak, TotalAllocatedBytes: total, AllocCalls: allocs}}
	}
	sim := func(ir, ns float64) results.Benchmark {
		return results.Benchmark{Name: "parse", URI: "parse", Simulation: &results.SimulationStats{Instructions: ir, L1Misses: 1200, LLMisses: 30, TimeNs: ns, CostModel: results.CostModel{Name: "x86"}}}
	}
	side := func(label string, wall []results.Benchmark, m, s results.Benchmark) *compare.Side {
		return &compare.Side{Ref: results.RunRef{Label: label, RunID: label + "-run", Git: results.GitInfo{Commit: strings.Repeat(label[:1], 40)}},
			Parts: []compare.Part{
				{File: &results.File{Instrument: results.Instrument{Type: results.Walltime}, Benchmarks: wall}, ProfileFolder: dir},
				{File: &results.File{Instrument: results.Instrument{Type: results.Memory}, Benchmarks: []results.Benchmark{m}}, ProfileFolder: dir},
				{File: &results.File{Instrument: results.Instrument{Type: results.Simulation}, Benchmarks: []results.Benchmark{s}}, ProfileFolder: dir},
			}}
	}
	base := side("base", []results.Benchmark{
		wallBench("sieve 2M", 14e6, "base.folded"), wallBench("fast | op <b>", 812, ""), wallBench("gone", 5e3, ""),
		wallBench("crashes", 2e6, ""), wallBench("speedup", 1e6, ""),
	}, mem(1<<20, 4<<20, 100), sim(1.2e6, 400))
	crash := results.Benchmark{Name: "crashes", URI: "exec_harness::crashes", Error: "exit status 139: segmentation fault"}
	head := side("head", []results.Benchmark{
		wallBench("sieve 2M", 14.9e6, "head.folded"), wallBench("fast | op <b>", 815, ""), wallBench("added", 9e3, ""),
		crash, wallBench("speedup", 0.8e6, ""),
	}, mem(1<<20, 4<<20, 120), sim(1.21e6, 403))
	// One benchmark with thresholds of its own, as codspeed.yml can give.
	limits := func(instrument string, b *results.Benchmark) compare.Limits {
		if b.Name == "speedup" {
			return compare.Limits{Regression: 0.10, Improvement: 0.15}
		}
		return compare.DefaultLimits(instrument)
	}
	return compare.Compare(base, head, compare.Options{Limits: limits})
}

func TestComparisonRenderersGolden(t *testing.T) {
	c := sampleComparison(t)
	var table, colored, md, js bytes.Buffer
	if err := results.RenderComparisonTable(&table, c, false); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "table.golden", table.Bytes())
	if err := results.RenderComparisonTable(&colored, c, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colored.String(), "\x1b[31mregressed") || strings.Contains(table.String(), "\x1b[") {
		t.Fatalf("colour only when asked:\n%s", colored.String())
	}
	if err := results.RenderMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "markdown.golden", md.Bytes())
	if strings.Contains(md.String(), "<b>") || !strings.Contains(md.String(), `fast \| op &lt;b&gt;`) {
		t.Fatalf("benchmark name not escaped in Markdown:\n%s", md.String())
	}
	if err := results.RenderComparisonJSON(&js, c); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Regressed  bool                      `json:"regressed"`
		Counts     map[string]int            `json:"counts"`
		Benchmarks []results.BenchmarkChange `json:"benchmarks"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not read back: %v\n%s", err, js.String())
	}
	if !back.Regressed || back.Counts["regressed"] != 2 || back.Counts["failed"] != 1 || back.Counts["new"] != 1 || back.Counts["missing"] != 1 || back.Counts["improved"] != 1 {
		t.Fatalf("counts %+v regressed %v", back.Counts, back.Regressed)
	}
}

func TestRenderHTML(t *testing.T) {
	c := sampleComparison(t)
	var buf bytes.Buffer
	if err := results.RenderHTML(&buf, c); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{"<table", "sieve 2M", "fast | op &lt;b&gt;", "regressed", "Differential flame graph", "<svg", "main;sieve;mark"} {
		if want == "main;sieve;mark" {
			want = "mark" // frame names appear in the SVG
		}
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<b>", "http://", "https://", "src=\""} {
		if bad == "http://" && strings.Count(html, "http://www.w3.org") == strings.Count(html, "http://") {
			continue // SVG namespace, not a fetch
		}
		if strings.Contains(html, bad) {
			t.Errorf("HTML has %q: not self-contained or not escaped", bad)
		}
	}
}
