package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem in a config file that stops it from being used. It is
// a record, not a crash: Load gathers every Error it finds and returns them
// together (errors.Join), so a user fixes a file in one pass instead of one
// message per run.
type Error struct {
	File string // the path as the caller gave it
	Line int    // 1-based; 0 when the problem has no single line
	Key  string // the offending key, kebab-case as written in the file; "" for syntax errors
	Msg  string

	err error // the underlying failure: reading the file, or the YAML parser's own error
}

// Error formats as "file:line: key: msg", dropping the parts that are unknown.
func (e *Error) Error() string { return position(e.File, e.Line, e.Key, e.Msg) }

// Unwrap returns the underlying failure when there is one (the file could not
// be read, or the YAML parser's error), so callers can test
// errors.Is(err, fs.ErrNotExist).
func (e *Error) Unwrap() error { return e.err }

// Warning is a problem that does not stop the config from being used, such as
// an unknown key. Warnings are kept on Config for the caller to print.
type Warning struct {
	File string
	Line int
	Key  string
	Msg  string
}

// String formats as "file:line: key: msg", like Error.
func (w Warning) String() string { return position(w.File, w.Line, w.Key, w.Msg) }

func position(file string, line int, key, msg string) string {
	var b strings.Builder
	b.WriteString(file)
	if line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(line))
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if key != "" {
		b.WriteString(key)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	return b.String()
}

// describeScalar shows a scalar the user wrote, for "expected X, got Y"
// messages: quoted when YAML reads it as a string (so `"5"` and `5` are told
// apart), cut short when long, so one bad value cannot flood the terminal.
func describeScalar(tag, value string) string {
	if tag == "!!null" {
		return "nothing (null)"
	}
	q := quote(value)
	if tag == "!!str" {
		return q
	}
	return q[1 : len(q)-1]
}

// quote is strconv.Quote of s cut to a readable length.
func quote(s string) string {
	const maxShown = 60
	if r := []rune(s); len(r) > maxShown {
		return strconv.Quote(string(r[:maxShown])) + "..."
	}
	return strconv.Quote(s)
}

// suggest returns the known key closest to an unknown one, or "" when none is
// close enough to be a plausible typo. Keys are compared after folding
// snake_case and camelCase to kebab-case, since those are the usual ways a
// correct name gets written wrong.
func suggest(key string, known []string) string {
	norm := kebab(key)
	best, bestDist := "", -1
	for _, k := range known {
		if k == norm {
			return k
		}
		d := editDistance(norm, k)
		if bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	// A third of the name, at least one edit: "max-round" -> "max-rounds",
	// "warmup" -> "warmup-time" is too far and would mislead.
	limit := len(norm) / 3
	if limit < 1 {
		limit = 1
	}
	if bestDist >= 0 && bestDist <= limit {
		return best
	}
	return ""
}

// kebab folds "max_rounds", "maxRounds" and "Max-Rounds" to "max-rounds".
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r == ' ':
			b.WriteByte('-')
		case r >= 'A' && r <= 'Z':
			if i > 0 && s[i-1] != '-' && s[i-1] != '_' && !(s[i-1] >= 'A' && s[i-1] <= 'Z') {
				b.WriteByte('-')
			}
			b.WriteRune(r + ('a' - 'A'))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// editDistance is the optimal-string-alignment distance over bytes:
// Levenshtein plus the swap of two neighbours as one edit, the commonest typo
// ("imgae"). Config keys are ASCII, and a non-ASCII key is far from all of
// them either way.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Long keys are never typos of ours; skip the quadratic work.
		return max(len(a), len(b))
	}
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// errorf builds an *Error; a small helper so call sites read like fmt.Errorf.
func errorf(file string, line int, key, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}
