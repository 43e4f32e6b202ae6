package flamegraph

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// maxLineBytes bounds one folded line. Deep recursive stacks with long C++
// names reach hundreds of kilobytes; anything longer is not a stack.
const maxLineBytes = 16 << 20

// SyntaxError is a malformed line of folded input.
type SyntaxError struct {
	Line int // 1-based
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseFolded reads stacks in Brendan Gregg's folded format: one stack per
// line, frames root first separated by ';', then whitespace and a value
// ("main;parse;lex 42"). The value may have a fraction or an exponent. Frame
// names may contain spaces: the value is what follows the last space or tab.
// Blank lines are skipped; a trailing "\r" is ignored. A malformed line stops
// the parse with a *SyntaxError naming it; read errors are returned wrapped.
func ParseFolded(r io.Reader) (*Profile, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	p := &Profile{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), " \t\r")
		if text == "" {
			continue
		}
		i := strings.LastIndexAny(text, " \t")
		if i < 0 {
			return nil, &SyntaxError{line, "want frames, a space and a value, got no space"}
		}
		stack, num := text[:i], text[i+1:]
		value, err := parseValue(num)
		if err != nil {
			return nil, &SyntaxError{line, err.Error()}
		}
		if strings.TrimSpace(stack) == "" {
			return nil, &SyntaxError{line, "empty stack"}
		}
		frames := strings.Split(stack, ";")
		for j, f := range frames {
			if f == "" {
				return nil, &SyntaxError{line, fmt.Sprintf("frame %d is empty", j+1)}
			}
		}
		p.Add(frames, value)
		if math.IsInf(p.total, 0) {
			return nil, &SyntaxError{line, "values add up beyond the range of float64"}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &SyntaxError{line + 1, fmt.Sprintf("line longer than %d bytes", maxLineBytes)}
		}
		return nil, fmt.Errorf("read folded stacks: %w", err)
	}
	return p, nil
}

// parseValue accepts plain decimal numbers only: strconv.ParseFloat alone
// would also take "NaN", "Inf" and hexadecimal floats, which no profiler
// writes and which would poison every sum.
func parseValue(s string) (float64, error) {
	if s == "" || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '.' || r == 'e' || r == 'E' || r == '+' || r == '-')
	}) >= 0 {
		return 0, fmt.Errorf("value %q is not a number", s)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %q is not a finite number", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("value %q is negative", s)
	}
	return v, nil
}

// WriteFolded writes the profile in the folded format, one stack per line in
// a deterministic order (see Stacks), values in the shortest form that reads
// back exactly.
func (p *Profile) WriteFolded(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, s := range p.sortedStacks() {
		for i, f := range s.Frames {
			if i > 0 {
				bw.WriteByte(';')
			}
			bw.WriteString(f)
		}
		bw.WriteByte(' ')
		bw.WriteString(strconv.FormatFloat(s.Value, 'f', -1, 64))
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write folded stacks: %w", err)
	}
	return nil
}
