package results

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RenderMarkdown writes c as GitHub/GitLab-flavoured Markdown, for a merge
// or pull request comment: a title with the verdict counts, what was
// compared, a table per instrument (worst verdicts first), the notes in a
// collapsed section, and the thresholds and method in one line. Without a
// base it writes a report of the head's figures. Benchmark names are escaped
// so that none can break the table or inject markup.
func RenderMarkdown(w io.Writer, c *Comparison) error {
	var sb strings.Builder
	if c.Base == nil {
		fmt.Fprintf(&sb, "## Benchmarks: %s\n\n", mdEscape(refLine(c.Head)))
		for _, group := range byInstrument(c.Benchmarks) {
			fmt.Fprintf(&sb, "### %s\n\n| Benchmark | %s | Confidence interval | Rounds |\n|---|---:|---|---:|\n",
				group[0].Instrument, mdEscape(capitalize(group[0].Metric)))
			for _, b := range group {
				val := sideValue(b.Head, b.Unit, true)
				if b.Verdict == VerdictFailed {
					val = "failed: " + errorLine(strings.Join(b.Notes, "\n"))
				}
				fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", mdEscape(b.Name), mdEscape(val), ciText(b.HeadCI, b.Unit), rounds(b.HeadRounds))
			}
			sb.WriteString("\n")
		}
		_, err := io.WriteString(w, sb.String())
		return err
	}

	title := "No regression"
	if c.Regressed() {
		title = "Regression"
	}
	fmt.Fprintf(&sb, "## %s: %s\n\n", title, Summary(c))
	fmt.Fprintf(&sb, "Base %s → head %s\n\n", mdEscape(refLine(*c.Base)), mdEscape(refLine(c.Head)))
	var notes []string
	for _, group := range byInstrument(c.Benchmarks) {
		fmt.Fprintf(&sb, "### %s (%s)\n\n", group[0].Instrument, group[0].Metric)
		fmt.Fprintf(&sb, "| Benchmark | Base | Head | Change | %s | Verdict |\n|---|---:|---:|---:|---:|---|\n", mdEscape(testHeader(group)))
		for _, b := range group {
			v := mdEscape(verdictText(b))
			if b.Verdict == VerdictRegressed || b.Verdict == VerdictFailed {
				v = "**" + v + "**"
			}
			fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s |\n", mdEscape(b.Name),
				sideValue(b.Base, b.Unit, b.Verdict != VerdictNew),
				sideValue(b.Head, b.Unit, b.Verdict != VerdictMissing && b.Verdict != VerdictFailed),
				mdEscape(FormatChange(b.Change)), mdEscape(testCell(b)), v)
			if b.Verdict != VerdictUnchanged {
				for _, n := range b.Notes {
					notes = append(notes, fmt.Sprintf("- %s: %s", mdEscape(b.Name), mdEscape(errorLine(n))))
				}
			}
		}
		sb.WriteString("\n")
	}
	if len(notes) > 0 {
		fmt.Fprintf(&sb, "<details><summary>Notes (%d)</summary>\n\n%s\n\n</details>\n\n", len(notes), strings.Join(notes, "\n"))
	}
	sb.WriteString(methodLine(c) + "\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// methodLine says how verdicts were reached, so a reader of a comment can
// judge them without the tool's documentation. Each instrument's threshold
// is the one most of its benchmarks have; benchmarks with their own (from
// codspeed.yml) are named after it.
func methodLine(c *Comparison) string {
	type limits struct{ reg, imp float64 }
	var order []string
	byInstr := map[string][]BenchmarkChange{}
	for _, b := range c.Benchmarks {
		switch b.Verdict {
		case VerdictRegressed, VerdictNotSignificant, VerdictImproved, VerdictUnchanged, VerdictInconclusive:
		default:
			continue // nothing was compared (new, missing, failed)
		}
		if _, ok := byInstr[b.Instrument]; !ok {
			order = append(order, b.Instrument)
		}
		byInstr[b.Instrument] = append(byInstr[b.Instrument], b)
	}
	pct := func(f float64) string { return strconv.FormatFloat(100*f, 'g', 4, 64) + "%" }
	text := func(l limits) string {
		if l.imp == l.reg {
			return pct(l.reg)
		}
		return pct(l.reg) + ", improvements " + pct(l.imp)
	}
	var th []string
	for _, instr := range order {
		bs := byInstr[instr]
		count := map[limits]int{}
		common := limits{bs[0].Threshold, bs[0].ImprovementThreshold}
		for _, b := range bs {
			l := limits{b.Threshold, b.ImprovementThreshold}
			if count[l]++; count[l] > count[common] {
				common = l
			}
		}
		var own []string
		for _, b := range bs {
			if l := (limits{b.Threshold, b.ImprovementThreshold}); l != common {
				own = append(own, mdEscape(b.Name)+": "+text(l))
			}
		}
		entry := instr + " " + text(common)
		if len(own) > 0 {
			const shown = 5
			if len(own) > shown {
				own = append(own[:shown], fmt.Sprintf("%d more", len(own)-shown))
			}
			entry += " (" + strings.Join(own, "; ") + ")"
		}
		th = append(th, entry)
	}
	s := ""
	if len(th) > 0 {
		s = "Thresholds: " + strings.Join(th, ", ") + "."
	}
	if paired := pairedRule(c); paired != nil {
		s += fmt.Sprintf(" Walltime: base and head were run interleaved (ABBA rounds); the paired ratio head/base is the Hodges-Lehmann estimate"+
			" over per-pair log ratios with its Wilcoxon signed-rank interval, looked at sequentially with a total error budget α=%g;"+
			" regressed or improved needs the interval to exclude 1 and a change of at least %s, \"no change\" an interval within ±%s.",
			paired.Alpha, pct(paired.MinEffect), pct(paired.MinEffect))
	} else if _, ok := byInstr[Walltime]; ok {
		s += fmt.Sprintf(" Walltime compares the fastest rounds of each run (their median: \"fast median\") with a Mann-Whitney U test at α=%g;"+
			" a change beyond the threshold that the test cannot confirm is \"not significant\".", c.Alpha)
	}
	return "<sub>" + strings.TrimSpace(s) + "</sub>"
}

// pairedRule returns the paired result of the first benchmark measured by
// `codspeed ab`, whose rule figures apply to all of them.
func pairedRule(c *Comparison) *PairedResult {
	for _, b := range c.Benchmarks {
		if b.Paired != nil {
			return b.Paired
		}
	}
	return nil
}

func ciText(iv *Interval, unit string) string {
	if iv == nil {
		return "-"
	}
	return fmt.Sprintf("%s – %s (%s)", formatValue(iv.Lo, unit), formatValue(iv.Hi, unit), formatPercent(100*iv.Confidence))
}

func rounds(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// mdEscape makes s inert in a Markdown table cell: markup characters are
// backslash-escaped, HTML is turned into entities, and line breaks become
// spaces.
func mdEscape(s string) string {
	s = escapeControl(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s))
	var sb strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			sb.WriteString("&lt;")
		case '>':
			sb.WriteString("&gt;")
		case '&':
			sb.WriteString("&amp;")
		case '\\', '`', '*', '_', '[', ']', '|', '#', '~', '!':
			sb.WriteRune('\\')
			sb.WriteRune(r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
