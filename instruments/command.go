package instruments

import "strings"

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
			case '$', '`':
				return nil, false
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
