package perf

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// perfMapEntry is one line of a perf map: "START SIZE name", START and SIZE
// in hexadecimal (with or without 0x), as JIT compilers (V8, the JVM's
// perf-map-agent, CPython 3.12's -X perf, LuaJIT) write /tmp/perf-<pid>.map
// and as perf report reads it.
type perfMapEntry struct {
	start, size uint64
	name        string
}

// MapSyntaxError is a line of a perf map that is not "START SIZE name".
type MapSyntaxError struct {
	Line int
	Msg  string
}

func (e *MapSyntaxError) Error() string { return fmt.Sprintf("perf map line %d: %s", e.Line, e.Msg) }

// maxMapLine bounds one perf map line; longer lines are errors.
const maxMapLine = 1 << 16

// parsePerfMap reads a perf map. JIT maps are written by many hands, so a bad
// line does not stop the reader: every good line is returned, sorted by
// address, with the first error (a *MapSyntaxError, or the reader's).
func parsePerfMap(r io.Reader) ([]perfMapEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxMapLine)
	var out []perfMapEntry
	var first error
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		e, err := parseMapLine(text)
		if err != nil {
			if first == nil {
				first = &MapSyntaxError{Line: line, Msg: err.Error()}
			}
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil && first == nil {
		first = &MapSyntaxError{Line: line + 1, Msg: err.Error()}
	}
	slices.SortStableFunc(out, func(a, b perfMapEntry) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	return out, first
}

func parseMapLine(s string) (perfMapEntry, error) {
	startS, rest, ok := strings.Cut(s, " ")
	if !ok {
		return perfMapEntry{}, fmt.Errorf("want \"START SIZE name\", got %q", clip(s))
	}
	sizeS, name, _ := strings.Cut(rest, " ")
	start, err := parseHex(startS)
	if err != nil {
		return perfMapEntry{}, fmt.Errorf("start address %q is not hexadecimal", clip(startS))
	}
	size, err := parseHex(sizeS)
	if err != nil {
		return perfMapEntry{}, fmt.Errorf("size %q is not hexadecimal", clip(sizeS))
	}
	if start+size < start {
		return perfMapEntry{}, fmt.Errorf("range %#x+%#x wraps around", start, size)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "[unknown]"
	}
	return perfMapEntry{start: start, size: size, name: name}, nil
}

func parseHex(s string) (uint64, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	return strconv.ParseUint(s, 16, 64)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// lookupMap finds the entry containing ip in entries sorted by start.
func lookupMap(entries []perfMapEntry, ip uint64) (perfMapEntry, bool) {
	i, found := slices.BinarySearchFunc(entries, ip, func(e perfMapEntry, ip uint64) int {
		switch {
		case e.start < ip:
			return -1
		case e.start > ip:
			return 1
		}
		return 0
	})
	if !found {
		i--
	}
	// Entries may overlap (code regenerated in place): look back a little
	// for one that still covers ip.
	for j := i; j >= 0 && j > i-8; j-- {
		if ip-entries[j].start < entries[j].size {
			return entries[j], true
		}
	}
	return perfMapEntry{}, false
}

// writePerfMap writes entries in the perf map format.
func writePerfMap(w io.Writer, entries []perfMapEntry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		fmt.Fprintf(bw, "%x %x %s\n", e.start, e.size, e.name)
	}
	return bw.Flush()
}
