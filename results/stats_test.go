package results

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
)

// statsCase is one case of testdata/stats_cases.json, written by
// testdata/gen_stats.py with Python's statistics module.
type statsCase struct {
	Name         string    `json:"name"`
	PerIterNs    []float64 `json:"per_iter_ns"`
	IterPerRound int       `json:"iter_per_round"`
	WarmupIters  int       `json:"warmup_iters"`
	Want         Stats     `json:"want"`
}

func closeEnough(got, want float64) bool {
	if got == want {
		return true
	}
	diff := math.Abs(got - want)
	return diff <= 1e-9*math.Max(math.Abs(got), math.Abs(want)) || diff <= 1e-12
}

func TestComputeStatsMatchesPython(t *testing.T) {
	data, err := os.ReadFile("testdata/stats_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []statsCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("decode stats_cases.json: %v", err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d cases in stats_cases.json; regenerate it with gen_stats.py", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			in := slices.Clone(c.PerIterNs)
			got := ComputeStats(in, c.IterPerRound, c.WarmupIters)
			if !slices.Equal(in, c.PerIterNs) {
				t.Errorf("ComputeStats modified its input")
			}
			floats := []struct {
				name      string
				got, want float64
			}{
				{"min_ns", got.MinNs, c.Want.MinNs},
				{"max_ns", got.MaxNs, c.Want.MaxNs},
				{"mean_ns", got.MeanNs, c.Want.MeanNs},
				{"stdev_ns", got.StdevNs, c.Want.StdevNs},
				{"q1_ns", got.Q1Ns, c.Want.Q1Ns},
				{"median_ns", got.MedianNs, c.Want.MedianNs},
				{"q3_ns", got.Q3Ns, c.Want.Q3Ns},
				{"total_time", got.TotalTime, c.Want.TotalTime},
			}
			for _, f := range floats {
				if !closeEnough(f.got, f.want) {
					t.Errorf("%s = %.17g, Python says %.17g", f.name, f.got, f.want)
				}
			}
			ints := []struct {
				name      string
				got, want int
			}{
				{"rounds", got.Rounds, c.Want.Rounds},
				{"iqr_outlier_rounds", got.IQROutlierRounds, c.Want.IQROutlierRounds},
				{"stdev_outlier_rounds", got.StdevOutlierRounds, c.Want.StdevOutlierRounds},
				{"iter_per_round", got.IterPerRound, c.Want.IterPerRound},
				{"warmup_iters", got.WarmupIters, c.Want.WarmupIters},
			}
			for _, f := range ints {
				if f.got != f.want {
					t.Errorf("%s = %d, Python says %d", f.name, f.got, f.want)
				}
			}
		})
	}
}

func TestComputeStatsEdges(t *testing.T) {
	tests := []struct {
		name  string
		in    []float64
		ipr   int
		check func(t *testing.T, s Stats)
	}{
		{"empty", nil, 3, func(t *testing.T, s Stats) {
			if s != (Stats{IterPerRound: 3}) {
				t.Errorf("got %+v, want zero figures", s)
			}
		}},
		{"iterPerRound 0 counts as 1", []float64{2e9}, 0, func(t *testing.T, s Stats) {
			if s.IterPerRound != 1 || s.TotalTime != 2 {
				t.Errorf("iter_per_round %d total_time %g, want 1 and 2", s.IterPerRound, s.TotalTime)
			}
		}},
		{"n=2 extrapolates like Python", []float64{1, 2}, 1, func(t *testing.T, s Stats) {
			if s.Q1Ns != 0.75 || s.MedianNs != 1.5 || s.Q3Ns != 2.25 {
				t.Errorf("quartiles %g %g %g, want 0.75 1.5 2.25", s.Q1Ns, s.MedianNs, s.Q3Ns)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, ComputeStats(tt.in, tt.ipr, 0)) })
	}
}

func TestQuantile(t *testing.T) {
	data := []float64{10, 20, 30, 40, 50, 60, 70, 80, 90}
	tests := []struct {
		p, want float64
	}{
		{0, 0}, // position -1: the first pair's line, extrapolated as Python does
		{0.1, 10},
		{0.25, 25},
		{0.5, 50},
		{0.75, 75},
		{0.9, 90},
		{1, 100}, // position 9: clamped to the last pair, extrapolated as Python does
	}
	for _, tt := range tests {
		if got := Quantile(data, tt.p); !closeEnough(got, tt.want) {
			t.Errorf("Quantile(p=%g) = %g, want %g", tt.p, got, tt.want)
		}
	}
	if got := Quantile([]float64{7}, 0.25); got != 7 {
		t.Errorf("Quantile of one value = %g, want 7", got)
	}
	if got := Quantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("Quantile of nothing = %g, want NaN", got)
	}
}

// FuzzComputeStats feeds arbitrary positive round times and checks the
// invariants every Stats must hold.
func FuzzComputeStats(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0}, 1)
	f.Add([]byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}, 1)
	f.Add([]byte{9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 200, 0, 0, 0, 255, 255, 255, 255}, 10)
	f.Fuzz(func(t *testing.T, raw []byte, ipr int) {
		var in []float64
		for b := raw; len(b) >= 4; b = b[4:] {
			// Scaled to 1e-3 ns .. 4.3e6 ns so sums stay exact enough to
			// reason about ordering.
			in = append(in, float64(binary.LittleEndian.Uint32(b))/1000)
		}
		if ipr > 1<<20 || ipr < -1<<20 {
			ipr %= 1 << 20
		}
		s := ComputeStats(in, ipr, 0)
		n := len(in)
		if s.Rounds != n {
			t.Fatalf("rounds %d for %d samples", s.Rounds, n)
		}
		if n == 0 {
			return
		}
		if s.IQROutlierRounds < 0 || s.IQROutlierRounds > n || s.StdevOutlierRounds < 0 || s.StdevOutlierRounds > n {
			t.Fatalf("outlier counts out of range: %+v", s)
		}
		// With n-1 in the denominator no sample can lie more than
		// (n-1)/sqrt(n) stdevs from the mean, so below n=11 (where that bound is
		// 3) no round is a 3-sigma outlier.
		if n <= 10 && s.StdevOutlierRounds != 0 {
			t.Fatalf("%d stdev outliers among %d rounds is impossible: %+v", s.StdevOutlierRounds, n, s)
		}
		ordered := []float64{s.MinNs, s.Q1Ns, s.MedianNs, s.Q3Ns, s.MaxNs}
		if n == 2 {
			// Python's exclusive quartiles extrapolate for two values.
			ordered = []float64{s.Q1Ns, s.MinNs, s.MedianNs, s.MaxNs, s.Q3Ns}
		}
		for i := 1; i < len(ordered); i++ {
			if ordered[i-1] > ordered[i]*(1+1e-12) {
				t.Fatalf("not ordered (n=%d): %v", n, ordered)
			}
		}
		if s.MeanNs < s.MinNs*(1-1e-12) || s.MeanNs > s.MaxNs*(1+1e-12) {
			t.Fatalf("mean %g outside [%g, %g]", s.MeanNs, s.MinNs, s.MaxNs)
		}
		if s.StdevNs < 0 || math.IsNaN(s.StdevNs) || s.TotalTime < 0 {
			t.Fatalf("bad stdev or total: %+v", s)
		}
	})
}
