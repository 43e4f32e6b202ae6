package flamegraph

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"strconv"
	"strings"
)

// Options control how a flame graph is drawn. The zero value draws a
// 1200-pixel-wide graph titled "Flame Graph" in "samples".
type Options struct {
	Title string // default "Flame Graph", or "Differential Flame Graph"
	Unit  string // what the values count: "samples", "Ir", "bytes"; default "samples"
	Width int    // pixels; default 1200
	// MinWidthPx is the narrowest frame drawn, in pixels (default 0.1);
	// narrower siblings are merged into one box or left out. A negative
	// value draws every frame, which can make graphs of large profiles
	// tens of megabytes.
	MinWidthPx float64
}

// Geometry, in pixels. charWidth approximates the average advance of the
// 12px sans-serif font, which decides how much of a name fits in a frame.
const (
	defaultWidth = 1200
	defaultMinPx = 0.1
	xPad         = 10
	topPad       = 52
	bottomPad    = 28
	frameHeight  = 16
	fontSize     = 12
	charWidth    = fontSize * 0.59
)

// ErrNotFinite is returned when a profile's values add up to infinity, which
// no graph can scale.
var ErrNotFinite = errors.New("flamegraph: profile total is not a finite number")

// WriteSVG draws p as a flame graph: the root at the bottom, each frame as
// wide as its inclusive value (its own value plus its callees'), callees
// above their callers in name order, colours derived from the frame name so
// a function has the same colour in every graph. The SVG is self-contained:
// inline CSS, and a small inline script that shows a frame's details on
// hover and zooms into a frame on click (click the bottom frame or "Reset
// zoom" to undo). It can be opened directly or inlined into an HTML page,
// several per page. Frame names are escaped, so any name is safe. An empty
// profile gives a graph that says so.
func WriteSVG(w io.Writer, p *Profile, o Options) error {
	o = o.withDefaults("Flame Graph")
	if math.IsInf(p.Total(), 0) || math.IsNaN(p.Total()) {
		return ErrNotFinite
	}
	sub := "Total: " + formatValue(p.Total(), o.Unit)
	var boxes []box
	if p.Total() > 0 {
		boxes = layout(p.sortedStacks(), nil, xPad, float64(o.Width-2*xPad), o.MinWidthPx)
	}
	total := p.Total()
	return writeSVG(w, o, sub, boxes, func(b box) (string, string) {
		title := fmt.Sprintf("%s: %s (%s)", b.name, formatValue(b.value, o.Unit), percent(b.value, total))
		if b.merged > 0 {
			return title, mergedFill
		}
		return title, hotColour(b.name)
	})
}

// WriteDiffSVG draws a differential flame graph of head against base: the
// frames and their widths are head's, and each frame's colour says how its
// share of the total changed from base to head, red where it grew and blue
// where it shrank, the most changed frame the most intense. Shares rather
// than raw values are compared, so a run that simply measured longer does
// not turn everything red. Frames that exist only in base are not drawn
// (draw base against head to see them); frames only in head count as grown
// from zero.
func WriteDiffSVG(w io.Writer, base, head *Profile, o Options) error {
	o = o.withDefaults("Differential Flame Graph")
	for _, p := range []*Profile{base, head} {
		if math.IsInf(p.Total(), 0) || math.IsNaN(p.Total()) {
			return ErrNotFinite
		}
	}
	ht, bt := head.Total(), base.Total()
	sub := fmt.Sprintf("Head total: %s; base total: %s; red grew, blue shrank (share of the total)",
		formatValue(ht, o.Unit), formatValue(bt, o.Unit))
	var boxes []box
	if ht > 0 {
		boxes = layout(head.sortedStacks(), base.sortedStacks(), xPad, float64(o.Width-2*xPad), o.MinWidthPx)
	}
	share := func(v, total float64) float64 {
		if total == 0 {
			return 0
		}
		return v / total
	}
	maxDelta := 0.0
	for _, b := range boxes {
		maxDelta = max(maxDelta, math.Abs(share(b.value, ht)-share(b.base, bt)))
	}
	return writeSVG(w, o, sub, boxes, func(b box) (string, string) {
		delta := share(b.value, ht) - share(b.base, bt)
		title := fmt.Sprintf("%s: %s (%s) in head, %s (%s) in base, %+.2f points",
			b.name, formatValue(b.value, o.Unit), percent(b.value, ht),
			formatValue(b.base, o.Unit), percent(b.base, bt), 100*delta)
		return title, diffColour(delta, maxDelta)
	})
}

func (o Options) withDefaults(title string) Options {
	if o.Title == "" {
		o.Title = title
	}
	if o.Unit == "" {
		o.Unit = "samples"
	}
	if o.Width <= 0 {
		o.Width = defaultWidth
	}
	o.Width = max(o.Width, 2*xPad+100)
	if o.MinWidthPx == 0 {
		o.MinWidthPx = defaultMinPx
	}
	return o
}

// writeSVG writes the document; style gives each box its tooltip and fill.
func writeSVG(w io.Writer, o Options, sub string, boxes []box, style func(box) (title, fill string)) error {
	depth := 0
	for _, b := range boxes {
		depth = max(depth, b.depth)
	}
	height := topPad + (depth+1)*frameHeight + bottomPad
	if len(boxes) == 0 {
		height = topPad + frameHeight + bottomPad
	}
	width := o.Width

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" class="fg" data-fg-pad="%d" data-fg-charwidth="%s">
<style>%s</style>
<rect class="fg-bg" x="0" y="0" width="%d" height="%d"/>
<text class="fg-title" x="%d" y="24">%s</text>
<text class="fg-reset" x="%d" y="40">Reset zoom</text>
<text class="fg-sub" x="%d" y="40">%s</text>
<text class="fg-details" x="%d" y="%d"> </text>
`, width, height, width, height, xPad, num(charWidth), css, width, height,
		width/2, escape(o.Title), xPad, width-xPad, escape(sub), xPad, height-10)
	if len(boxes) == 0 {
		fmt.Fprintf(bw, "<text class=\"fg-empty\" x=\"%d\" y=\"%d\">No samples</text>\n", width/2, topPad+frameHeight)
	}
	bw.WriteString("<g class=\"fg-frames\">\n")
	for _, b := range boxes {
		title, fill := style(b)
		y := height - bottomPad - (b.depth+1)*frameHeight
		fmt.Fprintf(bw, "<g class=\"fg-f\" data-d=\"%d\" data-n=\"%s\"><title>%s</title>"+
			"<rect x=\"%s\" y=\"%d\" width=\"%s\" height=\"%d\" fill=\"%s\"/>"+
			"<text x=\"%s\" y=\"%d\">%s</text></g>\n",
			b.depth, escape(b.name), escape(title),
			num(b.x), y, num(b.w), frameHeight-1, fill,
			num(b.x+3), y+fontSize, escape(fitLabel(b.name, b.w)))
	}
	bw.WriteString("</g>\n")
	if len(boxes) > 0 {
		bw.WriteString("<script type=\"text/ecmascript\"><![CDATA[" + script + "]]></script>\n")
	}
	bw.WriteString("</svg>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write flame graph: %w", err)
	}
	return nil
}

// fitLabel is as much of name as fits in a frame w pixels wide, ending in
// ".." when cut; the script does the same when zooming.
func fitLabel(name string, w float64) string {
	chars := int(math.Floor((w - 6) / charWidth))
	if chars < 3 {
		return ""
	}
	r := []rune(name)
	if len(r) <= chars {
		return name
	}
	return string(r[:chars-2]) + ".."
}

// escape makes s safe as XML text and attribute content; characters XML
// cannot carry at all (most control characters) become U+FFFD.
func escape(s string) string {
	var sb strings.Builder
	xml.EscapeText(&sb, []byte(s)) // writes to a strings.Builder: cannot fail
	return sb.String()
}

// num formats a coordinate with two decimals: enough for sub-pixel frames,
// short enough to keep large graphs small, and the same on every platform.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func percent(v, total float64) string {
	if total == 0 {
		return "0.00%"
	}
	return strconv.FormatFloat(100*v/total, 'f', 2, 64) + "%"
}

// formatValue prints whole values with thousands separators (exact counts of
// instructions or bytes are whole) and others with four significant digits.
func formatValue(v float64, unit string) string {
	var s string
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		digits := strconv.FormatInt(int64(v), 10)
		var sb strings.Builder
		for i, c := range digits {
			if i > 0 && (len(digits)-i)%3 == 0 {
				sb.WriteByte(',')
			}
			sb.WriteRune(c)
		}
		s = sb.String()
	} else {
		s = strconv.FormatFloat(v, 'g', 4, 64)
	}
	return s + " " + unit
}

const mergedFill = "rgb(200,200,200)"

// hotColour derives a warm colour from the frame name (FNV-1a, so it is the
// same in every graph and every run): red to yellow, never so dark the black
// label becomes unreadable.
func hotColour(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	f := func(shift uint) float64 { return float64((v>>shift)&0xff) / 255 }
	r := 205 + int(50*f(0))
	g := int(230 * f(8))
	b := int(55 * f(16))
	return fmt.Sprintf("rgb(%d,%d,%d)", r, g, b)
}

// diffColour is red for growth and blue for shrinkage, saturated in
// proportion to |delta|/maxDelta; unchanged frames are light grey.
func diffColour(delta, maxDelta float64) string {
	if delta == 0 || maxDelta == 0 {
		return "rgb(235,235,235)"
	}
	c := 235 - int(math.Round(200*math.Abs(delta)/maxDelta))
	if delta > 0 {
		return fmt.Sprintf("rgb(255,%d,%d)", c, c)
	}
	return fmt.Sprintf("rgb(%d,%d,255)", c, c)
}

const css = `
.fg { font-family: Verdana, "DejaVu Sans", sans-serif; font-size: 12px; }
.fg-bg { fill: #f7f7f2; }
.fg-title { font-size: 17px; text-anchor: middle; }
.fg-sub { text-anchor: end; fill: #555; }
.fg-empty { text-anchor: middle; fill: #555; }
.fg-reset { cursor: pointer; fill: #0645ad; visibility: hidden; }
.fg-f { cursor: pointer; }
.fg-f:hover rect { stroke: #000; stroke-width: 0.5; }
.fg-f text { pointer-events: none; fill: #000; }
`

// script finds its own <svg> (document.currentScript), so several graphs
// can share an HTML page; it keeps each frame's original geometry and
// re-places frames on zoom, relabelling them as fitLabel does.
const script = `
(function () {
  var me = document.currentScript;
  var svg = me && me.ownerSVGElement ? me.ownerSVGElement : document.documentElement;
  var pad = +svg.getAttribute("data-fg-pad"), cw = +svg.getAttribute("data-fg-charwidth");
  // Coordinates are written with two decimals: containment tests allow that.
  var full = +svg.getAttribute("width") - 2 * pad, eps = 0.02;
  var details = svg.querySelector(".fg-details"), reset = svg.querySelector(".fg-reset");
  var fs = [].slice.call(svg.querySelectorAll("g.fg-f")).map(function (g) {
    var r = g.querySelector("rect");
    return { g: g, r: r, t: g.querySelector("text"), n: g.getAttribute("data-n"),
      d: +g.getAttribute("data-d"), x: +r.getAttribute("x"), w: +r.getAttribute("width") };
  });
  function place(f, x, w) {
    f.r.setAttribute("x", x.toFixed(2));
    f.r.setAttribute("width", w.toFixed(2));
    f.t.setAttribute("x", (x + 3).toFixed(2));
    var c = Math.floor((w - 6) / cw);
    f.t.textContent = c < 3 ? "" : f.n.length <= c ? f.n : f.n.slice(0, c - 2) + "..";
    f.g.style.display = "";
  }
  function zoom(z) {
    fs.forEach(function (f) {
      if (!z) { place(f, f.x, f.w); return; }
      if (f.d < z.d) {
        if (f.x <= z.x + eps && f.x + f.w >= z.x + z.w - eps) { place(f, pad, full); return; }
      } else if (f.x >= z.x - eps && f.x + f.w <= z.x + z.w + eps) {
        place(f, pad + (f.x - z.x) * full / z.w, f.w * full / z.w); return;
      }
      f.g.style.display = "none";
    });
    reset.style.visibility = z ? "visible" : "hidden";
  }
  fs.forEach(function (f) {
    f.g.addEventListener("click", function () { zoom(f.d === 0 ? null : f); });
    f.g.addEventListener("mouseover", function () { details.textContent = f.g.querySelector("title").textContent; });
    f.g.addEventListener("mouseout", function () { details.textContent = " "; });
  });
  reset.addEventListener("click", function () { zoom(null); });
})();
`
