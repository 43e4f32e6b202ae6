package web

import (
	"html"
	"math"
	"strconv"
	"strings"
	"time"
)

// chart is one history chart: a figure per run, oldest first, with an
// optional spread band (Lo..Hi) and the indexes of detected changes.
type chart struct {
	// Label names the figure for screen readers ("median", "peak memory").
	Label string
	// Format renders a value of the figure in its unit.
	Format func(float64) string
	// Values has one entry per run; NaN where the run has no figure (the
	// benchmark failed in it).
	Values []float64
	// Lo and Hi, when set, are the spread of each value (walltime's first
	// and third quartiles); NaN where unknown.
	Lo, Hi []float64
	// Second, when set, is another figure per run drawn as a thin line
	// (walltime's fastest round), named SecondLabel.
	Second      []float64
	SecondLabel string
	// Tips are each point's tooltip prefix (commit, date); Errors the
	// failure of each run's benchmark, "" when it ran.
	Tips   []string
	Errors []string
	Times  []time.Time
	// Changes are detected changes: the index of the first point of the
	// new level and whether the figure went up.
	Changes []chartChange
}

type chartChange struct {
	Index int
	Up    bool
	Title string
}

// Geometry of a chart, in SVG user units; the SVG scales to its container.
const (
	chartW      = 760
	chartH      = 200
	chartLeft   = 72
	chartRight  = 12
	chartTop    = 10
	chartBottom = 26
	yTicks      = 4
)

// svg draws c as an inline SVG element. Every run is one element of class
// "pt" (a circle, or a cross at the bottom when the benchmark failed), with
// its commit, date and figure in a <title>; each detected change is a
// vertical line of class "change". Text comes from uploads, so all of it is
// escaped here. It writes with a strings.Builder and strconv (no templates,
// no fmt): a 10,000-run history is one pass over the points.
func (c *chart) svg() string {
	n := len(c.Values)
	var sb strings.Builder
	sb.Grow(256 + n*160)
	lo, hi := c.yRange()
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	x := func(i int) float64 {
		if n <= 1 {
			return chartLeft + plotW/2
		}
		return chartLeft + plotW*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return chartTop + plotH*(1-(v-lo)/(hi-lo)) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

	sb.WriteString(`<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `)
	sb.WriteString(strconv.Itoa(chartW) + " " + strconv.Itoa(chartH))
	sb.WriteString(`" role="img" aria-label="`)
	sb.WriteString(html.EscapeString(c.Label + " over " + strconv.Itoa(n) + " runs"))
	sb.WriteString(`" data-points="` + strconv.Itoa(n) + `">`)
	// Axes and grid.
	for t := 0; t <= yTicks; t++ {
		v := lo + (hi-lo)*float64(t)/yTicks
		yy := f(y(v))
		sb.WriteString(`<line class="grid" x1="` + strconv.Itoa(chartLeft) + `" x2="` + strconv.Itoa(chartW-chartRight) +
			`" y1="` + yy + `" y2="` + yy + `"/><text class="tick" x="` + strconv.Itoa(chartLeft-6) + `" y="` + yy + `">` +
			html.EscapeString(c.Format(v)) + `</text>`)
	}
	if n > 0 && len(c.Times) == n {
		sb.WriteString(`<text class="date" x="` + strconv.Itoa(chartLeft) + `" y="` + strconv.Itoa(chartH-8) + `">` +
			c.Times[0].UTC().Format("2006-01-02") + `</text>`)
		if n > 1 {
			sb.WriteString(`<text class="date end" x="` + strconv.Itoa(chartW-chartRight) + `" y="` + strconv.Itoa(chartH-8) + `">` +
				c.Times[n-1].UTC().Format("2006-01-02") + `</text>`)
		}
	}
	// The spread band: one polygon per run of points that have both ends.
	if len(c.Lo) == n && len(c.Hi) == n {
		for i := 0; i < n; {
			if !finite(c.Lo[i]) || !finite(c.Hi[i]) {
				i++
				continue
			}
			j := i
			for j < n && finite(c.Lo[j]) && finite(c.Hi[j]) {
				j++
			}
			sb.WriteString(`<path class="band" d="M`)
			for k := i; k < j; k++ {
				if k > i {
					sb.WriteByte('L')
				}
				sb.WriteString(f(x(k)) + " " + f(y(c.Hi[k])))
			}
			for k := j - 1; k >= i; k-- {
				sb.WriteString("L" + f(x(k)) + " " + f(y(c.Lo[k])))
			}
			sb.WriteString(`Z"/>`)
			i = j
		}
	}
	// The lines, broken where a run has no figure.
	line := func(class string, vs []float64) {
		sb.WriteString(`<path class="` + class + `" d="`)
		pen := false
		for i, v := range vs {
			if !finite(v) {
				pen = false
				continue
			}
			if pen {
				sb.WriteByte('L')
			} else {
				sb.WriteByte('M')
			}
			sb.WriteString(f(x(i)) + " " + f(y(v)))
			pen = true
		}
		sb.WriteString(`"/>`)
	}
	if len(c.Second) == n {
		line("line second", c.Second)
	}
	line("line", c.Values)
	// Detected changes, under the points so that points stay hoverable.
	for _, ch := range c.Changes {
		if ch.Index < 0 || ch.Index >= n {
			continue
		}
		// Halfway between the last point of the old level and the first
		// of the new one.
		xx := x(ch.Index)
		if ch.Index > 0 {
			xx = (x(ch.Index-1) + xx) / 2
		}
		class := "change down"
		if ch.Up {
			class = "change up"
		}
		sb.WriteString(`<line class="` + class + `" x1="` + f(xx) + `" x2="` + f(xx) + `" y1="` + strconv.Itoa(chartTop) +
			`" y2="` + strconv.Itoa(chartH-chartBottom) + `"><title>` + html.EscapeString(ch.Title) + `</title></line>`)
	}
	// One element per run.
	base := f(float64(chartH - chartBottom))
	for i, v := range c.Values {
		tip := ""
		if i < len(c.Tips) {
			tip = c.Tips[i]
		}
		if !finite(v) {
			msg := "no figure"
			if i < len(c.Errors) && c.Errors[i] != "" {
				msg = "failed: " + c.Errors[i]
			}
			xx := x(i)
			sb.WriteString(`<path class="pt failed" d="M` + f(xx-3) + " " + base + "l6 -6m0 6l-6 -6" + `"><title>` +
				html.EscapeString(tip+": "+msg) + `</title></path>`)
			continue
		}
		sb.WriteString(`<circle class="pt" cx="` + f(x(i)) + `" cy="` + f(y(v)) + `" r="2.5"><title>` +
			html.EscapeString(tip+": "+c.Format(v)) + `</title></circle>`)
	}
	sb.WriteString(`</svg>`)
	return sb.String()
}

// yRange is the value range shown: every value and band end, with 5% of
// room either side, and never empty.
func (c *chart) yRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, vs := range [][]float64{c.Values, c.Lo, c.Hi, c.Second} {
		for _, v := range vs {
			if finite(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	switch {
	case lo > hi:
		return 0, 1
	case lo == hi:
		d := math.Abs(lo) * 0.05
		if d == 0 {
			d = 1
		}
		return lo - d, hi + d
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	if lo < 0 && c.minValue() >= 0 {
		lo = 0
	}
	return lo, hi
}

func (c *chart) minValue() float64 {
	m := math.Inf(1)
	for _, vs := range [][]float64{c.Values, c.Lo, c.Second} {
		for _, v := range vs {
			if finite(v) {
				m = min(m, v)
			}
		}
	}
	return m
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
