// Package changes finds step changes in a benchmark's history: the commits
// after which a figure moved to a new level and stayed there.
//
// Measured figures (walltime, memory) go through the method of Apache Otava
// (formerly Hunter; Fleming et al., "Hunter: Using Change Point Detection to
// Hunt for Performance Regressions", ICPE 2023), which is Matteson and
// James' E-divisive means ("A Nonparametric Approach for Multiple Change
// Point Analysis of Multivariate Data", 2014) with two changes that make it
// fast and deterministic on long histories:
//
//   - the permutation test that judges a candidate split is replaced by a
//     two-sided Student's t-test of the two segments it separates;
//   - the series is scanned in overlapping windows (Window points, half a
//     window apart) with a relaxed significance level, giving "weak" change
//     points, which a merge pass then removes one at a time, weakest first,
//     re-testing each neighbour on the segments left, until every remaining
//     point passes the real level (MaxP) and moves the mean by at least
//     MinMagnitude.
//
// Within a window the E-divisive step is the original one: the split
// (τ, κ) of a segment maximising the energy divergence Q̂ of z[s:τ] and
// z[τ:κ], tested, kept, and the search repeated on the segments it creates
// until a candidate fails the test.
//
// Exact figures (simulation's instruction counts and estimated times) need
// no statistics: Exact reports every point that moves beyond a threshold
// from the level of its segment.
package changes

import (
	"encoding/json"
	"math"
	"slices"

	"github.com/aclements/go-moremath/stats"
)

// Change is one detected step. Index is the first point of the new level:
// the commit at which the figure changed.
type Change struct {
	Index int `json:"index"`
	// Before and After are the means of the segments either side of the
	// change (for Exact: the segment's level and the new value); StdBefore
	// and StdAfter their sample standard deviations.
	Before    float64 `json:"before"`
	After     float64 `json:"after"`
	StdBefore float64 `json:"std_before"`
	StdAfter  float64 `json:"std_after"`
	// Change is After/Before - 1 (0.05 is 5% more).
	Change float64 `json:"change"`
	// P is the t-test's p-value; NaN for exact figures, which are not
	// tested (written as null).
	P float64 `json:"p"`
}

// Magnitude is the larger of the forward and backward relative changes, so
// that a halving and a doubling weigh the same; Otava's definition.
func (c Change) Magnitude() float64 {
	m := 0.0
	if c.Before != 0 {
		m = math.Abs(c.After/c.Before - 1)
	}
	if c.After != 0 {
		m = max(m, math.Abs(c.Before/c.After-1))
	}
	return m
}

// Options tune Detect. The zero value uses the defaults.
type Options struct {
	// Window is the length of the sliding windows (default 50, Otava's).
	Window int
	// MaxP is the significance level of a change (default 0.001, Otava's:
	// about one false change in a thousand tested splits).
	MaxP float64
	// MinMagnitude drops changes whose relative size (Magnitude) is below
	// it (default 0: any significant change).
	MinMagnitude float64
}

// Defaults of Options.
const (
	DefaultWindow = 50
	DefaultMaxP   = 0.001
)

func (o Options) withDefaults() Options {
	if o.Window < 2 {
		o.Window = DefaultWindow
	}
	if !(o.MaxP > 0 && o.MaxP < 1) {
		o.MaxP = DefaultMaxP
	}
	if !(o.MinMagnitude >= 0) || math.IsInf(o.MinMagnitude, 0) {
		o.MinMagnitude = 0
	}
	return o
}

// Detect finds the step changes of series, oldest point first, with the
// E-divisive means method and Student's t-test described in the package
// comment. Points that are not finite numbers are ignored (their indexes are
// never reported). The result is sorted by Index.
func Detect(series []float64, o Options) []Change {
	o = o.withDefaults()
	z, idx := finite(series)
	if len(z) < 3 {
		return nil
	}
	// The relaxed level of the first pass, as Otava chooses it.
	weakP := o.MaxP * 10
	switch {
	case o.MaxP >= 0.5:
		weakP = o.MaxP
	case o.MaxP >= 0.05:
		weakP = o.MaxP * 2
	}
	weak := split(z, o.Window, weakP)
	cps := merge(z, weak, o.MaxP, o.MinMagnitude)
	out := make([]Change, len(cps))
	for i, c := range cps {
		c.Index = idx[c.Index]
		out[i] = c
	}
	return out
}

// finite returns the finite values of series and the index of each in it.
func finite(series []float64) ([]float64, []int) {
	z := make([]float64, 0, len(series))
	idx := make([]int, 0, len(series))
	for i, v := range series {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			z = append(z, v)
			idx = append(idx, i)
		}
	}
	return z, idx
}

// split runs E-divisive in windows of z and returns the union of the change
// points found, sorted (the weak change points).
func split(z []float64, window int, maxP float64) []int {
	step := max(window/2, 1)
	var found []int
	buf := make([]float64, (min(window, len(z))+1)*(min(window, len(z))+1))
	for start := 0; start < len(z); {
		end := min(start+window, len(z))
		cps := detectWindow(z[start:end], maxP, buf)
		last := 0
		for _, c := range cps {
			found = append(found, start+c)
			last = start + c
		}
		// A change found late in the window starts the next one, so the
		// level after it is judged with the points that follow.
		start = max(last, start+step)
		if end == len(z) {
			break
		}
	}
	slices.Sort(found)
	return slices.Compact(found)
}

// detectWindow is the E-divisive search on one window: the best split of
// any segment, tested against the segment it divides, until a candidate is
// not significant.
func detectWindow(z []float64, maxP float64, buf []float64) []int {
	d := newDivergence(z, buf)
	var cps []int // sorted
	for {
		bounds := append(append([]int{0}, cps...), len(z))
		bestT, bestQ, seg := 0, math.Inf(-1), -1
		for i := 0; i+1 < len(bounds); i++ {
			if t, q, ok := d.bestSplit(bounds[i], bounds[i+1]); ok && q > bestQ {
				bestT, bestQ, seg = t, q, i
			}
		}
		if seg < 0 {
			return cps
		}
		c := test(z[bounds[seg]:bestT], z[bestT:bounds[seg+1]])
		if !(c.P <= maxP) {
			return cps
		}
		pos, _ := slices.BinarySearch(cps, bestT)
		cps = slices.Insert(cps, pos, bestT)
	}
}

// merge removes the weakest of the weak change points until every one left
// is significant at maxP and at least minMag in size. Removing a point joins
// two segments, so its neighbours are re-tested on the longer segments.
func merge(z []float64, weak []int, maxP, minMag float64) []Change {
	cps := make([]Change, len(weak))
	for i := range weak {
		cps[i] = testAt(z, weak, i)
	}
	idx := slices.Clone(weak)
	for len(cps) > 0 {
		// The least significant point; when all are significant, the
		// smallest. Ties go to the earliest, for determinism.
		weakest := 0
		for i, c := range cps {
			if c.P > cps[weakest].P {
				weakest = i
			}
		}
		if cps[weakest].P <= maxP {
			for i, c := range cps {
				if c.Magnitude() < cps[weakest].Magnitude() {
					weakest = i
				}
			}
			if cps[weakest].Magnitude() >= minMag {
				break
			}
		}
		cps = slices.Delete(cps, weakest, weakest+1)
		idx = slices.Delete(idx, weakest, weakest+1)
		for _, i := range []int{weakest - 1, weakest} {
			if i >= 0 && i < len(cps) {
				cps[i] = testAt(z, idx, i)
			}
		}
	}
	return cps
}

// testAt tests change point idx[i] on the segments between its neighbours.
func testAt(z []float64, idx []int, i int) Change {
	lo, hi := 0, len(z)
	if i > 0 {
		lo = idx[i-1]
	}
	if i+1 < len(idx) {
		hi = idx[i+1]
	}
	c := test(z[lo:idx[i]], z[idx[i]:hi])
	c.Index = idx[i]
	return c
}

// test compares two segments with a two-sided Student's t-test (pooled
// variance). Two segments without any variance differ with certainty when
// their means differ (p = 0) and not at all otherwise (p = 1); with fewer
// than three points in all there is nothing to judge a difference against
// (p = 1).
func test(left, right []float64) Change {
	ml, vl := meanVar(left)
	mr, vr := meanVar(right)
	c := Change{Before: ml, After: mr, StdBefore: math.Sqrt(vl), StdAfter: math.Sqrt(vr), P: 1}
	c.Change = relChange(ml, mr)
	n1, n2 := float64(len(left)), float64(len(right))
	if n1 == 0 || n2 == 0 || n1+n2 < 3 {
		return c
	}
	dof := n1 + n2 - 2
	pooled := ((n1-1)*vl + (n2-1)*vr) / dof
	if !(pooled > 0) {
		if ml != mr {
			c.P = 0
		}
		return c
	}
	t := (ml - mr) / math.Sqrt(pooled*(1/n1+1/n2))
	p := 2 * (1 - stats.TDist{V: dof}.CDF(math.Abs(t)))
	if math.IsNaN(p) {
		p = 1
	}
	c.P = min(max(p, 0), 1)
	return c
}

// meanVar is the mean and the sample variance (0 below two values), in two
// passes so that a small spread around a large mean keeps its digits.
func meanVar(x []float64) (mean, variance float64) {
	if len(x) == 0 {
		return math.NaN(), 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	for _, v := range x {
		d := v - mean
		variance += d * d
	}
	return mean, variance / float64(len(x)-1)
}

func relChange(before, after float64) float64 {
	switch {
	case before == after:
		return 0
	case before == 0:
		return math.Inf(1) * math.Copysign(1, after)
	}
	return after/before - 1
}

// Exact finds changes in figures without noise: a point is a change when it
// differs from the level of its segment (the segment's first point) by
// threshold or more, in relative terms, in either direction; it then starts
// the next segment. Points that are not finite are ignored. P is NaN.
func Exact(series []float64, threshold float64) []Change {
	z, idx := finite(series)
	if len(z) < 2 {
		return nil
	}
	threshold = max(threshold, 0)
	var out []Change
	start := 0
	for i := 1; i < len(z); i++ {
		level := z[start]
		ch := relChange(level, z[i])
		if math.Abs(ch) < threshold || ch == 0 {
			continue
		}
		c := Change{Index: idx[i], Before: level, After: z[i], Change: ch, P: math.NaN()}
		// The spread of the segment that ends here, for the reader.
		_, v := meanVar(z[start:i])
		c.StdBefore = math.Sqrt(v)
		out = append(out, c)
		start = i
	}
	return out
}

// MarshalJSON writes figures that are not finite numbers (an exact figure's
// P, a change from zero, the mean of values that overflow) as null, which
// encoding/json would refuse.
func (c Change) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Index     int      `json:"index"`
		Before    *float64 `json:"before"`
		After     *float64 `json:"after"`
		StdBefore *float64 `json:"std_before"`
		StdAfter  *float64 `json:"std_after"`
		Change    *float64 `json:"change"`
		P         *float64 `json:"p"`
	}{c.Index, finitePtr(c.Before), finitePtr(c.After), finitePtr(c.StdBefore), finitePtr(c.StdAfter),
		finitePtr(c.Change), finitePtr(c.P)})
}

func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
