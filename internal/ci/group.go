package ci

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// GroupStart opens a collapsible log section titled title, in the syntax of
// the provider's log viewer: GitHub's ::group::, GitLab's section_start escape
// line, Buildkite's "---" header; elsewhere a plain header line. Groups nest
// on GitLab (each start is matched by the next GroupEnd); GitHub and
// Buildkite do not nest, so an inner start there simply starts a new group.
// Write errors are ignored: log grouping is cosmetic.
func (i *Info) GroupStart(w io.Writer, title string) {
	title = strings.ReplaceAll(title, "\n", " ")
	i.mu.Lock()
	id := fmt.Sprintf("codspeed_%d_%s", len(i.sections), sectionName(title))
	i.sections = append(i.sections, id)
	i.mu.Unlock()
	switch i.Provider {
	case GitHubActions:
		fmt.Fprintf(w, "::group::%s\n", title)
	case GitLabCI:
		fmt.Fprintf(w, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", i.clock().Unix(), id, title)
	case Buildkite:
		fmt.Fprintf(w, "--- %s\n", title)
	default:
		fmt.Fprintf(w, "==> %s\n", title)
	}
}

// GroupEnd closes the innermost group opened by GroupStart; without an open
// group it writes nothing. Where the provider has no end marker (Buildkite,
// plain logs) it writes nothing either.
func (i *Info) GroupEnd(w io.Writer) {
	i.mu.Lock()
	if len(i.sections) == 0 {
		i.mu.Unlock()
		return
	}
	id := i.sections[len(i.sections)-1]
	i.sections = i.sections[:len(i.sections)-1]
	i.mu.Unlock()
	switch i.Provider {
	case GitHubActions:
		fmt.Fprint(w, "::endgroup::\n")
	case GitLabCI:
		fmt.Fprintf(w, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", i.clock().Unix(), id)
	}
}

func (i *Info) clock() time.Time {
	if i.now != nil {
		return i.now()
	}
	return time.Now()
}

// sectionName keeps the characters GitLab accepts in a section name
// (letters, digits, '_', '.', '-').
func sectionName(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return strings.Trim(b.String(), "_")
}
