package compare

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
)

// TestVerdictRates measures the walltime verdict on real, recorded runs of
// one command on this shared machine (testdata/primes_runs.json, from
// scripts/record-compare-testdata.sh): the false-positive rate over every
// ordered pair of distinct runs (identical conditions: same binary, same
// arguments, minutes apart), and the detection rate when the head's rounds
// are multiplied by 1+s (a synthetic slowdown s on real noise). Run with -v
// to see the table that BENCHMARKS.md quotes. It checks what the design
// claims: comparing the fastest rounds gives fewer false positives than
// comparing all rounds, and detection grows with the slowdown.
func TestVerdictRates(t *testing.T) {
	data, err := os.ReadFile("testdata/primes_runs.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Runs [][]float64 `json:"runs_ns"`
		Load float64     `json:"load"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	runs := make([]results.Benchmark, len(rec.Runs))
	for i, s := range rec.Runs {
		runs[i] = results.Benchmark{Name: "primes", URI: "exec_harness::primes", Samples: s}
	}
	scaled := func(b results.Benchmark, f float64) *results.Benchmark {
		s := make([]float64, len(b.Samples))
		for i, v := range b.Samples {
			s[i] = v * f
		}
		return &results.Benchmark{Name: b.Name, URI: b.URI, Samples: s}
	}
	rate := func(o Options, slowdown float64) float64 {
		hits, n := 0, 0
		for i := range runs {
			for j := range runs {
				if i == j {
					continue
				}
				n++
				if Judge(results.Walltime, &runs[i], scaled(runs[j], 1+slowdown), o).Verdict == results.VerdictRegressed {
					hits++
				}
			}
		}
		return float64(hits) / float64(n)
	}
	slowdowns := []float64{0.01, 0.02, 0.03, 0.05, 0.08, 0.10, 0.15}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d runs of %d rounds, load %.1f on 2 cores; %d ordered pairs\n", len(runs), len(rec.Runs[0]), rec.Load, len(runs)*(len(runs)-1))
	fmt.Fprintf(&sb, "%-22s %9s", "rule", "false pos")
	for _, s := range slowdowns {
		fmt.Fprintf(&sb, "  det %3.0f%%", 100*s)
	}
	sb.WriteString("\n")
	fp := map[string]float64{}
	for _, r := range []struct {
		name string
		tail float64
		thr  float64
	}{
		{"fastest 10%, thr 3%", 0.10, 0.03},
		{"fastest 10%, thr 5%", 0.10, 0.05},
		{"fastest 10%, thr 8%", 0.10, 0.08},
		{"all rounds, thr 5%", 1, 0.05},
	} {
		lim := Limits{r.thr, r.thr}
		o := Options{TailShare: r.tail, Limits: func(string, *results.Benchmark) Limits { return lim }}
		fp[r.name] = rate(o, 0)
		fmt.Fprintf(&sb, "%-22s %8.1f%%", r.name, 100*fp[r.name])
		prev := -1.0
		for _, s := range slowdowns {
			d := rate(o, s)
			fmt.Fprintf(&sb, "  %7.1f%%", 100*d)
			if d+0.02 < prev {
				t.Errorf("%s: detection fell from %.3f to %.3f at %g", r.name, prev, d, s)
			}
			prev = d
		}
		sb.WriteString("\n")
	}
	t.Log("\n" + sb.String())
	if fp["fastest 10%, thr 5%"] > fp["all rounds, thr 5%"] {
		t.Errorf("the fastest rounds gave more false positives (%.3f) than all rounds (%.3f)", fp["fastest 10%, thr 5%"], fp["all rounds, thr 5%"])
	}
}
