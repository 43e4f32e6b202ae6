package sandbox

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CPUSet is a set of CPU numbers, sorted and without duplicates. It is what
// the kernel's cpuset lists ("1-3,5") and affinity masks describe.
type CPUSet []int

// maxCPU bounds the CPU numbers accepted from input: the kernel's affinity
// mask (unix.CPUSet) holds 1024 CPUs, and a larger number in user input is a
// typo, not a machine.
const maxCPU = 1023

// CPUListError reports a malformed cpuset list, with the byte offset of the
// offending element, so "--cpus 1-x" points at the x.
type CPUListError struct {
	Input  string
	Offset int
	Msg    string
}

func (e *CPUListError) Error() string {
	return fmt.Sprintf("cpu list %q: offset %d: %s", e.Input, e.Offset, e.Msg)
}

// ParseCPUSet parses a cpuset list in the kernel's format: comma-separated
// CPU numbers and inclusive ranges ("0", "1-3,5", "0-7:2" is not accepted).
// Surrounding white space and a trailing newline (as read from cgroupfs) are
// ignored; an empty list yields an empty set.
func ParseCPUSet(s string) (CPUSet, error) {
	in := s
	s = strings.TrimRight(s, "\n")
	seen := map[int]bool{}
	off := 0
	if strings.TrimSpace(s) == "" {
		return CPUSet{}, nil
	}
	for _, part := range strings.Split(s, ",") {
		start := off
		off += len(part) + 1
		p := strings.TrimSpace(part)
		if p == "" {
			return nil, &CPUListError{Input: in, Offset: start, Msg: "empty element"}
		}
		lo, hi, isRange := strings.Cut(p, "-")
		a, err := parseCPU(lo)
		if err != nil {
			return nil, &CPUListError{Input: in, Offset: start, Msg: err.Error()}
		}
		b := a
		if isRange {
			if b, err = parseCPU(hi); err != nil {
				return nil, &CPUListError{Input: in, Offset: start + len(lo) + 1, Msg: err.Error()}
			}
			if b < a {
				return nil, &CPUListError{Input: in, Offset: start, Msg: fmt.Sprintf("range %d-%d runs backwards", a, b)}
			}
		}
		for c := a; c <= b; c++ {
			seen[c] = true
		}
	}
	set := make(CPUSet, 0, len(seen))
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
	if err != nil || n > maxCPU {
		return 0, fmt.Errorf("CPU %s is above the largest supported CPU %d", s, maxCPU)
	}
	return n, nil
}

// String renders the set in the kernel's list format, ranges collapsed:
// ParseCPUSet(s.String()) == s.
func (s CPUSet) String() string {
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

// Contains reports whether every CPU of sub is in s.
func (s CPUSet) Contains(sub CPUSet) bool {
	in := make(map[int]bool, len(s))
	for _, c := range s {
		in[c] = true
	}
	for _, c := range sub {
		if !in[c] {
			return false
		}
	}
	return true
}

// Mask is the set as an affinity mask for sched_setaffinity.
func (s CPUSet) Mask() unix.CPUSet {
	var m unix.CPUSet
	for _, c := range s {
		m.Set(c)
	}
	return m
}

// cpuSetFromMask lists the CPUs of an affinity mask.
func cpuSetFromMask(m *unix.CPUSet) CPUSet {
	var s CPUSet
	for c := 0; c <= maxCPU; c++ {
		if m.IsSet(c) {
			s = append(s, c)
		}
	}
	return s
}

// AllowedCPUs is the set of CPUs this process may run on (its affinity mask,
// which inside a container or cpuset is narrower than the online CPUs).
func AllowedCPUs() (CPUSet, error) {
	var m unix.CPUSet
	if err := unix.SchedGetaffinity(0, &m); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	return cpuSetFromMask(&m), nil
}

// DefaultCPUs picks where a target runs when the user named no CPUs: one CPU
// other than CPU 0 when this process may use several (CPU 0 takes most
// interrupts and housekeeping work), the highest-numbered one; the only CPU
// otherwise.
func DefaultCPUs(allowed CPUSet) CPUSet {
	if len(allowed) == 0 {
		return nil
	}
	return CPUSet{allowed[len(allowed)-1]}
}
