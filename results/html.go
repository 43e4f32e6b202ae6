package results

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"os"

	"github.com/codspeed-go/codspeed-go/results/flamegraph"
)

// RenderHTML writes c as one self-contained HTML page: the comparison table
// (or, without a base, the head's figures), then a section per benchmark
// with its flame graph when the run recorded folded stacks, and a
// differential flame graph (head against base) for every benchmark whose
// verdict is not "unchanged". Everything is inline (CSS, SVG, the flame
// graphs' small script), so the file reads offline and can be attached to a
// CI job as is. Folded profiles are read from the paths in c; one that
// cannot be read is named in its section instead of stopping the report.
func RenderHTML(w io.Writer, c *Comparison) error {
	page := htmlPage{Comparison: c, Summary: "report", Title: "Benchmarks"}
	if c.Base != nil {
		page.Summary = Summary(c)
		page.BaseLine = refLine(*c.Base)
		page.Method = methodText(c)
		page.Title = "No regression"
		if c.Regressed() {
			page.Title = "Regression"
		}
	}
	page.HeadLine = refLine(c.Head)
	n := 0
	for _, g := range byInstrument(c.Benchmarks) {
		hg := htmlGroup{Instrument: g[0].Instrument, Metric: g[0].Metric, Test: testHeader(g)}
		for _, b := range g {
			n++
			row := htmlRow{
				ID: fmt.Sprintf("b%d", n), Name: b.Name, Verdict: string(b.Verdict), Class: verdictClass(b.Verdict),
				Base:   sideValue(b.Base, b.Unit, b.Verdict != VerdictNew),
				Head:   sideValue(b.Head, b.Unit, b.Verdict != VerdictMissing && b.Verdict != VerdictFailed),
				Change: FormatChange(b.Change), P: testCell(b), VerdictText: verdictText(b),
				HeadCI: ciText(b.HeadCI, b.Unit), Rounds: rounds(b.HeadRounds), Notes: b.Notes,
			}
			for _, f := range b.Figures {
				row.Figures = append(row.Figures, fmt.Sprintf("%s: %s → %s (%s)", f.Name,
					formatValue(f.Base, f.Unit), formatValue(f.Head, f.Unit), FormatChange(f.Change)))
			}
			row.Graphs, row.GraphErrors = graphs(c, b)
			hg.Rows = append(hg.Rows, row)
		}
		page.Groups = append(page.Groups, hg)
	}
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type htmlPage struct {
	*Comparison
	Title, Summary, BaseLine, HeadLine, Method string
	Groups                                     []htmlGroup
}

type htmlGroup struct {
	Instrument, Metric string
	// Test names the test column ("p", or the paired ratio's interval).
	Test string
	Rows []htmlRow
}

type htmlRow struct {
	ID, Name, Verdict, Class, Base, Head, Change, P, VerdictText, HeadCI, Rounds string
	Notes, Figures, GraphErrors                                                  []string
	Graphs                                                                       []htmlGraph
}

type htmlGraph struct {
	Caption string
	SVG     template.HTML
}

func verdictClass(v Verdict) string {
	switch v {
	case VerdictRegressed, VerdictFailed:
		return "bad"
	case VerdictImproved:
		return "good"
	case VerdictNotSignificant, VerdictInconclusive:
		return "unsure"
	}
	return ""
}

func methodText(c *Comparison) string {
	s := methodLine(c)
	return s[len("<sub>") : len(s)-len("</sub>")]
}

// graphs draws a benchmark's flame graphs: the head's (or the base's when it
// is missing in the head) and, when the verdict says something changed and
// both sides have a profile, the differential one.
func graphs(c *Comparison, b BenchmarkChange) ([]htmlGraph, []string) {
	var out []htmlGraph
	var errs []string
	load := func(path string) *flamegraph.Profile {
		// Regular files only: a FIFO or a device would block or never end.
		if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
			errs = append(errs, fmt.Sprintf("flame graph unavailable: %s is not a regular file", path))
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			errs = append(errs, fmt.Sprintf("flame graph unavailable: %v", err))
			return nil
		}
		defer f.Close()
		p, err := flamegraph.ParseFolded(f)
		if err != nil {
			errs = append(errs, fmt.Sprintf("flame graph unavailable: %s: %v", path, err))
			return nil
		}
		return p
	}
	var base, head *flamegraph.Profile
	if b.HeadFolded != "" {
		head = load(b.HeadFolded)
	}
	changed := c.Base != nil && b.Verdict != VerdictUnchanged && b.Verdict != VerdictNew
	if b.BaseFolded != "" && (changed || head == nil) {
		base = load(b.BaseFolded)
	}
	opts := flamegraph.Options{Unit: b.ProfileUnit}
	draw := func(caption string, fn func(w io.Writer) error) {
		var buf bytes.Buffer
		if err := fn(&buf); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", caption, err))
			return
		}
		// The SVG is produced by our own writer, which escapes every
		// frame name; it is trusted markup here.
		out = append(out, htmlGraph{Caption: caption, SVG: template.HTML(buf.String())})
	}
	switch {
	case head != nil:
		o := opts
		o.Title = "Flame graph (head): " + b.Name
		draw("Flame graph of the head", func(w io.Writer) error { return flamegraph.WriteSVG(w, head, o) })
	case base != nil:
		o := opts
		o.Title = "Flame graph (base): " + b.Name
		draw("Flame graph of the base", func(w io.Writer) error { return flamegraph.WriteSVG(w, base, o) })
	}
	if changed && base != nil && head != nil {
		o := opts
		o.Title = "Differential flame graph: " + b.Name
		draw("Differential flame graph: head against base (red grew, blue shrank)", func(w io.Writer) error {
			return flamegraph.WriteDiffSVG(w, base, head, o)
		})
	}
	return out, errs
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}: {{.Summary}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d1d1f; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.refs { color: #555; margin-bottom: 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { background: #f4f4f6; }
td.name, th.name, td.verdict { text-align: left; }
td.name { white-space: normal; word-break: break-all; max-width: 40em; font-family: ui-monospace, monospace; }
tr.bad td.verdict { color: #b00020; font-weight: 600; }
tr.good td.verdict { color: #087f23; font-weight: 600; }
tr.unsure td.verdict { color: #9a6700; }
.notes { color: #555; margin: 4px 0; padding-left: 20px; }
.graph { overflow-x: auto; margin: 8px 0 16px; }
.graph svg { max-width: 100%; height: auto; }
.method { color: #666; font-size: 12px; }
section.bench { border-top: 1px solid #eee; }
</style>
</head>
<body>
<h1>{{.Title}}: {{.Summary}}</h1>
<div class="refs">{{if .Base}}Base <code>{{.BaseLine}}</code> → head <code>{{.HeadLine}}</code>{{else}}Run <code>{{.HeadLine}}</code>{{end}}</div>
{{range .Groups}}
<h2>{{.Instrument}} ({{.Metric}})</h2>
<table id="table-{{.Instrument}}">
{{if $.Base}}<tr><th class="name">Benchmark</th><th>Base</th><th>Head</th><th>Change</th><th>{{.Test}}</th><th class="name">Verdict</th></tr>
{{range .Rows}}<tr class="{{.Class}}"><td class="name"><a href="#{{.ID}}">{{.Name}}</a></td><td>{{.Base}}</td><td>{{.Head}}</td><td>{{.Change}}</td><td>{{.P}}</td><td class="verdict">{{.VerdictText}}</td></tr>
{{end}}{{else}}<tr><th class="name">Benchmark</th><th>{{.Metric}}</th><th>Confidence interval</th><th>Rounds</th></tr>
{{range .Rows}}<tr class="{{.Class}}"><td class="name"><a href="#{{.ID}}">{{.Name}}</a></td><td>{{.Head}}</td><td>{{.HeadCI}}</td><td>{{.Rounds}}</td></tr>
{{end}}{{end}}</table>
{{end}}
{{if .Method}}<p class="method">{{.Method}}</p>{{end}}
{{range .Groups}}{{$inst := .Instrument}}{{range .Rows}}
<section class="bench" id="{{.ID}}">
<h3>{{.Name}} <small>({{$inst}}{{if .Verdict}}, {{.Verdict}}{{end}})</small></h3>
{{if .Figures}}<ul class="notes">{{range .Figures}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Notes}}<ul class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{range .GraphErrors}}<p class="notes">{{.}}</p>{{end}}
{{range .Graphs}}<div class="graph"><div>{{.Caption}}</div>{{.SVG}}</div>{{end}}
</section>
{{end}}{{end}}
</body>
</html>
`))
