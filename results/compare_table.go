package results

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ANSI colours of verdicts in a terminal.
const (
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

// RenderComparisonTable writes c for a terminal: per instrument, a table with
// each benchmark's base and head figures, the change, the p-value of the
// walltime test and the verdict, then the notes of the benchmarks that did
// not come out unchanged, then one summary line. With color, verdicts are
// coloured (red for a regression or failure, green for an improvement,
// yellow for a change the test could not confirm); the caller decides, since
// only it knows whether w is a terminal. A Comparison without a base is
// refused: RenderTable shows one run.
func RenderComparisonTable(w io.Writer, c *Comparison, color bool) error {
	if c.Base == nil {
		return fmt.Errorf("render comparison: no base (use RenderTable for one run)")
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "base %s  →  head %s\n", refLine(*c.Base), refLine(c.Head))
	for _, group := range byInstrument(c.Benchmarks) {
		inst := group[0].Instrument
		metric := group[0].Metric
		fmt.Fprintf(&sb, "\n%s (%s)\n", inst, metric)
		rows := [][]string{{"benchmark", "base", "head", "change", testHeader(group), "verdict"}}
		names := make([]string, len(group))
		uris := make([]string, len(group))
		for i, b := range group {
			names[i], uris[i] = b.Name, b.URI
		}
		names = distinctNames(names, uris)
		for i, b := range group {
			rows = append(rows, []string{displayName(names[i]), sideValue(b.Base, b.Unit, b.Verdict != VerdictNew),
				sideValue(b.Head, b.Unit, b.Verdict != VerdictMissing && b.Verdict != VerdictFailed),
				FormatChange(b.Change), testCell(b), verdictText(b)})
		}
		widths := make([]int, len(rows[0]))
		for _, r := range rows {
			for j, cell := range r {
				widths[j] = max(widths[j], utf8.RuneCountInString(cell))
			}
		}
		for i, r := range rows {
			for j, cell := range r {
				pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(cell))
				switch {
				case j == 0:
					sb.WriteString(cell + pad)
				case j == len(r)-1:
					if color && i > 0 {
						cell = colorize(group[i-1].Verdict, cell)
					}
					sb.WriteString("  " + cell)
				default:
					sb.WriteString("  " + pad + cell)
				}
			}
			sb.WriteString("\n")
			if i == 0 {
				total := 2 * (len(widths) - 1)
				for _, wd := range widths {
					total += wd
				}
				sb.WriteString(strings.Repeat("-", total) + "\n")
			}
		}
		for i, b := range group {
			if b.Verdict == VerdictUnchanged || len(b.Notes) == 0 {
				continue
			}
			for _, n := range b.Notes {
				fmt.Fprintf(&sb, "  %s: %s\n", displayName(names[i]), errorLine(n))
			}
		}
	}
	sb.WriteString("\n" + Summary(c) + "\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// Summary is one line counting the verdicts of c: "1 regressed, 4
// unchanged".
func Summary(c *Comparison) string {
	var parts []string
	for _, v := range summaryVerdicts {
		if n := c.Count(v); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, v))
		}
	}
	if len(parts) == 0 {
		return "no benchmarks to compare"
	}
	return strings.Join(parts, ", ")
}

func refLine(r RunRef) string {
	s := r.Label
	if r.RunID != "" && r.RunID != r.Label {
		s += " (run " + r.RunID + ")"
	}
	if r.Git.Commit != "" {
		c := r.Git.Commit
		if len(c) > 10 {
			c = c[:10]
		}
		if r.Git.Dirty {
			c += "+"
		}
		s += " @ " + c
	}
	return escapeControl(s)
}

// byInstrument splits benchmarks (sorted by instrument) into groups.
func byInstrument(bs []BenchmarkChange) [][]BenchmarkChange {
	var groups [][]BenchmarkChange
	for i, b := range bs {
		if i == 0 || b.Instrument != bs[i-1].Instrument {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], b)
	}
	return groups
}

func sideValue(v float64, unit string, present bool) string {
	if !present {
		return "-"
	}
	return formatValue(v, unit)
}

func pValue(p *float64) string {
	if p == nil {
		return "-"
	}
	if *p < 0.001 {
		return "<0.001"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}

// testHeader names the test column: the p-value of the unpaired test, or
// the interval of the paired ratio when the group was measured by `codspeed
// ab`.
func testHeader(group []BenchmarkChange) string {
	for _, b := range group {
		if b.Paired != nil {
			return "paired ratio [CI]"
		}
	}
	return "p"
}

// testCell is a benchmark's test column: its paired ratio and interval
// ("1.0291 [1.0250, 1.0332]"), else its p-value.
func testCell(b BenchmarkChange) string {
	if b.Paired == nil {
		return pValue(b.P)
	}
	e := b.Paired.Estimate
	if math.IsNaN(e.Ratio) {
		return "-"
	}
	hi := "∞"
	if !math.IsInf(e.Hi, 1) {
		hi = strconv.FormatFloat(e.Hi, 'f', 4, 64)
	}
	return fmt.Sprintf("%.4f [%.4f, %s]", e.Ratio, e.Lo, hi)
}

// verdictText is the verdict and, for memory, the figures that decided it.
func verdictText(b BenchmarkChange) string {
	s := string(b.Verdict)
	var why []string
	for _, f := range b.Figures {
		if f.Verdict != "" && f.Verdict != VerdictUnchanged && f.Verdict == b.Verdict {
			why = append(why, f.Name+" "+FormatChange(f.Change))
		}
	}
	if len(why) > 0 {
		s += " (" + strings.Join(why, ", ") + ")"
	}
	return s
}

func colorize(v Verdict, s string) string {
	switch v {
	case VerdictRegressed, VerdictFailed:
		return ansiRed + s + ansiReset
	case VerdictImproved:
		return ansiGreen + s + ansiReset
	case VerdictNotSignificant, VerdictInconclusive:
		return ansiYellow + s + ansiReset
	}
	return s
}
