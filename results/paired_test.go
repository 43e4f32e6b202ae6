package results

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Critical values of the two-sided 5% Wilcoxon signed-rank test, as printed
// in the usual tables.
func TestSignedRankCriticalTable(t *testing.T) {
	for n, want := range map[int]int{5: -1, 6: 0, 7: 2, 8: 3, 9: 5, 10: 8, 15: 25, 20: 52, 25: 89, 30: 137} {
		if got := SignedRankCritical(n, 0.05); got != want {
			t.Errorf("n=%d: critical value %d, want %d", n, got, want)
		}
	}
	// The normal approximation used above 200 pairs agrees with the exact
	// distribution where they meet.
	for _, alpha := range []float64{0.05, 0.001} {
		exact, approx := signedRankExact(201, alpha), SignedRankCritical(201, alpha)
		if d := math.Abs(float64(approx - exact)); d > 0.003*float64(exact)+1 {
			t.Errorf("alpha %v, n=201: normal approximation %d, exact %d", alpha, approx, exact)
		}
	}
}

// The Walsh-average quantile found by bisection is the one a brute-force sort
// gives.
func TestWalshQuantileMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 7, 40, 151} {
		d := make([]float64, n)
		for i := range d {
			d[i] = rng.NormFloat64() * 0.03
		}
		slices.Sort(d)
		var all []float64
		for i := range d {
			for j := i; j < n; j++ {
				all = append(all, (d[i]+d[j])/2)
			}
		}
		slices.Sort(all)
		for _, k := range []int{1, 2, len(all) / 3, (len(all) + 1) / 2, len(all)} {
			if k < 1 || k > len(all) {
				continue
			}
			got := walshQuantile(d, k)
			if math.Abs(got-all[k-1]) > 1e-15 {
				t.Errorf("n=%d k=%d: %v, want %v", n, k, got, all[k-1])
			}
		}
	}
}

// The interval covers the true shift at about its confidence.
func TestEstimatePairedCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const trials = 2000
	shift := math.Log(1.02)
	miss := 0
	for range trials {
		d := make([]float64, 30)
		for i := range d {
			d[i] = shift + rng.NormFloat64()*0.02
		}
		e := EstimatePaired(d, 0.95)
		if !(e.Lo <= 1.02 && 1.02 <= e.Hi) {
			miss++
		}
	}
	// Exact level for n=30 is 1-2*P(W<=137) ≈ 0.952; allow sampling noise.
	if rate := float64(miss) / trials; rate < 0.03 || rate > 0.07 {
		t.Errorf("95%% interval missed the true ratio in %.1f%% of trials", 100*rate)
	}
}

func TestLogRatiosRejectsBadInput(t *testing.T) {
	if _, err := LogRatios([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("different lengths accepted")
	}
	if _, err := LogRatios([]float64{1, 0}, []float64{1, 1}); err == nil {
		t.Error("a zero time accepted")
	}
	d, err := LogRatios([]float64{100, 200}, []float64{110, 200})
	if err != nil || math.Abs(d[0]-math.Log(1.1)) > 1e-15 || d[1] != 0 {
		t.Errorf("LogRatios = %v, %v", d, err)
	}
}

func TestPairedRuleLooks(t *testing.T) {
	r := DefaultPairedRule()
	looks := r.Looks()
	want := []int{16, 24, 36, 54, 82, 122, 184, 274, 412, 616, 924, 1384, 2076, 3114}
	if !slices.Equal(looks, want) {
		t.Errorf("looks %v, want %v", looks, want)
	}
	if err := (PairedRule{Alpha: 0.01, MinEffect: 0, FirstLook: 16, Growth: 1.5, MaxLooks: 3}).Check(); err == nil {
		t.Error("a zero minimum effect accepted")
	}
}

// noisyMachine simulates the rounds of a shared 2-vCPU runner: the machine's
// speed wanders in blocks (a slower vCPU for a while, up to ±10%), each round
// has 1.5% Gaussian jitter, and 5% of rounds are hit by an interruption that
// adds an exponential delay averaging 8%. The head is slower by the factor
// shift. Rounds are taken in ABBA order, as `codspeed ab` does.
type noisyMachine struct {
	rng   *rand.Rand
	shift float64
	level float64
	left  int
}

func (m *noisyMachine) round(base float64) float64 {
	if m.left == 0 {
		m.level = (m.rng.Float64()*2 - 1) * 0.10
		m.left = 20 + m.rng.IntN(200)
	}
	m.left--
	t := base * math.Exp(m.level+m.rng.NormFloat64()*0.015)
	if m.rng.Float64() < 0.05 {
		t *= 1 + m.rng.ExpFloat64()*0.08
	}
	return t
}

// block returns the two pairs of one ABBA block.
func (m *noisyMachine) block() (b1, h1, b2, h2 float64) {
	const base = 45e6
	b1 = m.round(base)
	h1 = m.round(base * m.shift)
	h2 = m.round(base * m.shift)
	b2 = m.round(base)
	return
}

// runSequential runs the default rule on a simulated machine until it
// decides or maxPairs are measured (the time budget), and returns its result.
func runSequential(t *testing.T, m *noisyMachine, maxPairs int) PairedResult {
	s, err := NewSequential(DefaultPairedRule())
	if err != nil {
		t.Fatal(err)
	}
	var d []float64
	for len(d) < maxPairs {
		b1, h1, b2, h2 := m.block()
		d = append(d, math.Log(h1/b1), math.Log(h2/b2))
		if s.Due(len(d)) {
			if res, done := s.Look(d); done {
				return res
			}
		}
	}
	return s.Final(d)
}

// The sequential rule's false-positive rate, over 2,000 simulated null
// sequences (identical commands) with a budget of 1,300 pairs (60 s of a
// 23 ms command): no more than 1% may be flagged as regressed, and none
// should be improved by more than chance either. With the default 1% budget
// split over two directions, the bound is 0.5% per direction.
func TestSequentialFalsePositiveRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const trials = 2000
	counts := map[PairedVerdict]int{}
	pairs := 0
	for range trials {
		res := runSequential(t, &noisyMachine{rng: rng, shift: 1}, 1300)
		counts[res.Verdict]++
		pairs += res.Estimate.Pairs
	}
	t.Logf("null: %v, mean pairs %.0f", counts, float64(pairs)/trials)
	if fp := float64(counts[PairedRegressed]) / trials; fp > 0.01 {
		t.Errorf("identical commands flagged regressed in %.2f%% of %d sequences (limit 1%%)", 100*fp, trials)
	}
	if fp := float64(counts[PairedImproved]) / trials; fp > 0.01 {
		t.Errorf("identical commands flagged improved in %.2f%% of %d sequences (limit 1%%)", 100*fp, trials)
	}
	// Most null sequences must end with a clear "no change", not run out the
	// budget.
	if nc := float64(counts[PairedNoChange]) / trials; nc < 0.95 {
		t.Errorf("only %.1f%% of null sequences concluded no change", 100*nc)
	}
}

// Power: a 3% slowdown at the same noise is flagged in at least 95% of
// sequences, and one of 0.5% (below the 1% minimum effect) is never called a
// regression in more than the error budget.
func TestSequentialPower(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const trials = 500
	counts := map[PairedVerdict]int{}
	pairs := 0
	for range trials {
		res := runSequential(t, &noisyMachine{rng: rng, shift: 1.03}, 1300)
		counts[res.Verdict]++
		pairs += res.Estimate.Pairs
	}
	t.Logf("3%% slower: %v, mean pairs %.0f", counts, float64(pairs)/trials)
	if p := float64(counts[PairedRegressed]) / trials; p < 0.95 {
		t.Errorf("3%% slowdown flagged in %.1f%% of sequences (want >= 95%%)", 100*p)
	}
	if counts[PairedImproved] > 0 || counts[PairedNoChange] > 0 {
		t.Errorf("3%% slowdown called improved or unchanged: %v", counts)
	}

	counts = map[PairedVerdict]int{}
	for range trials {
		counts[runSequential(t, &noisyMachine{rng: rng, shift: 0.97}, 1300).Verdict]++
	}
	if p := float64(counts[PairedImproved]) / trials; p < 0.95 {
		t.Errorf("3%% speed-up flagged improved in %.1f%% of sequences: %v", 100*p, counts)
	}
}

// An unclear result is inconclusive, never regressed: a 1% shift with a tiny
// budget cannot be decided.
func TestSequentialInconclusiveOnBudget(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	res := runSequential(t, &noisyMachine{rng: rng, shift: 1.01}, 20)
	if res.Verdict != PairedInconclusive {
		t.Errorf("20 pairs of a 1%% shift: %q, want inconclusive (estimate %+v)", res.Verdict, res.Estimate)
	}
	s, _ := NewSequential(DefaultPairedRule())
	if res := s.Final(nil); res.Verdict != PairedInconclusive {
		t.Errorf("no pairs: %q, want inconclusive", res.Verdict)
	}
}

func TestDecide(t *testing.T) {
	r := DefaultPairedRule()
	for _, c := range []struct {
		e    PairedEstimate
		want PairedVerdict
	}{
		{PairedEstimate{Ratio: 1.03, Lo: 1.02, Hi: 1.04}, PairedRegressed},
		{PairedEstimate{Ratio: 1.005, Lo: 1.002, Hi: 1.008}, PairedNoChange}, // real but below the minimum effect
		{PairedEstimate{Ratio: 1.02, Lo: 0.99, Hi: 1.05}, PairedContinue},
		{PairedEstimate{Ratio: 0.97, Lo: 0.96, Hi: 0.98}, PairedImproved},
		{PairedEstimate{Ratio: 1.0, Lo: 0.995, Hi: 1.005}, PairedNoChange},
		{PairedEstimate{Ratio: 1.0, Lo: 0, Hi: math.Inf(1)}, PairedContinue},
	} {
		if got := r.Decide(c.e); got != c.want {
			t.Errorf("Decide(%+v) = %q, want %q", c.e, got, c.want)
		}
	}
}

func TestPairedEstimateJSON(t *testing.T) {
	for _, e := range []PairedEstimate{EstimatePaired(nil, 0.99), EstimatePaired([]float64{0.01, 0.02}, 0.99),
		EstimatePaired([]float64{0.01, 0.02, 0.03, 0.01, 0.02, 0.03, 0.01, 0.02, 0.03, 0.01, 0.02, 0.03}, 0.95)} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		var back PairedEstimate
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
		if back.Pairs != e.Pairs || !same(back.Ratio, e.Ratio) || !same(back.Hi, e.Hi) || !same(back.Lo, e.Lo) {
			t.Errorf("%s read back as %+v, want %+v", b, back, e)
		}
	}
}

// recordedPairs reads pairs recorded by `codspeed ab` (testdata/paired):
// the base and head rounds in the order measured, two pairs per ABBA block.
func recordedPairs(t *testing.T, name string) []float64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "paired", name))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		BaseNs []float64 `json:"base_ns"`
		HeadNs []float64 `json:"head_ns"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	d, err := LogRatios(rec.BaseNs, rec.HeadNs)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// replay runs the default rule over recorded pairs as `codspeed ab` would
// have, the budget ending with the recording.
func replay(t *testing.T, d []float64) PairedResult {
	s, err := NewSequential(DefaultPairedRule())
	if err != nil {
		t.Fatal(err)
	}
	for n := 2; n <= len(d); n += 2 {
		if s.Due(n) {
			if res, done := s.Look(d[:n]); done {
				return res
			}
		}
	}
	return s.Final(d)
}

// Real rounds from a heavily loaded machine (round times from 16 to 57 ms
// for an 18 ms program): identical commands are not flagged, and a 3%
// slower head is estimated near 3% and never called unchanged or improved.
func TestRecordedPairs(t *testing.T) {
	null := recordedPairs(t, "null.json")
	res := replay(t, null)
	if res.Verdict == PairedRegressed || res.Verdict == PairedImproved {
		t.Errorf("recorded identical commands: %q %+v", res.Verdict, res.Estimate)
	}
	shift := recordedPairs(t, "shift3.json")
	res = replay(t, shift)
	if res.Verdict == PairedImproved || res.Verdict == PairedNoChange {
		t.Errorf("recorded 3%% slowdown: %q %+v", res.Verdict, res.Estimate)
	}
	if e := EstimatePaired(shift, 0.95); e.Ratio < 1.0 || e.Ratio > 1.06 || e.Lo > 1.03 || e.Hi < 1.03 {
		t.Errorf("recorded 3%% slowdown: estimate %+v", e)
	}

	// Resampling the recorded null pairs with random signs (under no change
	// a pair's log ratio is as likely negative as positive) gives realistic
	// null sequences; the rule may flag at most 1% of them.
	rng := rand.New(rand.NewPCG(11, 12))
	const trials = 500
	flagged := 0
	for range trials {
		d := make([]float64, 1400)
		for i := range d {
			d[i] = null[rng.IntN(len(null))]
			if rng.IntN(2) == 0 {
				d[i] = -d[i]
			}
		}
		if v := replay(t, d).Verdict; v == PairedRegressed || v == PairedImproved {
			flagged++
		}
	}
	if rate := float64(flagged) / trials; rate > 0.01 {
		t.Errorf("resampled recorded null: %.1f%% flagged", 100*rate)
	}
}

// EstimatePaired never panics, and its interval always holds its estimate,
// whatever the log ratios (a results file's samples are outside input).
func FuzzEstimatePaired(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 0.99)
	f.Add([]byte{0, 0, 0, 0}, 0.5)
	f.Fuzz(func(t *testing.T, raw []byte, conf float64) {
		if !(conf > 0 && conf < 1) || len(raw) > 4000 {
			return
		}
		d := make([]float64, len(raw))
		for i, b := range raw {
			d[i] = (float64(b) - 128) / 256
		}
		e := EstimatePaired(d, conf)
		if len(d) == 0 {
			return
		}
		if !(e.Lo <= e.Ratio && e.Ratio <= e.Hi) {
			t.Fatalf("%v at %v: estimate %v outside [%v, %v]", d, conf, e.Ratio, e.Lo, e.Hi)
		}
	})
}
