package compare

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"golang.org/x/perf/benchmath"

	"github.com/codspeed-go/codspeed-go/results"
)

// Limits are the thresholds of one benchmark, as fractions (0.05 is 5%).
type Limits struct {
	// Regression is the smallest increase reported as a regression.
	Regression float64
	// Improvement is the smallest decrease reported as an improvement.
	Improvement float64
}

// Default thresholds per instrument, and why:
//
//   - walltime 5%: on a shared 2-core machine two identical runs of the same
//     command differ by up to 5% even in their fastest rounds (BENCHMARKS.md
//     has the figures); a smaller default would fail CI on noise.
//   - simulation 2%: callgrind counts are reproducible to well under 1% for
//     the same binary (address layout and environment size move a few cache
//     misses), so 2% is beyond noise yet catches small code changes.
//   - memory 2%: allocation counts and sizes are exact for deterministic
//     programs; peak memory moves a little with allocator bookkeeping and
//     hash seeds, so not 0.
//
// The improvement thresholds equal the regression ones.
var defaultLimits = map[string]Limits{
	results.Walltime:   {0.05, 0.05},
	results.Simulation: {0.02, 0.02},
	results.Memory:     {0.02, 0.02},
}

// DefaultLimits returns the built-in thresholds of an instrument.
func DefaultLimits(instrument string) Limits {
	if l, ok := defaultLimits[instrument]; ok {
		return l
	}
	return Limits{0.05, 0.05}
}

// Defaults of Options.
const (
	DefaultAlpha      = 0.05
	DefaultConfidence = 0.95
	// DefaultTailShare: walltime verdicts look at the fastest 10% of rounds
	// (at least minTail of them). On a shared machine the slow rounds are
	// other programs' time, not the benchmark's: comparing medians of all
	// rounds flagged 30% of identical reruns here, the fastest rounds 3%.
	DefaultTailShare = 0.10
	minTail          = 8
)

// Options tune Compare. The zero value uses the defaults.
type Options struct {
	// Alpha is the significance level of the walltime test (default 0.05).
	Alpha float64
	// Confidence is the level of the confidence intervals (default 0.95).
	Confidence float64
	// TailShare is the share of the fastest walltime rounds that are
	// compared (default 0.10); 1 compares every round.
	TailShare float64
	// Limits returns the thresholds of one benchmark; nil uses
	// DefaultLimits. The benchmark is the head's, or the base's when the
	// head lacks it.
	Limits func(instrument string, b *results.Benchmark) Limits
}

func (o Options) withDefaults() Options {
	if o.Alpha <= 0 || o.Alpha >= 1 {
		o.Alpha = DefaultAlpha
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		o.Confidence = DefaultConfidence
	}
	if o.TailShare <= 0 || o.TailShare > 1 {
		o.TailShare = DefaultTailShare
	}
	if o.Limits == nil {
		o.Limits = func(instrument string, _ *results.Benchmark) Limits { return DefaultLimits(instrument) }
	}
	return o
}

type key struct{ instrument, uri string }

type entry struct {
	b  *results.Benchmark
	pf string // profile folder
}

// benchKey identifies a benchmark across runs: its instrument and URI, or
// its name when it has no URI.
func benchKey(instrument string, b *results.Benchmark) key {
	if b.URI == "" {
		return key{instrument, b.Name}
	}
	return key{instrument, b.URI}
}

func index(s *Side) (map[key]entry, []key) {
	m := map[key]entry{}
	var order []key
	if s == nil {
		return m, nil
	}
	for _, p := range s.Parts {
		for i := range p.File.Benchmarks {
			b := &p.File.Benchmarks[i]
			k := benchKey(p.File.Instrument.Type, b)
			if _, dup := m[k]; !dup {
				order = append(order, k)
			}
			m[k] = entry{b, p.ProfileFolder}
		}
	}
	return m, order
}

// Compare matches the benchmarks of base and head by instrument and URI and
// judges each. A nil base gives a report of the head alone (no verdicts).
func Compare(base, head *Side, o Options) *results.Comparison {
	o = o.withDefaults()
	c := &results.Comparison{Head: head.Ref, Alpha: o.Alpha, Confidence: o.Confidence}
	if base != nil {
		ref := base.Ref
		c.Base = &ref
	}
	bm, border := index(base)
	hm, horder := index(head)
	for _, k := range horder {
		h := hm[k]
		if base == nil {
			c.Benchmarks = append(c.Benchmarks, report(k.instrument, h, o))
			continue
		}
		bc := Judge(k.instrument, bm[k].b, h.b, o)
		applyPaired(&bc, base.Ref.RunID, h.b)
		attachProfiles(&bc, bm[k], h)
		c.Benchmarks = append(c.Benchmarks, bc)
	}
	for _, k := range border {
		if _, ok := hm[k]; !ok {
			bc := Judge(k.instrument, bm[k].b, nil, o)
			attachProfiles(&bc, bm[k], entry{})
			c.Benchmarks = append(c.Benchmarks, bc)
		}
	}
	Sort(c)
	return c
}

// applyPaired replaces the unpaired verdict by the paired one when the head
// benchmark was measured interleaved with this very base (`codspeed ab`):
// the pairing cancels the machine's drifts that the unpaired test cannot
// see.
func applyPaired(bc *results.BenchmarkChange, baseRun string, head *results.Benchmark) {
	if head == nil || head.Paired == nil || baseRun == "" || head.Paired.BaseRun != baseRun ||
		bc.BaseBenchmark == nil || bc.Verdict == results.VerdictFailed {
		return
	}
	p := *head.Paired
	bc.Paired = &p
	bc.Verdict = p.Verdict.ComparisonVerdict()
	bc.Change = results.Fraction(p.Estimate.Ratio - 1)
	bc.P = nil
	bc.Threshold, bc.ImprovementThreshold = p.MinEffect, p.MinEffect
	bc.Notes = append([]string{p.Note()}, bc.Notes...)
}

// Sort orders c's benchmarks by instrument, verdict (worst first) and name.
func Sort(c *results.Comparison) {
	rank := map[string]int{results.Walltime: 0, results.Simulation: 1, results.Memory: 2}
	slices.SortStableFunc(c.Benchmarks, func(a, b results.BenchmarkChange) int {
		if a.Instrument != b.Instrument {
			ra, oka := rank[a.Instrument]
			rb, okb := rank[b.Instrument]
			if oka && okb {
				return cmp.Compare(ra, rb)
			}
			return cmp.Compare(a.Instrument, b.Instrument)
		}
		if a.Verdict != b.Verdict {
			if results.VerdictLess(a.Verdict, b.Verdict) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
}

func attachProfiles(bc *results.BenchmarkChange, base, head entry) {
	if f, unit := folded(base); f != "" {
		bc.BaseFolded, bc.ProfileUnit = f, unit
	}
	if f, unit := folded(head); f != "" {
		bc.HeadFolded, bc.ProfileUnit = f, unit
	}
}

func folded(e entry) (path, unit string) {
	if e.b == nil || e.b.Profile == nil || e.b.Profile.Folded == "" {
		return "", ""
	}
	// Artifact paths are relative to the profile folder; a results file
	// from elsewhere that names another file (/dev/zero, ../../secret) gets
	// no flame graph rather than reading it.
	if !filepath.IsLocal(e.b.Profile.Folded) {
		return "", ""
	}
	return filepath.Join(e.pf, e.b.Profile.Folded), e.b.Profile.Event
}

// report describes one head benchmark without a base.
func report(instrument string, h entry, o Options) results.BenchmarkChange {
	bc := Judge(instrument, nil, h.b, o)
	bc.Verdict = ""
	bc.Notes = nil
	if instrument == results.Walltime && len(h.b.Samples) > 0 {
		s := benchmath.NewSample(fastTail(h.b.Samples, o.TailShare), &benchmath.Thresholds{CompareAlpha: o.Alpha})
		sum := benchmath.AssumeNothing.Summary(s, o.Confidence)
		bc.Head, bc.HeadCI, bc.HeadRounds = sum.Center, interval(sum), len(h.b.Samples)
	}
	if h.b.Error != "" {
		bc.Verdict = results.VerdictFailed
		bc.Notes = []string{h.b.Error}
	}
	attachProfiles(&bc, entry{}, h)
	return bc
}

// Judge compares one benchmark of the base with the same benchmark of the
// head; either may be nil (missing or new). It is Compare's work for one
// benchmark, exported for callers that re-measure.
func Judge(instrument string, base, head *results.Benchmark, o Options) results.BenchmarkChange {
	o = o.withDefaults()
	ref := head
	if ref == nil {
		ref = base
	}
	lim := o.Limits(instrument, ref)
	bc := results.BenchmarkChange{
		Instrument: instrument, Name: ref.Name, URI: ref.URI,
		Threshold: lim.Regression, ImprovementThreshold: lim.Improvement,
		Change:        results.Fraction(math.NaN()),
		BaseBenchmark: base, HeadBenchmark: head,
	}
	switch instrument {
	case results.Walltime:
		bc.Metric, bc.Unit = "fast median", "ns"
	case results.Simulation:
		bc.Metric, bc.Unit = "estimated time", "ns"
	case results.Memory:
		bc.Metric, bc.Unit = "peak memory", "bytes"
	}
	switch {
	case head == nil:
		bc.Verdict = results.VerdictMissing
		bc.Base = headline(instrument, base, o)
		return bc
	case base == nil:
		bc.Verdict = results.VerdictNew
		bc.Head = headline(instrument, head, o)
		return bc
	case head.Error != "" && base.Error != "":
		bc.Verdict = results.VerdictUnchanged
		bc.Notes = append(bc.Notes, "failed in both: "+head.Error)
		return bc
	case head.Error != "":
		bc.Verdict = results.VerdictFailed
		bc.Base = headline(instrument, base, o)
		bc.Notes = append(bc.Notes, head.Error)
		return bc
	case base.Error != "":
		bc.Verdict = results.VerdictNew
		bc.Head = headline(instrument, head, o)
		bc.Notes = append(bc.Notes, "failed in the base: "+base.Error)
		return bc
	}
	switch instrument {
	case results.Walltime:
		judgeWalltime(&bc, base, head, lim, o)
	case results.Simulation:
		judgeSimulation(&bc, base, head, lim)
	case results.Memory:
		judgeMemory(&bc, base, head, lim)
	default:
		bc.Verdict = results.VerdictUnchanged
		bc.Notes = append(bc.Notes, fmt.Sprintf("unknown instrument %q: not compared", instrument))
	}
	return bc
}

// headline is the main figure of one side alone.
func headline(instrument string, b *results.Benchmark, o Options) float64 {
	switch instrument {
	case results.Walltime:
		if len(b.Samples) > 0 {
			return median(fastTail(b.Samples, o.TailShare))
		}
		if b.Stats != nil {
			return b.Stats.MedianNs
		}
	case results.Simulation:
		if b.Simulation != nil {
			return b.Simulation.TimeNs
		}
	case results.Memory:
		if b.Memory != nil {
			return b.Memory.PeakBytes
		}
	}
	return math.NaN()
}

// change is head/base - 1: NaN when base is zero or either is not a number,
// except that zero to zero is no change and zero to more is +Inf.
func change(base, head float64) float64 {
	switch {
	case math.IsNaN(base) || math.IsNaN(head):
		return math.NaN()
	case base == 0 && head == 0:
		return 0
	case base == 0:
		return math.Inf(1)
	}
	return head/base - 1
}

// exact judges a change with no noise model: simulation and memory figures.
func exact(ch float64, lim Limits) results.Verdict {
	switch {
	case math.IsNaN(ch):
		return results.VerdictUnchanged
	case ch >= lim.Regression:
		return results.VerdictRegressed
	case -ch >= lim.Improvement:
		return results.VerdictImproved
	}
	return results.VerdictUnchanged
}

// fastTail returns the fastest share of samples, sorted, at least minTail
// of them (all when there are fewer). It copies: samples keeps its order.
func fastTail(samples []float64, share float64) []float64 {
	s := slices.Clone(samples)
	slices.Sort(s)
	k := int(math.Ceil(share * float64(len(s))))
	k = max(k, minTail)
	return s[:min(k, len(s))]
}

func median(sorted []float64) float64 {
	return results.Quantile(sorted, 0.5)
}

// judgeWalltime tests the fastest rounds of each side with the Mann-Whitney
// U test (benchmath.AssumeNothing) and requires both significance and a
// change of the median of those rounds beyond the thresholds. Significant
// changes smaller than the thresholds are unchanged; changes beyond them that
// the test cannot confirm are "not significant".
func judgeWalltime(bc *results.BenchmarkChange, base, head *results.Benchmark, lim Limits, o Options) {
	if len(base.Samples) == 0 || len(head.Samples) == 0 {
		judgeWalltimeStats(bc, base, head, lim)
		return
	}
	th := &benchmath.Thresholds{CompareAlpha: o.Alpha}
	// NewSample sorts in place; fastTail returns copies.
	sb := benchmath.NewSample(fastTail(base.Samples, o.TailShare), th)
	sh := benchmath.NewSample(fastTail(head.Samples, o.TailShare), th)
	sumB := benchmath.AssumeNothing.Summary(sb, o.Confidence)
	sumH := benchmath.AssumeNothing.Summary(sh, o.Confidence)
	test := benchmath.AssumeNothing.Compare(sb, sh)

	bc.Base, bc.Head = sumB.Center, sumH.Center
	bc.BaseRounds, bc.HeadRounds = len(base.Samples), len(head.Samples)
	bc.BaseCI, bc.HeadCI = interval(sumB), interval(sumH)
	p := test.P
	bc.P = &p
	for _, ws := range [][]error{sumB.Warnings, sumH.Warnings, test.Warnings} {
		for _, w := range ws {
			bc.Notes = appendOnce(bc.Notes, w.Error())
		}
	}
	ch := change(bc.Base, bc.Head)
	bc.Change = results.Fraction(ch)
	allB, allH := slices.Clone(base.Samples), slices.Clone(head.Samples)
	slices.Sort(allB)
	slices.Sort(allH)
	mb, mh := median(allB), median(allH)
	bc.Figures = append(bc.Figures, results.FigureChange{Name: "median, all rounds", Unit: "ns",
		Base: mb, Head: mh, Change: results.Fraction(change(mb, mh))})

	significant := test.P < test.Alpha
	v := exact(ch, lim)
	switch {
	case v == results.VerdictUnchanged:
	case !significant:
		v = results.VerdictNotSignificant
		bc.Notes = append(bc.Notes, fmt.Sprintf("a change of %s is beyond the threshold but not significant (p=%.3f ≥ %g): re-run with more rounds (--min-rounds, --max-time) or on a quieter machine",
			results.FormatChange(bc.Change), test.P, test.Alpha))
	}
	bc.Verdict = v
}

// judgeWalltimeStats is the fallback for results without per-round samples
// (written by other tools): medians only, so a change is never called
// significant.
func judgeWalltimeStats(bc *results.BenchmarkChange, base, head *results.Benchmark, lim Limits) {
	bc.Metric = "median"
	if base.Stats == nil || head.Stats == nil {
		bc.Verdict = results.VerdictUnchanged
		bc.Notes = append(bc.Notes, "no walltime figures on one side: not compared")
		return
	}
	bc.Base, bc.Head = base.Stats.MedianNs, head.Stats.MedianNs
	bc.BaseRounds, bc.HeadRounds = base.Stats.Rounds, head.Stats.Rounds
	ch := change(bc.Base, bc.Head)
	bc.Change = results.Fraction(ch)
	bc.Verdict = results.VerdictUnchanged
	if exact(ch, lim) != results.VerdictUnchanged {
		bc.Verdict = results.VerdictNotSignificant
	}
	bc.Notes = append(bc.Notes, "no per-round samples (samples_ns) in the results: medians compared without a test")
}

func interval(s benchmath.Summary) *results.Interval {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) || math.IsNaN(s.Lo) || math.IsNaN(s.Hi) {
		return nil
	}
	return &results.Interval{Lo: s.Lo, Hi: s.Hi, Confidence: s.Confidence}
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// judgeSimulation compares the estimated time (instructions when a side has
// no time, or the cost models differ), exactly: callgrind counts have no
// sampling noise to test for.
func judgeSimulation(bc *results.BenchmarkChange, base, head *results.Benchmark, lim Limits) {
	b, h := base.Simulation, head.Simulation
	if b == nil || h == nil {
		bc.Verdict = results.VerdictUnchanged
		bc.Notes = append(bc.Notes, "no simulation figures on one side: not compared")
		return
	}
	bc.Base, bc.Head = b.TimeNs, h.TimeNs
	if b.TimeNs == 0 || h.TimeNs == 0 || b.CostModel.Name != h.CostModel.Name {
		if b.CostModel.Name != h.CostModel.Name {
			bc.Notes = append(bc.Notes, fmt.Sprintf("cost models differ (%q, %q): instructions compared", b.CostModel.Name, h.CostModel.Name))
		}
		bc.Metric, bc.Unit = "instructions", "count"
		bc.Base, bc.Head = b.Instructions, h.Instructions
	}
	ch := change(bc.Base, bc.Head)
	bc.Change = results.Fraction(ch)
	bc.Verdict = exact(ch, lim)
	for _, f := range []struct {
		name string
		b, h float64
	}{{"instructions", b.Instructions, h.Instructions}, {"L1 misses", b.L1Misses, h.L1Misses}, {"LL misses", b.LLMisses, h.LLMisses}} {
		bc.Figures = append(bc.Figures, results.FigureChange{Name: f.name, Unit: "count", Base: f.b, Head: f.h,
			Change: results.Fraction(change(f.b, f.h))})
	}
}

// judgeMemory judges peak memory, total allocated bytes and allocation calls
// each against the thresholds; the benchmark's verdict is the worst of them
// (any regression regresses it), its headline the peak.
func judgeMemory(bc *results.BenchmarkChange, base, head *results.Benchmark, lim Limits) {
	b, h := base.Memory, head.Memory
	if b == nil || h == nil {
		bc.Verdict = results.VerdictUnchanged
		bc.Notes = append(bc.Notes, "no memory figures on one side: not compared")
		return
	}
	bc.Base, bc.Head = b.PeakBytes, h.PeakBytes
	bc.Change = results.Fraction(change(b.PeakBytes, h.PeakBytes))
	bc.Verdict = results.VerdictUnchanged
	for _, f := range []struct {
		name, unit string
		b, h       float64
	}{{"peak memory", "bytes", b.PeakBytes, h.PeakBytes},
		{"total allocated", "bytes", b.TotalAllocatedBytes, h.TotalAllocatedBytes},
		{"alloc calls", "count", b.AllocCalls, h.AllocCalls}} {
		ch := change(f.b, f.h)
		v := exact(ch, lim)
		bc.Figures = append(bc.Figures, results.FigureChange{Name: f.name, Unit: f.unit, Base: f.b, Head: f.h,
			Change: results.Fraction(ch), Verdict: v})
		if results.VerdictLess(v, bc.Verdict) {
			bc.Verdict = v
		}
	}
}
