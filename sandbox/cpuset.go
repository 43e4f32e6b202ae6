package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/results/cpulist"
)

// CPUSet is a set of CPU numbers, sorted and without duplicates. It is what
// the kernel's cpuset lists ("1-3,5") and affinity masks describe.
type CPUSet []int

// CPUListError reports a malformed cpuset list, with the byte offset of the
// offending element (cpulist.Error).
type CPUListError = cpulist.Error

// ParseCPUSet parses a cpuset list in the kernel's format (cpulist.Parse:
// "0", "1-3,5"; surrounding white space and a trailing newline ignored; an
// empty list yields an empty set).
func ParseCPUSet(s string) (CPUSet, error) {
	l, err := cpulist.Parse(s)
	if err != nil {
		return nil, err
	}
	return CPUSet(l), nil
}

// String renders the set in the kernel's list format, ranges collapsed:
// ParseCPUSet(s.String()) == s.
func (s CPUSet) String() string { return cpulist.Format(s) }

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
	for c := 0; c <= cpulist.MaxCPU; c++ {
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
