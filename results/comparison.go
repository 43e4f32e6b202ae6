package results

import (
	"encoding/json"
	"math"
)

// Verdict is what a comparison concluded about one benchmark.
type Verdict string

// Verdicts, from the worst for the head to the neutral ones.
const (
	// VerdictFailed: the benchmark ran in the base but failed in the head.
	VerdictFailed Verdict = "failed"
	// VerdictRegressed: slower (or larger) by at least the regression
	// threshold, and for walltime the difference is significant.
	VerdictRegressed Verdict = "regressed"
	// VerdictNotSignificant: the change is beyond a threshold but the rounds
	// are too noisy (or too few) to tell it from chance; walltime only.
	VerdictNotSignificant Verdict = "not significant"
	// VerdictImproved: faster (or smaller) by at least the improvement
	// threshold, significant for walltime.
	VerdictImproved Verdict = "improved"
	// VerdictInconclusive: a paired A/B measurement (`codspeed ab`) spent
	// its time budget without a clear verdict; never a regression.
	VerdictInconclusive Verdict = "inconclusive"
	// VerdictUnchanged: within the thresholds.
	VerdictUnchanged Verdict = "unchanged"
	// VerdictNew: only in the head.
	VerdictNew Verdict = "new"
	// VerdictMissing: only in the base.
	VerdictMissing Verdict = "missing"
)

// Comparison is the outcome of comparing a base run with a head run. Renderers
// (RenderComparisonTable, RenderMarkdown, RenderHTML, RenderComparisonJSON)
// take it as it is; results/compare builds it. A Comparison with a nil Base is
// a report of the head alone (`codspeed report`): its benchmarks carry only
// head figures and no verdict.
type Comparison struct {
	Base *RunRef `json:"base,omitempty"`
	Head RunRef  `json:"head"`
	// Alpha is the significance level of the walltime test; Confidence the
	// level of the confidence intervals shown.
	Alpha      float64 `json:"alpha,omitempty"`
	Confidence float64 `json:"confidence,omitempty"`
	// Benchmarks are sorted by instrument, then by verdict (worst first),
	// then by name.
	Benchmarks []BenchmarkChange `json:"benchmarks"`
}

// RunRef says what one side of a comparison is.
type RunRef struct {
	// Label is how the user named it (a run id, a path, a git ref).
	Label string `json:"label"`
	// RunID is the store's run id, when the side is a stored run or a results
	// file that names its run.
	RunID string  `json:"run_id,omitempty"`
	Git   GitInfo `json:"git,omitzero"`
	// Source is the folder or file the results were read from.
	Source string `json:"source"`
}

// BenchmarkChange is one benchmark's comparison.
type BenchmarkChange struct {
	Instrument string  `json:"instrument"`
	Name       string  `json:"name"`
	URI        string  `json:"uri"`
	Verdict    Verdict `json:"verdict,omitempty"`
	// Metric names the figure Base and Head are ("median", "estimated
	// time", "instructions", "peak memory"), in Unit ("ns", "bytes",
	// "count").
	Metric string  `json:"metric"`
	Unit   string  `json:"unit"`
	Base   float64 `json:"base"`
	Head   float64 `json:"head"`
	// Change is Head/Base - 1 (0.05 is 5% slower or larger); NaN when it
	// cannot be computed (a side is absent or Base is zero with a non-zero
	// Head), written as null in JSON.
	Change Fraction `json:"change"`
	// Threshold and ImprovementThreshold are the limits that applied, as
	// fractions.
	Threshold            float64 `json:"threshold"`
	ImprovementThreshold float64 `json:"improvement_threshold"`

	// Walltime only: the p-value of the Mann-Whitney U test, the confidence
	// interval of each side's center, and the rounds each side measured.
	P          *float64  `json:"p,omitempty"`
	BaseCI     *Interval `json:"base_ci,omitempty"`
	HeadCI     *Interval `json:"head_ci,omitempty"`
	BaseRounds int       `json:"base_rounds,omitempty"`
	HeadRounds int       `json:"head_rounds,omitempty"`
	// Paired is set when base and head were measured interleaved (`codspeed
	// ab`): the paired ratio head/base with its interval, and the verdict of
	// the sequential rule, which the Verdict above repeats.
	Paired *PairedResult `json:"paired,omitempty"`

	// Figures are secondary figures with their own changes: memory's peak,
	// total allocated and allocation calls (each judged), simulation's
	// instructions and cache misses (shown, not judged).
	Figures []FigureChange `json:"figures,omitempty"`
	// Notes explain a verdict: warnings about the samples, a failure
	// message, the outcome of re-measuring.
	Notes []string `json:"notes,omitempty"`

	// BaseFolded and HeadFolded are folded-stack profiles of each side
	// (absolute paths) when the run recorded them; the HTML report draws
	// them.
	BaseFolded string `json:"base_folded,omitempty"`
	HeadFolded string `json:"head_folded,omitempty"`
	// ProfileUnit is what the folded values count ("samples", "Ir", ...).
	ProfileUnit string `json:"profile_unit,omitempty"`

	// BaseBenchmark and HeadBenchmark are the compared results, for callers
	// that judge again (re-measuring); not rendered.
	BaseBenchmark *Benchmark `json:"-"`
	HeadBenchmark *Benchmark `json:"-"`
}

// FigureChange is one secondary figure of a benchmark.
type FigureChange struct {
	Name    string   `json:"name"`
	Unit    string   `json:"unit"`
	Base    float64  `json:"base"`
	Head    float64  `json:"head"`
	Change  Fraction `json:"change"`
	Verdict Verdict  `json:"verdict,omitempty"`
}

// Interval is a confidence interval.
type Interval struct {
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	Confidence float64 `json:"confidence"`
}

// Fraction is a relative change. It is a float64 that encodes as JSON null
// when it is not a finite number, which encoding/json would refuse.
type Fraction float64

// MarshalJSON writes null for NaN and infinities.
func (f Fraction) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads null as NaN.
func (f *Fraction) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Fraction(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Fraction(v)
	return nil
}

// Regressed reports whether any benchmark regressed or failed in the head:
// what makes `codspeed compare` exit 1.
func (c *Comparison) Regressed() bool {
	for _, b := range c.Benchmarks {
		if b.Verdict == VerdictRegressed || b.Verdict == VerdictFailed {
			return true
		}
	}
	return false
}

// Count returns how many benchmarks have verdict v.
func (c *Comparison) Count(v Verdict) int {
	n := 0
	for _, b := range c.Benchmarks {
		if b.Verdict == v {
			n++
		}
	}
	return n
}

// verdictRank orders verdicts worst first, for sorting and summaries.
func verdictRank(v Verdict) int {
	switch v {
	case VerdictFailed:
		return 0
	case VerdictRegressed:
		return 1
	case VerdictNotSignificant:
		return 2
	case VerdictImproved:
		return 3
	case VerdictInconclusive:
		return 4
	case VerdictMissing:
		return 5
	case VerdictNew:
		return 6
	case VerdictUnchanged:
		return 7
	}
	return 8
}

// VerdictLess orders two verdicts worst first; results/compare sorts with it.
func VerdictLess(a, b Verdict) bool { return verdictRank(a) < verdictRank(b) }

// summaryVerdicts is the order verdict counts are listed in summaries.
var summaryVerdicts = []Verdict{VerdictFailed, VerdictRegressed, VerdictNotSignificant, VerdictImproved,
	VerdictInconclusive, VerdictUnchanged, VerdictNew, VerdictMissing}

// formatValue renders a metric value in its unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ns":
		return FormatNs(v)
	case "bytes":
		return FormatBytes(v)
	}
	return FormatCount(v)
}

// FormatChange renders a relative change with its sign: "+5.12%", "-0.300%",
// "0%"; "+∞" from zero to more; "-" when it cannot be computed.
func FormatChange(f Fraction) string {
	v := 100 * float64(f)
	if math.IsInf(v, 1) {
		return "+∞"
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if round3(v) == 0 {
		return "0%"
	}
	if v > 0 {
		return "+" + formatPercent(v)
	}
	return "-" + formatPercent(-v)
}
