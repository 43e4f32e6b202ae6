package instruments

import (
	"path/filepath"
	"strconv"
	"strings"
)

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

// NameSet hands out paths named by FileName that are unique among those it
// gave in the same folder: a second name that makes the same file name gets
// "-2", the next "-3", and so on. A later run (another NameSet) gets the
// same paths again, so it overwrites its predecessor's files in a reused
// folder rather than piling up new ones. The zero value is ready to use; it
// is not safe for concurrent use.
type NameSet struct {
	used map[string]bool
}

// Path returns dir/<FileName(name, fallback)><ext>, made unique as above.
func (s *NameSet) Path(dir, name, fallback, ext string) string {
	if s.used == nil {
		s.used = map[string]bool{}
	}
	base := FileName(name, fallback)
	p := filepath.Join(dir, base+ext)
	for n := 2; s.used[p]; n++ {
		p = filepath.Join(dir, base+"-"+strconv.Itoa(n)+ext)
	}
	s.used[p] = true
	return p
}
