package results

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameRunes is the longest benchmark name a table shows in full; longer
// names (whole command lines, deep sub-benchmark URIs) keep their start and
// their end, which is where the distinguishing parts usually are.
const maxNameRunes = 60

// column is one column of a terminal table: its header and, per benchmark,
// its cell. The name column is left-aligned, figures right-aligned so their
// units line up.
type column struct {
	header string
	cell   func(b Benchmark) string
}

// RenderTable writes the end-of-run summary of one instrument's benchmarks to
// w: a table with a row per benchmark in the order given, or, for a single
// benchmark, one summary line; nothing for none. The columns depend on the instrument:
//
//   - walltime: median, stdev (as a percentage of the mean), min, max, rounds,
//     and IQR outliers;
//   - simulation: the estimated time, instructions, L1 and LL misses;
//   - memory: peak memory, total allocated bytes, allocation and free calls.
//
// A failed benchmark (Error set) shows "FAILED:" and the first line of its
// error instead of figures; a benchmark without the instrument's figures
// shows "-". Column widths adapt to the content; names longer than 60 runes
// are shortened with an ellipsis in the middle, and control characters in
// names and errors are escaped so a hostile command line cannot move the
// cursor. Widths count runes, so East Asian wide characters misalign.
func RenderTable(w io.Writer, instrument string, benches []Benchmark) error {
	cols, err := columnsFor(instrument)
	if err != nil {
		return err
	}
	switch len(benches) {
	case 0:
		return nil
	case 1:
		_, err := io.WriteString(w, summaryLine(instrument, benches[0])+"\n")
		return err
	}

	rows := make([][]string, 0, len(benches)+1)
	header := []string{"benchmark"}
	for _, c := range cols {
		header = append(header, c.header)
	}
	rows = append(rows, header)
	names := make([]string, len(benches))
	uris := make([]string, len(benches))
	for i, b := range benches {
		names[i], uris[i] = b.Name, b.URI
	}
	names = distinctNames(names, uris)
	for i, b := range benches {
		row := []string{displayName(names[i])}
		if b.Error == "" {
			for _, c := range cols {
				row = append(row, c.cell(b))
			}
		}
		rows = append(rows, row)
	}

	widths := make([]int, len(header))
	for i, row := range rows {
		for j, cell := range row {
			// A failed row's name counts; its error text spans the
			// figure columns and must not widen them.
			if i > 0 && benches[i-1].Error != "" && j > 0 {
				continue
			}
			widths[j] = max(widths[j], utf8.RuneCountInString(cell))
		}
	}

	var sb strings.Builder
	for i, row := range rows {
		for j, cell := range row {
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(cell))
			if j == 0 {
				sb.WriteString(cell + pad)
			} else {
				sb.WriteString("  " + pad + cell)
			}
		}
		if i > 0 && benches[i-1].Error != "" {
			sb.WriteString("  FAILED: " + errorLine(benches[i-1].Error))
		}
		sb.WriteString("\n")
		if i == 0 {
			total := 2 * (len(widths) - 1) // two spaces between columns
			for _, wd := range widths {
				total += wd
			}
			sb.WriteString(strings.Repeat("-", total) + "\n")
		}
	}
	_, err = io.WriteString(w, sb.String())
	return err
}

func columnsFor(instrument string) ([]column, error) {
	switch instrument {
	case Walltime:
		return []column{
			{"median", wallCell(func(s *Stats) string { return FormatNs(s.MedianNs) })},
			{"stdev", wallCell(func(s *Stats) string { return stdevPercent(s) })},
			{"min", wallCell(func(s *Stats) string { return FormatNs(s.MinNs) })},
			{"max", wallCell(func(s *Stats) string { return FormatNs(s.MaxNs) })},
			{"rounds", wallCell(func(s *Stats) string { return strconv.Itoa(s.Rounds) })},
			{"outliers", wallCell(func(s *Stats) string { return strconv.Itoa(s.IQROutlierRounds) })},
		}, nil
	case Simulation:
		return []column{
			{"time", simCell(func(s *SimulationStats) string { return FormatNs(s.TimeNs) })},
			{"instructions", simCell(func(s *SimulationStats) string { return FormatCount(s.Instructions) })},
			{"L1 miss", simCell(func(s *SimulationStats) string { return FormatCount(s.L1Misses) })},
			{"LL miss", simCell(func(s *SimulationStats) string { return FormatCount(s.LLMisses) })},
		}, nil
	case Memory:
		return []column{
			{"peak", func(b Benchmark) string {
				if b.Memory == nil {
					return "-"
				}
				return peakText(b)
			}},
			{"allocated", memCell(func(m *MemoryStats) string { return FormatBytes(m.TotalAllocatedBytes) })},
			{"allocs", memCell(func(m *MemoryStats) string { return FormatCount(m.AllocCalls) })},
			{"frees", memCell(func(m *MemoryStats) string { return FormatCount(m.FreeCalls) })},
		}, nil
	}
	return nil, fmt.Errorf("render table: unknown instrument %q (want %s, %s or %s)", instrument, Walltime, Simulation, Memory)
}

func wallCell(f func(*Stats) string) func(Benchmark) string {
	return func(b Benchmark) string {
		if b.Stats == nil {
			return "-"
		}
		return f(b.Stats)
	}
}

func simCell(f func(*SimulationStats) string) func(Benchmark) string {
	return func(b Benchmark) string {
		if b.Simulation == nil {
			return "-"
		}
		return f(b.Simulation)
	}
}

func memCell(f func(*MemoryStats) string) func(Benchmark) string {
	return func(b Benchmark) string {
		if b.Memory == nil {
			return "-"
		}
		return f(b.Memory)
	}
}

// stdevPercent is the coefficient of variation, the figure that says whether
// a median can be trusted regardless of the benchmark's scale.
func stdevPercent(s *Stats) string {
	if s.MeanNs == 0 {
		return "-"
	}
	return formatPercent(100 * s.StdevNs / s.MeanNs)
}

// summaryLine is what a run with a single benchmark prints instead of a
// table: the main figure first, the rest in parentheses.
func summaryLine(instrument string, b Benchmark) string {
	name := displayName(b.Name)
	if b.Error != "" {
		return name + ": FAILED: " + errorLine(b.Error)
	}
	switch instrument {
	case Walltime:
		s := b.Stats
		if s == nil {
			return name + ": no walltime figures"
		}
		return fmt.Sprintf("%s: median %s ± %s (min %s, max %s, %s, %s)", name,
			FormatNs(s.MedianNs), stdevPercent(s), FormatNs(s.MinNs), FormatNs(s.MaxNs),
			plural(s.Rounds, "round"), plural(s.IQROutlierRounds, "outlier"))
	case Simulation:
		s := b.Simulation
		if s == nil {
			return name + ": no simulation figures"
		}
		return fmt.Sprintf("%s: estimated %s (%s instructions, %s L1 misses, %s LL misses)", name,
			FormatNs(s.TimeNs), FormatCount(s.Instructions), FormatCount(s.L1Misses), FormatCount(s.LLMisses))
	default: // Memory; columnsFor has refused anything else
		m := b.Memory
		if m == nil {
			return name + ": no memory figures"
		}
		return fmt.Sprintf("%s: peak %s (%s allocated, %s allocs, %s frees)", name,
			peakText(b), FormatBytes(m.TotalAllocatedBytes), FormatCount(m.AllocCalls), FormatCount(m.FreeCalls))
	}
}

// peakText is a memory benchmark's peak. A Go benchmark's peak counts C
// allocations only (Go's heap has no frees to follow): with none, it is
// not measured ("-") rather than 0 B.
func peakText(b Benchmark) string {
	if b.GoBench != nil && b.Memory.PeakBytes == 0 {
		return "-"
	}
	return FormatBytes(b.Memory.PeakBytes)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// distinctNames are the names a table shows: each benchmark's own, except
// that names several benchmarks share (Go benchmarks of one name in two
// packages) are prefixed by where their URIs say they live, the URI's first
// "::" part ("pkg/a/a_test.go::BenchmarkX/sub"), so the rows can be told
// apart. Names whose URIs cannot tell them apart stay as they are.
func distinctNames(names, uris []string) []string {
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	out := append([]string(nil), names...)
	for i, n := range names {
		if count[n] < 2 {
			continue
		}
		if loc, _, ok := strings.Cut(uris[i], "::"); ok && loc != "" && loc != "exec_harness" {
			out[i] = loc + "::" + n
		}
	}
	return out
}

// displayName escapes a benchmark name for a terminal and shortens it to
// maxNameRunes with an ellipsis in the middle.
func displayName(name string) string {
	r := []rune(escapeControl(name))
	if len(r) <= maxNameRunes {
		return string(r)
	}
	head := (maxNameRunes - 1) / 2
	tail := maxNameRunes - 1 - head
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// errorLine is the first non-empty line of an error, marked with "…" when
// more lines follow; the whole text belongs in the progress output and the
// results file, not in a table row.
func errorLine(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	first := escapeControl(strings.TrimRight(lines[0], "\r"))
	if len(lines) > 1 {
		first += " …"
	}
	return first
}

func escapeControl(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) && utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			q := strconv.QuoteRune(r)
			sb.WriteString(q[1 : len(q)-1])
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
