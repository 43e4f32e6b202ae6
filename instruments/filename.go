package instruments

import "strings"

// maxFileName bounds the names FileName makes, well under the 255 bytes a
// path element may have, leaving room for suffixes (".folded", "-2").
const maxFileName = 80

// FileName makes a benchmark or target name into one path element, the
// same way for every artifact: letters, digits and "._-" are kept, any other
// character becomes "_", at most 80 bytes are kept, and leading or trailing
// dots and underscores are dropped (no hidden files, no "." or ".."). A name
// with nothing left becomes fallback. Different names can give the same
// result: callers that write several files in one folder make them unique.
func FileName(name, fallback string) string {
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= maxFileName {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if s := strings.Trim(b.String(), "._"); s != "" {
		return s
	}
	return fallback
}
