package web

import (
	"math"
	"strconv"
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
	// Links, when set, make each point a link (its run's page).
	Links []string
	Times []time.Time
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
// its commit, date and figure in a <title>, linking its run's page; each detected change is a
// vertical line of class "change". Text comes from uploads, so all of it is
// escaped here. It appends to one byte slice with strconv (no templates, no
// fmt, no string concatenation per point): a 10,000-run history is one pass
// over the points.
func (c *chart) svg() string {
	n := len(c.Values)
	b := make([]byte, 0, 1024+n*170)
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
	num := func(v float64) { b = strconv.AppendFloat(b, v, 'f', 1, 64) }
	str := func(ss ...string) {
		for _, s := range ss {
			b = append(b, s...)
		}
	}
	text := func(s string) { b = appendEscaped(b, s) }
	itoa := strconv.Itoa

	str(`<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `, itoa(chartW), " ", itoa(chartH), `" role="img" aria-label="`)
	text(c.Label + " over " + itoa(n) + " runs")
	str(`" data-points="`, itoa(n), `">`)
	// Axes and grid.
	for t := 0; t <= yTicks; t++ {
		v := lo + (hi-lo)*float64(t)/yTicks
		str(`<line class="grid" x1="`, itoa(chartLeft), `" x2="`, itoa(chartW-chartRight), `" y1="`)
		num(y(v))
		str(`" y2="`)
		num(y(v))
		str(`"/><text class="tick" x="`, itoa(chartLeft-6), `" y="`)
		num(y(v))
		str(`">`)
		text(c.Format(v))
		str(`</text>`)
	}
	if n > 0 && len(c.Times) == n {
		str(`<text class="date" x="`, itoa(chartLeft), `" y="`, itoa(chartH-8), `">`, c.Times[0].UTC().Format("2006-01-02"), `</text>`)
		if n > 1 {
			str(`<text class="date end" x="`, itoa(chartW-chartRight), `" y="`, itoa(chartH-8), `">`, c.Times[n-1].UTC().Format("2006-01-02"), `</text>`)
		}
	}
	point := func(cmd byte, i int, v float64) {
		b = append(b, cmd)
		num(x(i))
		b = append(b, ' ')
		num(y(v))
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
			str(`<path class="band" d="`)
			for k := i; k < j; k++ {
				cmd := byte('L')
				if k == i {
					cmd = 'M'
				}
				point(cmd, k, c.Hi[k])
			}
			for k := j - 1; k >= i; k-- {
				point('L', k, c.Lo[k])
			}
			str(`Z"/>`)
			i = j
		}
	}
	// The lines, broken where a run has no figure.
	line := func(class string, vs []float64) {
		str(`<path class="`, class, `" d="`)
		pen := false
		for i, v := range vs {
			if !finite(v) {
				pen = false
				continue
			}
			cmd := byte('M')
			if pen {
				cmd = 'L'
			}
			point(cmd, i, v)
			pen = true
		}
		str(`"/>`)
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
		str(`<line class="`, class, `" x1="`)
		num(xx)
		str(`" x2="`)
		num(xx)
		str(`" y1="`, itoa(chartTop), `" y2="`, itoa(chartH-chartBottom), `"><title>`)
		text(ch.Title)
		str(`</title></line>`)
	}
	// One element per run.
	bottom := float64(chartH - chartBottom)
	for i, v := range c.Values {
		tip := ""
		if i < len(c.Tips) {
			tip = c.Tips[i]
		}
		link := i < len(c.Links) && c.Links[i] != ""
		if link {
			str(`<a href="`)
			text(c.Links[i])
			str(`">`)
		}
		if !finite(v) {
			msg := "no figure"
			if i < len(c.Errors) && c.Errors[i] != "" {
				msg = "failed: " + c.Errors[i]
			}
			str(`<path class="pt failed" d="M`)
			num(x(i) - 3)
			b = append(b, ' ')
			num(bottom)
			str(`l6 -6m0 6l-6 -6"><title>`)
			text(tip)
			str(": ")
			text(msg)
			str(`</title></path>`)
			if link {
				str(`</a>`)
			}
			continue
		}
		str(`<circle class="pt" cx="`)
		num(x(i))
		str(`" cy="`)
		num(y(v))
		str(`" r="2.5"><title>`)
		text(tip)
		str(": ")
		text(c.Format(v))
		str(`</title></circle>`)
		if link {
			str(`</a>`)
		}
	}
	str(`</svg>`)
	return string(b)
}

// appendEscaped appends s escaped for XML/HTML text and attribute values;
// control characters, which XML cannot carry, become U+FFFD (invalid UTF-8
// is left to the page's decoder, which shows U+FFFD too).
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch c := s[i]; c {
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '&':
			rep = "&amp;"
		case '"':
			rep = "&#34;"
		case '\'':
			rep = "&#39;"
		default:
			if c >= 0x20 && c != 0x7f || c == '\t' || c == '\n' {
				continue
			}
			rep = "\uFFFD"
		}
		b = append(b, s[start:i]...)
		b = append(b, rep...)
		start = i + 1
	}
	return append(b, s[start:]...)
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
