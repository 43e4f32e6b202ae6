package compare

import (
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
)

func loadSide(t *testing.T, name string) *Side {
	t.Helper()
	s, err := Resolve(filepath.Join("testdata", name), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func only(t *testing.T, c *results.Comparison) results.BenchmarkChange {
	t.Helper()
	if len(c.Benchmarks) != 1 {
		t.Fatalf("want one benchmark, got %+v", c.Benchmarks)
	}
	return c.Benchmarks[0]
}

// The recorded runs (scripts/record-compare-testdata.sh) are real rounds of
// the C example: base and rerun are the same command, slower does 5% more
// sieving (42 repeats instead of 40; the process start-up is not repeated,
// so the measured slowdown is a little under 5%).
func TestRecordedSlowdown(t *testing.T) {
	three := func(string, *results.Benchmark) Limits { return Limits{0.03, 0.03} }
	tests := []struct {
		base, head string
		limits     func(string, *results.Benchmark) Limits
		want       results.Verdict
	}{
		{"base.json", "rerun.json", nil, results.VerdictUnchanged},
		{"base.json", "rerun.json", three, results.VerdictUnchanged},
		{"rerun.json", "base.json", three, results.VerdictUnchanged},
		{"base.json", "slower.json", three, results.VerdictRegressed},
		{"rerun.json", "slower.json", three, results.VerdictRegressed},
		{"slower.json", "base.json", three, results.VerdictImproved},
	}
	for _, tt := range tests {
		t.Run(tt.base+"->"+tt.head, func(t *testing.T) {
			c := Compare(loadSide(t, tt.base), loadSide(t, tt.head), Options{Limits: tt.limits})
			b := only(t, c)
			if b.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s (change %s, p %v, notes %v)", b.Verdict, tt.want, results.FormatChange(b.Change), *b.P, b.Notes)
			}
			if b.P == nil || b.BaseCI == nil || b.HeadCI == nil || b.BaseRounds != 100 || b.HeadRounds != 100 {
				t.Fatalf("walltime details missing: %+v", b)
			}
			if !(b.BaseCI.Lo <= b.Base && b.Base <= b.BaseCI.Hi) || b.BaseCI.Confidence < 0.95 {
				t.Fatalf("base CI %+v does not hold its center %g", b.BaseCI, b.Base)
			}
			if tt.want == results.VerdictRegressed {
				if ch := float64(b.Change); ch < 0.03 || ch > 0.06 || *b.P >= 0.05 {
					t.Fatalf("change %g p %g: want a significant change near 5%%", ch, *b.P)
				}
				if !c.Regressed() {
					t.Fatal("Regressed() is false")
				}
			}
		})
	}
}

func wall(name string, samples ...float64) results.Benchmark {
	st := results.ComputeStats(samples, 1, 0)
	return results.Benchmark{Name: name, URI: "exec_harness::" + name, Stats: &st, Samples: samples}
}

func spread(center float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = center * (1 + 0.002*float64(i%7-3))
	}
	return out
}

func TestJudge(t *testing.T) {
	sim := func(ir, l1, ll, ns float64) *results.Benchmark {
		return &results.Benchmark{Name: "s", URI: "s", Simulation: &results.SimulationStats{Instructions: ir, L1Misses: l1, LLMisses: ll, TimeNs: ns, CostModel: results.CostModel{Name: "k"}}}
	}
	mem := func(peak, total, allocs float64) *results.Benchmark {
		return &results.Benchmark{Name: "m", URI: "m", Memory: &results.MemoryStats{PeakBytes: peak, TotalAllocatedBytes: total, AllocCalls: allocs}}
	}
	w1, w2 := wall("w", spread(1000, 30)...), wall("w", spread(1100, 30)...)
	few1, few2 := wall("f", 1000, 1001), wall("f", 1200, 1201)
	tests := []struct {
		name       string
		instrument string
		base, head *results.Benchmark
		want       results.Verdict
		change     float64
	}{
		{"sim +1.5% under 2%", results.Simulation, sim(1e6, 10, 1, 1000), sim(1.015e6, 10, 1, 1015), results.VerdictUnchanged, 0.015},
		{"sim +2%", results.Simulation, sim(1e6, 10, 1, 1000), sim(1.02e6, 10, 1, 1020), results.VerdictRegressed, 0.02},
		{"sim -3%", results.Simulation, sim(1e6, 10, 1, 1000), sim(0.97e6, 10, 1, 970), results.VerdictImproved, -0.03},
		{"mem same peak, more allocs", results.Memory, mem(4096, 8192, 10), mem(4096, 8192, 11), results.VerdictRegressed, 0},
		{"mem allocations appear", results.Memory, mem(0, 0, 0), mem(0, 64, 1), results.VerdictRegressed, 0},
		{"mem smaller", results.Memory, mem(4096, 8192, 10), mem(2048, 8192, 10), results.VerdictImproved, -0.5},
		{"walltime +10%", results.Walltime, &w1, &w2, results.VerdictRegressed, 0.1},
		{"walltime -9%", results.Walltime, &w2, &w1, results.VerdictImproved, 1000.0/1100 - 1},
		{"walltime 2 rounds", results.Walltime, &few1, &few2, results.VerdictNotSignificant, 1200.5/1000.5 - 1},
		{"new", results.Walltime, nil, &w1, results.VerdictNew, math.NaN()},
		{"missing", results.Walltime, &w1, nil, results.VerdictMissing, math.NaN()},
		{"failed", results.Walltime, &w1, &results.Benchmark{Name: "w", URI: "exec_harness::w", Error: "exit status 1"}, results.VerdictFailed, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bc := Judge(tt.instrument, tt.base, tt.head, Options{})
			if bc.Verdict != tt.want {
				t.Fatalf("verdict %s, want %s (%+v)", bc.Verdict, tt.want, bc)
			}
			got := float64(bc.Change)
			if math.IsNaN(tt.change) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.change) > 1e-9) {
				t.Fatalf("change %g, want %g", got, tt.change)
			}
		})
	}
}

func TestCompareMatchesByInstrumentAndURI(t *testing.T) {
	a, b := wall("a", spread(1000, 20)...), wall("b", spread(2000, 20)...)
	c := wall("c", spread(3000, 20)...)
	base := &Side{Parts: []Part{{File: &results.File{Instrument: results.Instrument{Type: results.Walltime}, Benchmarks: []results.Benchmark{a, b}}}}}
	head := &Side{Parts: []Part{{File: &results.File{Instrument: results.Instrument{Type: results.Walltime}, Benchmarks: []results.Benchmark{c, a}}}}}
	got := Compare(base, head, Options{})
	var names []string
	for _, x := range got.Benchmarks {
		names = append(names, x.Name+"="+string(x.Verdict))
	}
	if want := "b=missing c=new a=unchanged"; strings.Join(names, " ") != want {
		t.Fatalf("got %v, want %s", names, want)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("commit", "-q", "--allow-empty", "-m", "one")
	commit := git("rev-parse", "HEAD")

	store := &results.Store{Root: filepath.Join(dir, "runs")}
	data, _ := os.ReadFile("testdata/base.json")
	mkRun := func(id string, at time.Time, commit string) {
		m := &results.RunMeta{ID: id, Status: results.StatusComplete, StartedAt: at, Git: results.GitInfo{Commit: commit},
			Parts: []results.Part{{Mode: results.Walltime, ProfileFolder: filepath.Join(store.Dir(id), "walltime"), Results: "walltime/results/1.json"}}}
		if err := store.Create(m); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(store.Dir(id), "walltime", "results"), 0o755)
		os.WriteFile(filepath.Join(store.Dir(id), "walltime", "results", "1.json"), data, 0o644)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mkRun("20260101T000000-aaaaaa", t0, commit)
	mkRun("20260101T000100-bbbbbb", t0.Add(time.Minute), commit)
	mkRun("20260101T000200-cccccc", t0.Add(2*time.Minute), "0000000000000000000000000000000000000000")
	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte(`{"instrument": {"type": "walltime"}, "benchmarks": [`), 0o644)

	tests := []struct {
		spec, wantRun, wantErr string
	}{
		{"20260101T000000", "20260101T000000-aaaaaa", ""},
		{"main", "20260101T000100-bbbbbb", ""}, // newest run of the commit
		{commit[:8], "20260101T000100-bbbbbb", ""},
		{store.Dir("20260101T000200-cccccc"), "20260101T000200-cccccc", ""},
		{filepath.Join(store.Dir("20260101T000200-cccccc"), "walltime"), "20261125", ""}, // profile folder: the run named in the file
		{"2026", "", "ambiguous"},
		{"nosuchrun", "", "not found"},
		{corrupt, "", "not a results file"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.spec), func(t *testing.T) {
			s, err := Resolve(tt.spec, store, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if tt.wantErr == "not found" && !errors.Is(err, ErrNotFound) {
					t.Fatalf("%v does not wrap ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s.Ref.RunID, tt.wantRun) || len(s.Parts) != 1 || len(s.Parts[0].File.Benchmarks) != 1 {
				t.Fatalf("run %q parts %d, want %s", s.Ref.RunID, len(s.Parts), tt.wantRun)
			}
		})
	}
	newest, err := Newest(store)
	if err != nil || newest.Ref.RunID != "20260101T000200-cccccc" {
		t.Fatalf("newest: %v %+v", err, newest)
	}
}

func TestConfirm(t *testing.T) {
	three := func(string, *results.Benchmark) Limits { return Limits{0.03, 0.03} }
	o := Options{Limits: three}
	read := func(name string) *results.File { return loadSide(t, name).Parts[0].File }
	for _, tt := range []struct {
		remeasured []string
		want       results.Verdict
		calls      int
	}{
		{[]string{"slower.json", "slower.json"}, results.VerdictRegressed, 2},
		{[]string{"rerun.json"}, results.VerdictUnchanged, 1}, // the slowdown did not come back
		{[]string{"slower.json", "base.json"}, results.VerdictUnchanged, 2},
	} {
		t.Run(strings.Join(tt.remeasured, ","), func(t *testing.T) {
			c := Compare(loadSide(t, "base.json"), loadSide(t, "slower.json"), o)
			calls := 0
			err := Confirm(context.Background(), c, 2, func(_ context.Context, flagged []results.BenchmarkChange) ([]*results.File, error) {
				if len(flagged) != 1 || flagged[0].Name != "primes" {
					t.Fatalf("flagged %+v", flagged)
				}
				calls++
				return []*results.File{read(tt.remeasured[calls-1])}, nil
			}, o)
			if err != nil {
				t.Fatal(err)
			}
			b := only(t, c)
			if b.Verdict != tt.want || calls != tt.calls || len(b.Notes) == 0 {
				t.Fatalf("verdict %s after %d calls, want %s after %d; notes %v", b.Verdict, calls, tt.want, tt.calls, b.Notes)
			}
		})
	}
}
