package instruments

import (
	"os"
	"path/filepath"
	"strings"
)

// SplitCommand splits a command line written in a config file into argv when
// that can be done without a shell: plain words, single and double quotes,
// and backslash escapes outside single quotes. It reports false when the line
// uses anything a shell would interpret (variables, globs, pipes, redirections,
// several commands, line breaks); such a line is run by `bash -c`.
//
// Spawning directly matters for walltime: a shell adds a fork and an exec to
// every round.
func SplitCommand(line string) ([]string, bool) {
	var (
		args    []string
		cur     strings.Builder
		inWord  bool
		quote   byte
		escaped bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case escaped:
			cur.WriteByte(c)
			escaped = false
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case quote == '"':
			switch c {
			case '"':
				quote = 0
			case '\\':
				// In double quotes a backslash escapes only these.
				if i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
					cur.WriteByte(line[i])
				} else {
					cur.WriteByte(c)
				}
			case '`':
				return nil, false
			case '$':
				// $'…' and $"…" are quoting only outside double quotes.
				if expands(line, i) && line[i+1] != '"' && line[i+1] != '\'' {
					return nil, false
				}
				cur.WriteByte(c)
			default:
				cur.WriteByte(c)
			}
		case c == '\\':
			inWord, escaped = true, true
		case c == '\'' || c == '"':
			inWord, quote = true, c
		case c == ' ' || c == '\t':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '$' && !expands(line, i):
			cur.WriteByte(c)
			inWord = true
		case strings.IndexByte("$`|&;<>()*?[]{}~#!\n\r", c) >= 0:
			return nil, false
		case c == '=' && !inWord && len(args) == 0:
			// A leading VAR=value assignment needs a shell.
			return nil, false
		default:
			if c == '=' && len(args) == 0 {
				return nil, false
			}
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, false
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, len(args) > 0
}

// expands reports whether the '$' at line[i] starts an expansion: bash leaves
// a '$' alone when no name, digit, special parameter or bracket follows it,
// as in the common regexp `-run=^$`.
func expands(line string, i int) bool {
	if i+1 >= len(line) {
		return false
	}
	c := line[i+1]
	return c == '_' || c == '{' || c == '(' || c == '\'' || c == '"' ||
		c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("@*#?$!-", c) >= 0
}

// JoinCommand writes argv as one command line that SplitCommand (and bash)
// read back as the same argv; words that need it are single-quoted.
func JoinCommand(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && strings.IndexFunc(a, needsQuote) < 0 {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

func needsQuote(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("-_./:,+@%^", r))
}

// LookPath finds the program a target names the way its own environment
// would: in env's PATH (the benchmark's, where the runner may have put
// stand-ins such as its node first), not in the runner's PATH, which
// exec.Command would search. A name with a slash, or one not found, is
// returned as is, so that starting it reports the usual error.
func LookPath(name string, env []string) string {
	if strings.Contains(name, "/") {
		return name
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v // the last one wins, as in os/exec
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p
		}
	}
	return name
}
