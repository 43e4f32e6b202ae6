// Package perfmap reads the symbol files that JIT compilers write for
// profilers, so that addresses in anonymous executable memory get names:
//
//   - perf maps, /tmp/perf-<pid>.map: one "START SIZE name" line per
//     compiled function (V8's --perf-basic-prof, CPython 3.12's -X perf,
//     the JVM's -XX:+DumpPerfMapAtExit and perf-map-agent, LuaJIT), read by
//     Parse;
//   - jitdumps, jit-<pid>.dump: the binary format of the Linux perf tool's
//     tools/perf/Documentation/jitdump-specification.txt (V8's --perf-prof,
//     CPython 3.12's -X perf_jit, the JVM's libperf-jvmti), whose code-load
//     and code-move records ReadJITDump turns into the same symbols, with
//     the time each became valid.
//
// A Table answers "which symbol holds this address (at this time)". Open
// opens such a file the way a privileged reader must: /tmp is writable by
// everyone, so a file there is only trusted when it is a regular file, not
// reached through a symbolic link, and owned by the measured process's user
// or by root.
//
// Both walltime profiles (instruments/perf) and simulation profiles
// (instruments/simulation) use it.
package perfmap

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Dir is where runtimes write perf-<pid>.map and where perf looks for them:
// /tmp itself, not the TMPDIR of whoever reads them.
const Dir = "/tmp"

// Symbol is one named range of code.
type Symbol struct {
	Start, Size uint64
	Name        string
	// Time is when the code was loaded there (CLOCK_MONOTONIC, ns), for
	// symbols from a jitdump whose runtime stamps records with that clock;
	// 0 means valid for the whole run (perf map lines carry no time).
	Time uint64
}

// End is the first address after the symbol.
func (s Symbol) End() uint64 { return s.Start + s.Size }

// SyntaxError is a line of a perf map that is not "START SIZE name".
type SyntaxError struct {
	File string // may be empty
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("perf map line %d: %s", e.Line, e.Msg)
}

// MaxLine bounds one perf map line; longer lines are errors.
const MaxLine = 1 << 16

// Parse reads a perf map: lines "START SIZE name", START and SIZE in
// hexadecimal with or without 0x, as perf report reads them. JIT maps are
// written by many hands, so a bad line does not stop the reader: every good
// line is returned, sorted by address (stable, so a later line for the same
// address comes later), with the first error (a *SyntaxError, or the
// reader's). The caller owns the returned slice.
func Parse(r io.Reader) ([]Symbol, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	var out []Symbol
	var first error
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		s, err := parseLine(text)
		if err != nil {
			if first == nil {
				first = &SyntaxError{Line: line, Msg: err.Error()}
			}
			continue
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil && first == nil {
		first = &SyntaxError{Line: line + 1, Msg: err.Error()}
	}
	Sort(out)
	return out, first
}

// Sort sorts symbols by start address, keeping the order of equal ones.
func Sort(syms []Symbol) {
	slices.SortStableFunc(syms, func(a, b Symbol) int { return cmp.Compare(a.Start, b.Start) })
}

func parseLine(s string) (Symbol, error) {
	startS, rest, ok := strings.Cut(s, " ")
	if !ok {
		return Symbol{}, fmt.Errorf("want \"START SIZE name\", got %q", clip(s))
	}
	sizeS, name, _ := strings.Cut(rest, " ")
	start, err := parseHex(startS)
	if err != nil {
		return Symbol{}, fmt.Errorf("start address %q is not hexadecimal", clip(startS))
	}
	size, err := parseHex(sizeS)
	if err != nil {
		return Symbol{}, fmt.Errorf("size %q is not hexadecimal", clip(sizeS))
	}
	if start+size < start {
		return Symbol{}, fmt.Errorf("range %#x+%#x wraps around", start, size)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "[unknown]"
	}
	return Symbol{Start: start, Size: size, Name: name}, nil
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

// Write writes symbols in the perf map format ("%x %x %s\n"); times are not
// written. Names are written as they are, so a name holding a newline makes
// a map that reads back differently: Parse never returns one.
func Write(w io.Writer, syms []Symbol) error {
	bw := bufio.NewWriter(w)
	for _, s := range syms {
		fmt.Fprintf(bw, "%x %x %s\n", s.Start, s.Size, s.Name)
	}
	return bw.Flush()
}
