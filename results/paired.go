package results

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Paired A/B measurement (`codspeed ab`): base and head are run alternately
// in ABBA order, and every base round is paired with the head round next to
// it. The statistic is the per-pair log ratio ln(head/base); a shift of the
// whole machine (a slower vCPU for a while, a neighbour's load) moves both
// rounds of a pair and cancels in the ratio. docs/ab.md explains the choice.

// PairedVerdict is what the paired rule concluded about one benchmark.
type PairedVerdict string

// Paired verdicts. Continue is not a verdict: the rule wants more pairs.
const (
	PairedContinue     PairedVerdict = ""
	PairedRegressed    PairedVerdict = "regressed"
	PairedImproved     PairedVerdict = "improved"
	PairedNoChange     PairedVerdict = "no change"
	PairedInconclusive PairedVerdict = "inconclusive"
)

// PairedRule is the sequential stopping rule: the estimate and its interval
// are looked at only when the number of pairs reaches one of MaxLooks
// geometrically spaced counts (FirstLook, FirstLook*Growth, ...), and each
// look's interval has confidence 1-Alpha/MaxLooks, so that over all the looks
// together the chance that any interval misses the true shift is at most
// Alpha (Bonferroni). A verdict is final; sampling stops at it.
type PairedRule struct {
	// Alpha is the error budget over all looks: the probability that any
	// look's interval excludes the true shift. Half of it can make an
	// unchanged benchmark look regressed, half improved.
	Alpha float64
	// MinEffect is the smallest change worth reporting, as a fraction
	// (0.01 = 1%): a change is regressed or improved only when its estimate
	// is at least this large, and "no change" means the whole interval is
	// within ±MinEffect.
	MinEffect float64
	// FirstLook is the number of pairs at the first look.
	FirstLook int
	// Growth is the ratio between consecutive looks' pair counts.
	Growth float64
	// MaxLooks bounds the number of looks.
	MaxLooks int
}

// DefaultPairedRule is the rule `codspeed ab` uses by default: a 1% error
// budget, a 1% minimum effect, and 14 looks from 16 pairs growing by half
// each time (16, 24, 36, ... 3114 pairs).
func DefaultPairedRule() PairedRule {
	return PairedRule{Alpha: 0.01, MinEffect: 0.01, FirstLook: 16, Growth: 1.5, MaxLooks: 14}
}

// Check reports a rule that cannot be used.
func (r PairedRule) Check() error {
	switch {
	case !(r.Alpha > 0 && r.Alpha < 1):
		return fmt.Errorf("paired rule: alpha %v is not between 0 and 1", r.Alpha)
	case !(r.MinEffect > 0 && r.MinEffect < 1):
		return fmt.Errorf("paired rule: minimum effect %v is not between 0 and 1 (a fraction)", r.MinEffect)
	case r.FirstLook < 2:
		return fmt.Errorf("paired rule: first look at %d pairs; need at least 2", r.FirstLook)
	case !(r.Growth > 1):
		return fmt.Errorf("paired rule: growth %v must be above 1", r.Growth)
	case r.MaxLooks < 1:
		return fmt.Errorf("paired rule: %d looks; need at least 1", r.MaxLooks)
	}
	return nil
}

// Looks returns the pair counts at which the rule looks, increasing; each is
// even, because an ABBA block gives two pairs.
func (r PairedRule) Looks() []int {
	looks := make([]int, 0, r.MaxLooks)
	x := float64(r.FirstLook)
	for len(looks) < r.MaxLooks {
		n := int(math.Ceil(x))
		n += n % 2
		if len(looks) > 0 && n <= looks[len(looks)-1] {
			n = looks[len(looks)-1] + 2
		}
		looks = append(looks, n)
		x *= r.Growth
	}
	return looks
}

// LookConfidence is the confidence of each look's interval: 1-Alpha/MaxLooks.
func (r PairedRule) LookConfidence() float64 { return 1 - r.Alpha/float64(r.MaxLooks) }

// PairedEstimate is the paired statistic over some pairs: the Hodges-Lehmann
// estimate of the shift of ln(head/base) and its Wilcoxon signed-rank
// interval, given as ratios head/base.
type PairedEstimate struct {
	Pairs      int     `json:"pairs"`
	Ratio      float64 `json:"ratio"`
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	Confidence float64 `json:"confidence"`
}

// PairedResult is the outcome of the paired rule for one benchmark.
type PairedResult struct {
	Verdict  PairedVerdict  `json:"verdict"`
	Estimate PairedEstimate `json:"estimate"`
	// Look is the 1-based look that decided (or the last one taken).
	Look      int     `json:"look"`
	MinEffect float64 `json:"min_effect"`
	Alpha     float64 `json:"alpha"`
	// BaseRun is the run id of the base side it was measured against, so
	// that `codspeed compare` of the two runs uses the paired verdict.
	BaseRun string `json:"base_run,omitempty"`
}

// ComparisonVerdict is the comparison verdict a paired verdict reads as:
// "no change" is unchanged; anything undecided is inconclusive.
func (v PairedVerdict) ComparisonVerdict() Verdict {
	switch v {
	case PairedRegressed:
		return VerdictRegressed
	case PairedImproved:
		return VerdictImproved
	case PairedNoChange:
		return VerdictUnchanged
	}
	return VerdictInconclusive
}

// Note is the one-line account of a paired result shown with a verdict.
func (r PairedResult) Note() string {
	e := r.Estimate
	conf := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", 100*e.Confidence), "0"), ".") + "%"
	return fmt.Sprintf("paired ratio %.4f, %s interval [%.4f, %.4f] over %d ABBA pairs (look %d); %s",
		e.Ratio, conf, e.Lo, e.Hi, e.Pairs, r.Look, r.Verdict)
}

// LogRatios returns ln(head[i]/base[i]) for each pair. The slices must have
// the same length and positive values.
func LogRatios(base, head []float64) ([]float64, error) {
	if len(base) != len(head) {
		return nil, fmt.Errorf("paired samples: %d base and %d head values", len(base), len(head))
	}
	d := make([]float64, len(base))
	for i := range base {
		if !(base[i] > 0) || !(head[i] > 0) || math.IsInf(base[i], 0) || math.IsInf(head[i], 0) {
			return nil, fmt.Errorf("paired samples: pair %d (%v, %v) is not two positive times", i+1, base[i], head[i])
		}
		d[i] = math.Log(head[i] / base[i])
	}
	return d, nil
}

// EstimatePaired returns the Hodges-Lehmann estimate of the center of the
// log ratios d (the median of the Walsh averages (d_i+d_j)/2, i<=j) and the
// distribution-free interval of the Wilcoxon signed-rank test at the given
// confidence, as ratios. The interval assumes the pairs are independent and
// their log ratios symmetric about the true shift; it is infinite when there
// are too few pairs for that confidence. With no pairs everything is NaN.
func EstimatePaired(d []float64, confidence float64) PairedEstimate {
	n := len(d)
	e := PairedEstimate{Pairs: n, Confidence: confidence}
	if n == 0 {
		e.Ratio, e.Lo, e.Hi = math.NaN(), math.NaN(), math.NaN()
		return e
	}
	s := slices.Clone(d)
	slices.Sort(s)
	m := n * (n + 1) / 2
	var hl float64
	if m%2 == 1 {
		hl = walshQuantile(s, (m+1)/2)
	} else {
		hl = (walshQuantile(s, m/2) + walshQuantile(s, m/2+1)) / 2
	}
	e.Ratio = math.Exp(hl)
	c := SignedRankCritical(n, 1-confidence)
	if c < 0 {
		e.Lo, e.Hi = 0, math.Inf(1)
		return e
	}
	e.Lo = math.Exp(walshQuantile(s, c+1))
	e.Hi = math.Exp(walshQuantile(s, m-c))
	return e
}

// walshQuantile returns the k-th smallest (1-based) Walsh average of sorted,
// found by bisection on the value with an O(n) count per step, so that it
// needs no n^2 memory for thousands of pairs.
func walshQuantile(sorted []float64, k int) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	lo, hi := sorted[0], sorted[n-1]
	// Invariant: fewer than k averages are <= lo (unless lo is the minimum),
	// at least k are <= hi.
	if walshCount(sorted, lo) >= k {
		return lo
	}
	for i := 0; i < 200; i++ {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if walshCount(sorted, mid) >= k {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// walshCount counts the Walsh averages (sorted[i]+sorted[j])/2, i<=j, that
// are <= v.
func walshCount(sorted []float64, v float64) int {
	n := len(sorted)
	j := n - 1
	count := 0
	for i := 0; i < n; i++ {
		for j >= i && (sorted[i]+sorted[j])/2 > v {
			j--
		}
		if j < i {
			break
		}
		count += j - i + 1
	}
	return count
}

// SignedRankCritical returns the largest c such that, for n pairs with no
// shift, P(W+ <= c) <= alpha/2, where W+ is Wilcoxon's signed-rank statistic:
// the (c+1)-th smallest and (c+1)-th largest Walsh averages bound the
// two-sided 1-alpha interval. It is -1 when no interval exists at that level.
// The null distribution is exact (a recursion over the ranks) up to 200 pairs
// and the normal approximation with continuity correction above.
func SignedRankCritical(n int, alpha float64) int {
	if n <= 0 {
		return -1
	}
	if n <= 200 {
		return signedRankExact(n, alpha)
	}
	m := n * (n + 1) / 2
	mu := float64(m) / 2
	sigma := math.Sqrt(float64(n) * float64(n+1) * float64(2*n+1) / 24)
	z := NormalQuantile(1 - alpha/2)
	c := int(math.Floor(mu - 0.5 - z*sigma))
	if c < 0 {
		return -1
	}
	return c
}

// NormalQuantile is the inverse of the standard normal distribution function.
func NormalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// Decide applies the rule's verdicts to an estimate: regressed when the
// interval is above 1 and the estimate at least 1+MinEffect; improved when
// the interval is below 1 and the estimate at most 1/(1+MinEffect); no change
// when the interval is within (1/(1+MinEffect), 1+MinEffect); otherwise
// PairedContinue.
func (r PairedRule) Decide(e PairedEstimate) PairedVerdict {
	up := 1 + r.MinEffect
	down := 1 / up
	switch {
	case math.IsNaN(e.Ratio):
		return PairedContinue
	case e.Lo > 1 && e.Ratio >= up:
		return PairedRegressed
	case e.Hi < 1 && e.Ratio <= down:
		return PairedImproved
	case e.Lo > down && e.Hi < up:
		return PairedNoChange
	}
	return PairedContinue
}

// Sequential runs the rule over a growing sequence of pairs. Call Due with
// the current pair count after each ABBA block; when it says so, call Look.
// When the time budget ends first, call Final once.
type Sequential struct {
	Rule  PairedRule
	looks []int
	next  int // index of the next look
	last  PairedResult
}

// NewSequential starts the rule.
func NewSequential(r PairedRule) (*Sequential, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	return &Sequential{Rule: r, looks: r.Looks()}, nil
}

// Due reports whether n pairs reach the next look.
func (s *Sequential) Due(n int) bool { return s.next < len(s.looks) && n >= s.looks[s.next] }

// Exhausted reports whether every look has been taken.
func (s *Sequential) Exhausted() bool { return s.next >= len(s.looks) }

// MaxPairs is the pair count of the last look.
func (s *Sequential) MaxPairs() int { return s.looks[len(s.looks)-1] }

// Look takes the next look at the log ratios d; done is true once the
// verdict is final (a decision, or inconclusive after the last look).
func (s *Sequential) Look(d []float64) (res PairedResult, done bool) {
	if s.Exhausted() {
		return s.last, true
	}
	s.next++
	e := EstimatePaired(d, s.Rule.LookConfidence())
	res = PairedResult{Verdict: s.Rule.Decide(e), Estimate: e, Look: s.next, MinEffect: s.Rule.MinEffect, Alpha: s.Rule.Alpha}
	if res.Verdict == PairedContinue && s.Exhausted() {
		res.Verdict = PairedInconclusive
	}
	s.last = res
	return res, res.Verdict != PairedContinue
}

// Final is the look taken when the time budget ends before a verdict: it
// uses one of the looks not yet taken (so the error budget still holds) and
// turns "continue" into inconclusive. With every look taken it returns the
// last result.
func (s *Sequential) Final(d []float64) PairedResult {
	if s.Exhausted() || len(d) == 0 {
		if s.last.Verdict == PairedContinue {
			s.last.Verdict = PairedInconclusive
			if len(d) == 0 {
				s.last.Estimate = EstimatePaired(nil, s.Rule.LookConfidence())
			}
		}
		return s.last
	}
	res, _ := s.Look(d)
	if res.Verdict == PairedContinue {
		res.Verdict = PairedInconclusive
	}
	s.last = res
	s.next = len(s.looks)
	return res
}

// signedRankExact is SignedRankCritical from the exact null distribution.
func signedRankExact(n int, alpha float64) int {
	m := n * (n + 1) / 2
	// p[s] = P(W+ = s): each rank k is in the positive set with
	// probability 1/2.
	p := make([]float64, m+1)
	p[0] = 1
	top := 0
	for k := 1; k <= n; k++ {
		for s := top + k; s >= 0; s-- {
			v := p[s] / 2
			if s >= k {
				v += p[s-k] / 2
			}
			p[s] = v
		}
		top += k
	}
	cum := 0.0
	c := -1
	for s := 0; s <= m; s++ {
		cum += p[s]
		if cum > alpha/2*(1+1e-12) {
			break
		}
		c = s
	}
	return c
}

// MarshalJSON writes the ratio and the interval's ends as null when they are
// not finite (no pairs; an interval too wide to have an end).
func (e PairedEstimate) MarshalJSON() ([]byte, error) {
	finite := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		Pairs      int      `json:"pairs"`
		Ratio      *float64 `json:"ratio"`
		Lo         *float64 `json:"lo"`
		Hi         *float64 `json:"hi"`
		Confidence float64  `json:"confidence"`
	}{e.Pairs, finite(e.Ratio), finite(e.Lo), finite(e.Hi), e.Confidence})
}

// UnmarshalJSON reads null as NaN, except the high end of an interval whose
// ratio is known: +Inf.
func (e *PairedEstimate) UnmarshalJSON(b []byte) error {
	var v struct {
		Pairs      int      `json:"pairs"`
		Ratio      *float64 `json:"ratio"`
		Lo         *float64 `json:"lo"`
		Hi         *float64 `json:"hi"`
		Confidence float64  `json:"confidence"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	or := func(p *float64, d float64) float64 {
		if p == nil {
			return d
		}
		return *p
	}
	hi := math.Inf(1)
	if v.Ratio == nil {
		hi = math.NaN()
	}
	*e = PairedEstimate{Pairs: v.Pairs, Ratio: or(v.Ratio, math.NaN()), Lo: or(v.Lo, math.NaN()), Hi: or(v.Hi, hi), Confidence: v.Confidence}
	return nil
}
