package web

import (
	"math"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
	"github.com/codspeed-go/codspeed-go/server/changes"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// metric is one figure of a benchmark's history that gets a chart and
// change detection.
type metric struct {
	Name string // "median", "instructions", "peak memory", "alloc calls"
	Unit string // "ns", "count", "bytes"
	// value, lo and hi read a point; lo and hi are the spread (nil: none).
	value, lo, hi func(*store.Point) *float64
	// detectOn, when set, is the figure changes are detected on instead of
	// value; it is drawn as a second line.
	detectOn func(*store.Point) *float64
	// DetectName names detectOn.
	DetectName string
	// exact figures are judged by threshold alone (changes.Exact).
	exact bool
	// threshold is the smallest change reported: the default threshold of
	// `codspeed compare` for the instrument.
	threshold float64
}

// metricsOf lists the charted figures of an instrument: walltime's median
// with its interquartile spread, simulation's instructions, memory's peak
// and allocation calls. Unknown instruments have none.
//
// Walltime changes are detected on each run's fastest round, drawn as a
// second line: on a shared machine the median of a run moves with the
// machine's load (90 runs of one command on this project's shared 2-core
// machine had medians from 19 to 204 ms, fastest rounds from 14 to 43 ms),
// which is also why `codspeed compare` judges the fastest rounds.
func metricsOf(instrument string) []metric {
	th := compare.DefaultLimits(instrument).Regression
	switch instrument {
	case results.Walltime:
		return []metric{{Name: "median", Unit: "ns", threshold: th,
			value:    func(p *store.Point) *float64 { return p.MedianNs },
			lo:       func(p *store.Point) *float64 { return p.Q1Ns },
			hi:       func(p *store.Point) *float64 { return p.Q3Ns },
			detectOn: func(p *store.Point) *float64 { return p.MinNs }, DetectName: "fastest round"}}
	case results.Simulation:
		return []metric{{Name: "instructions", Unit: "count", threshold: th, exact: true,
			value: func(p *store.Point) *float64 { return p.Instructions }}}
	case results.Memory:
		return []metric{
			{Name: "peak memory", Unit: "bytes", threshold: th,
				value: func(p *store.Point) *float64 { return p.PeakBytes }},
			{Name: "alloc calls", Unit: "count", threshold: th,
				value: func(p *store.Point) *float64 { return p.AllocCalls }},
		}
	}
	return nil
}

func formatter(unit string) func(float64) string {
	switch unit {
	case "ns":
		return results.FormatNs
	case "bytes":
		return results.FormatBytes
	}
	return results.FormatCount
}

func values(pts []store.Point, get func(*store.Point) *float64) []float64 {
	out := make([]float64, len(pts))
	for i := range pts {
		out[i] = math.NaN()
		if get == nil {
			continue
		}
		if v := get(&pts[i]); v != nil && pts[i].Error == "" {
			out[i] = *v
		}
	}
	return out
}

// detect finds the changes of one metric of a series.
func detect(m metric, vs []float64) []changes.Change {
	if m.exact {
		return changes.Exact(vs, m.threshold)
	}
	return changes.Detect(vs, changes.Options{MinMagnitude: m.threshold})
}

// Change is one detected change of the changes API and page.
type Change struct {
	Instrument string `json:"instrument"`
	URI        string `json:"uri"`
	Name       string `json:"name"`
	// Metric is the figure that changed, in Unit.
	Metric string `json:"metric"`
	Unit   string `json:"unit"`
	// RunID, Commit and Time are the first run at the new level.
	RunID  string    `json:"run_id"`
	Commit string    `json:"commit"`
	Time   time.Time `json:"time"`
	// PreviousRunID is the run before it on the branch (the old level's
	// last), to compare the two.
	PreviousRunID string `json:"previous_run_id,omitempty"`
	// Method is "e-divisive" (tested; P is set) or "threshold" (exact
	// figures; P is null).
	Method string `json:"method"`
	// Before and After are the levels (means of the segments either side);
	// Change is After/Before - 1; P the t-test's p-value.
	Before    *float64 `json:"before"`
	After     *float64 `json:"after"`
	StdBefore *float64 `json:"std_before"`
	StdAfter  *float64 `json:"std_after"`
	Change    *float64 `json:"change"`
	P         *float64 `json:"p"`
	// Regression is true when the figure went up (every charted figure is
	// better smaller).
	Regression bool `json:"regression"`
}

func ptr(v float64) *float64 {
	if !finite(v) {
		return nil
	}
	return &v
}

// seriesView is one benchmark's history on the project page.
type seriesView struct {
	ID         string
	Instrument string
	URI        string
	Name       string
	Runs       int
	Charts     []chartView
}

type chartView struct {
	Metric string
	// Caption says what the chart draws.
	Caption string
	SVG     string
	Changes []Change
}

// analyze charts a series and detects its changes.
func analyze(se *store.Series) (charts []chartView, found []Change) {
	pts := se.Points
	tips := make([]string, len(pts))
	errs := make([]string, len(pts))
	times := make([]time.Time, len(pts))
	links := make([]string, len(pts))
	for i, p := range pts {
		tips[i] = shortCommit(p.Commit) + " " + p.Time.UTC().Format("2006-01-02 15:04")
		errs[i] = p.Error
		times[i] = p.Time
		links[i] = runPath(p.RunID)
	}
	for _, m := range metricsOf(se.Instrument) {
		vs := values(pts, m.value)
		if !anyFinite(vs) {
			continue
		}
		c := &chart{Label: m.Name, Format: formatter(m.Unit), Values: vs, Tips: tips, Errors: errs, Times: times, Links: links}
		if m.lo != nil {
			c.Lo, c.Hi = values(pts, m.lo), values(pts, m.hi)
		}
		dv, name := vs, m.Name
		if m.detectOn != nil {
			dv, name = values(pts, m.detectOn), m.DetectName
			c.Second, c.SecondLabel = dv, m.DetectName
		}
		var mine []Change
		for _, d := range detect(m, dv) {
			p := pts[d.Index]
			method := "e-divisive"
			if m.exact {
				method = "threshold"
			}
			ch := Change{
				Instrument: se.Instrument, URI: se.URI, Name: se.Name, Metric: name, Unit: m.Unit,
				RunID: p.RunID, Commit: p.Commit, Time: p.Time, Method: method,
				PreviousRunID: pts[max(d.Index-1, 0)].RunID,
				Before:        ptr(d.Before), After: ptr(d.After), StdBefore: ptr(d.StdBefore), StdAfter: ptr(d.StdAfter),
				Change: ptr(d.Change), P: ptr(d.P), Regression: d.After > d.Before,
			}
			mine = append(mine, ch)
			c.Changes = append(c.Changes, chartChange{Index: d.Index, Up: ch.Regression, Title: changeTitle(ch)})
		}
		caption := m.Name
		if m.lo != nil {
			caption += " (band: first to third quartile)"
		}
		if m.detectOn != nil {
			caption += "; dashed: " + m.DetectName + ", on which changes are detected"
		}
		charts = append(charts, chartView{Metric: m.Name, Caption: caption, SVG: c.svg(), Changes: mine})
		found = append(found, mine...)
	}
	return charts, found
}

func anyFinite(vs []float64) bool {
	for _, v := range vs {
		if finite(v) {
			return true
		}
	}
	return false
}

func changeTitle(c Change) string {
	f := formatter(c.Unit)
	s := c.Metric + " " + deref(c.Before, f) + " → " + deref(c.After, f)
	if c.Change != nil {
		s += " (" + results.FormatChange(results.Fraction(*c.Change)) + ")"
	} else {
		s += " (" + results.FormatChange(results.Fraction(math.Inf(1))) + ")"
	}
	return s + " at " + shortCommit(c.Commit)
}

func deref(v *float64, f func(float64) string) string {
	if v == nil {
		return "-"
	}
	return f(*v)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
