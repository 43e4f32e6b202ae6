package web

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/codspeed-go/codspeed-go/results"
)

func TestChartSVG(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &chart{
		Label:   "median",
		Format:  results.FormatNs,
		Values:  []float64{100, 101, math.NaN(), 150, 151},
		Lo:      []float64{95, 96, math.NaN(), 140, 141},
		Hi:      []float64{105, 106, math.NaN(), 160, 161},
		Tips:    []string{"a", "b", evil, "d", `"quoted" & 'single'`},
		Errors:  []string{"", "", "exit status 1: " + evil, "", ""},
		Times:   []time.Time{t0, t0, t0, t0, t0.AddDate(0, 1, 0)},
		Changes: []chartChange{{Index: 3, Up: true, Title: evil}},
		Links:   []string{"/runs/1", "/runs/2", "/runs/3", "/runs/4", `/runs/"5"`},
	}
	svg := c.svg()
	if n := strings.Count(svg, `<a href="/runs/`); n != 5 || !strings.Contains(svg, `<a href="/runs/&#34;5&#34;">`) {
		t.Errorf("%d links, want 5, escaped", n)
	}
	if n := strings.Count(svg, `class="pt"`) + strings.Count(svg, `class="pt failed"`); n != 5 {
		t.Errorf("%d point elements, want one per run (5)", n)
	}
	if strings.Count(svg, `class="pt failed"`) != 1 {
		t.Error("the failed run is not drawn as failed")
	}
	if strings.Contains(svg, "<script") || strings.Contains(svg, `"quoted"`) || strings.Contains(svg, "'single'") {
		t.Errorf("unescaped text in %s", svg)
	}
	if !strings.Contains(svg, "&lt;script&gt;alert(1)&lt;/script&gt;: failed: exit status 1: &lt;script&gt;") {
		t.Errorf("failed point's tooltip: %s", svg)
	}
	// The band and the line break at the missing run: two band polygons,
	// two moves in the line.
	if n := strings.Count(svg, `class="band"`); n != 2 {
		t.Errorf("%d band segments, want 2", n)
	}
	line := svg[strings.Index(svg, `<path class="line" d="`):]
	line = line[:strings.Index(line, `"/>`)]
	if strings.Count(line, "M") != 2 || strings.Count(line, "L") != 2 {
		t.Errorf("line %s", line)
	}
	if !strings.Contains(svg, `<line class="change up"`) || !strings.Contains(svg, "2026-01-02") || !strings.Contains(svg, "2026-02-02") {
		t.Errorf("change marker or dates missing: %s", svg)
	}
}

func TestChartEdgeCases(t *testing.T) {
	for _, vs := range [][]float64{nil, {5}, {0, 0}, {math.NaN()}, {math.Inf(1), 1}} {
		c := &chart{Label: "x", Format: results.FormatCount, Values: vs, Changes: []chartChange{{Index: 7}}}
		svg := c.svg()
		if !strings.HasPrefix(svg, "<svg") || !strings.HasSuffix(svg, "</svg>") || strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
			t.Errorf("%v: %s", vs, svg)
		}
	}
}

// FuzzChartSVG: whatever the names and figures of a history, the chart is
// well-formed XML whose text is the names as given.
func FuzzChartSVG(f *testing.F) {
	f.Add("median", evil, "a & b", 1.0, 2.0, 3.0)
	f.Add("x\x00y", "\"'<>", "\xff\xfe", math.NaN(), math.Inf(1), -1.0)
	f.Fuzz(func(t *testing.T, label, tip, change string, a, b, c float64) {
		if !utf8.ValidString(label) || !utf8.ValidString(tip) || !utf8.ValidString(change) {
			t.Skip("the store keeps UTF-8 names only")
		}
		ch := &chart{Label: label, Format: results.FormatNs, Values: []float64{a, b, c},
			Lo: []float64{a, b, c}, Hi: []float64{c, b, a}, Second: []float64{b, c, a},
			Tips: []string{tip, tip, tip}, Errors: []string{tip, "", ""},
			Changes: []chartChange{{Index: 1, Up: true, Title: change}}}
		svg := ch.svg()
		dec := xml.NewDecoder(strings.NewReader(svg))
		var texts []string
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("not XML: %v\n%s", err, svg)
			}
			if cd, ok := tok.(xml.CharData); ok {
				texts = append(texts, string(cd))
			}
		}
		clean := func(s string) string {
			return strings.Map(func(r rune) rune {
				if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
					return '\uFFFD'
				}
				return r
			}, s)
		}
		want := clean(change)
		found := want == "" // an empty title has no text token
		for _, s := range texts {
			if s == want {
				found = true
			}
		}
		if !found {
			t.Errorf("change title %q not in the text %q", want, texts)
		}
	})
}
