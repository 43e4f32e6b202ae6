// Package cpulist reads and writes CPU lists in the kernel's format
// ("0-3,6": comma-separated CPU numbers and inclusive ranges), as cgroupfs,
// /sys/devices/system/cpu/online and the --cpus flag give them. The
// sandbox and the instruments (perf's per-CPU events) read them with the
// same rules.
package cpulist

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxCPU bounds the CPU numbers accepted from input: the kernel's affinity
// mask (unix.CPUSet) holds 1024 CPUs, and a larger number in user input is a
// typo, not a machine.
const MaxCPU = 1023

// Error reports a malformed cpuset list, with the byte offset of the
// offending element, so "--cpus 1-x" points at the x.
type Error struct {
	Input  string
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("cpu list %q: offset %d: %s", e.Input, e.Offset, e.Msg)
}

// Parse parses a CPU list in the kernel's format: comma-separated
// CPU numbers and inclusive ranges ("0", "1-3,5", "0-7:2" is not accepted).
// Surrounding white space and a trailing newline (as read from cgroupfs) are
// ignored; an empty list yields an empty set.
func Parse(s string) ([]int, error) {
	in := s
	s = strings.TrimRight(s, "\n")
	seen := map[int]bool{}
	off := 0
	if strings.TrimSpace(s) == "" {
		return []int{}, nil
	}
	for _, part := range strings.Split(s, ",") {
		start := off
		off += len(part) + 1
		p := strings.TrimSpace(part)
		if p == "" {
			return nil, &Error{Input: in, Offset: start, Msg: "empty element"}
		}
		lo, hi, isRange := strings.Cut(p, "-")
		a, err := parseCPU(lo)
		if err != nil {
			return nil, &Error{Input: in, Offset: start, Msg: err.Error()}
		}
		b := a
		if isRange {
			if b, err = parseCPU(hi); err != nil {
				return nil, &Error{Input: in, Offset: start + len(lo) + 1, Msg: err.Error()}
			}
			if b < a {
				return nil, &Error{Input: in, Offset: start, Msg: fmt.Sprintf("range %d-%d runs backwards", a, b)}
			}
		}
		for c := a; c <= b; c++ {
			seen[c] = true
		}
	}
	set := make([]int, 0, len(seen))
	for c := range seen {
		set = append(set, c)
	}
	sort.Ints(set)
	return set, nil
}

func parseCPU(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("missing CPU number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			if len(s) > 24 {
				// Enough to recognise it; a whole pasted file is not.
				return 0, fmt.Errorf("%q... is not a CPU number", s[:24])
			}
			return 0, fmt.Errorf("%q is not a CPU number", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > MaxCPU {
		return 0, fmt.Errorf("CPU %s is above the largest supported CPU %d", s, MaxCPU)
	}
	return n, nil
}

// Format renders a sorted set in the kernel's list format, ranges
// collapsed: Parse(Format(s)) == s.
func Format(s []int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(s[j]))
		}
		i = j + 1
	}
	return b.String()
}
