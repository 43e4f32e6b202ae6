package perf

import (
	"fmt"
	"strings"

	goperf "github.com/elastic/go-perf"
	"golang.org/x/sys/unix"
)

// Unwinding is how call stacks are recovered from a sample.
type Unwinding string

const (
	// FramePointer has the kernel walk the frame-pointer chain
	// (PERF_SAMPLE_CALLCHAIN): about 80 bytes a sample and no work
	// afterwards, but code built without frame pointers loses its callers.
	FramePointer Unwinding = "fp"
	// DWARF copies the user registers and the top of the user stack with
	// each sample (PERF_SAMPLE_REGS_USER, PERF_SAMPLE_STACK_USER) and unwinds
	// it afterwards with the objects' .eh_frame: works without frame
	// pointers, costs about StackSize bytes a sample.
	DWARF Unwinding = "dwarf"
)

// ParseUnwinding accepts "fp" and "dwarf" (case-insensitive).
func ParseUnwinding(s string) (Unwinding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "fp", "frame-pointer":
		return FramePointer, nil
	case "dwarf":
		return DWARF, nil
	}
	return "", fmt.Errorf("unknown perf unwinding mode %q: choose fp or dwarf", s)
}

// DefaultFrequency is the sampling frequency in samples per second of CPU
// time: prime, so that it does not beat with periodic work in the benchmark.
const DefaultFrequency = 997

// DefaultStackSize is how many bytes of user stack DWARF mode copies per
// sample, as perf record does by default.
const DefaultStackSize = 8192

// Config says what a Session samples.
type Config struct {
	// Event is EventCycles or EventCPUClock, normally Capability.Event.
	Event     string
	Unwinding Unwinding
	// Frequency is in samples per second; 0 means DefaultFrequency.
	Frequency int
	// StackSize is for DWARF mode; 0 means DefaultStackSize.
	StackSize int
	// Thread, when not 0, is the thread whose children are sampled (a
	// sandbox's forking thread, see instruments.ThreadLauncher); 0 means the
	// calling goroutine's thread, which Start locks until Stop.
	Thread int
}

func (c Config) withDefaults() Config {
	if c.Event == "" {
		c.Event = EventCPUClock
	}
	if c.Unwinding == "" {
		c.Unwinding = FramePointer
	}
	if c.Frequency <= 0 {
		c.Frequency = DefaultFrequency
	}
	if c.StackSize <= 0 {
		c.StackSize = DefaultStackSize
	}
	// The kernel wants a multiple of 8 below 64 KiB.
	c.StackSize = min(c.StackSize, 65528) &^ 7
	return c
}

// newAttr describes the sampling event: user space only (which is what
// kernel.perf_event_paranoid=2 allows unprivileged users), inherited by the
// children of the thread it is opened on, timestamps on CLOCK_MONOTONIC so
// that benchmark boundaries taken by the runner order against them. The
// kernel wakes the reader when the ring is half full, so samples cost no
// wakeups.
func newAttr(event string, c Config) *goperf.Attr {
	c = c.withDefaults()
	a := new(goperf.Attr)
	if event == EventCycles {
		goperf.CPUCycles.Configure(a)
	} else {
		goperf.CPUClock.Configure(a)
	}
	a.SetSampleFreq(uint64(c.Frequency))
	a.SampleFormat = goperf.SampleFormat{IP: true, Tid: true, Time: true, Period: true}
	if c.Unwinding == DWARF {
		a.SampleFormat.UserRegisters = true
		a.SampleFormat.UserStack = true
		a.SampleRegistersUser = userRegsMask
		a.SampleStackUser = uint32(c.StackSize)
	} else {
		a.SampleFormat.Callchain = true
		a.Options.ExcludeKernelCallchain = true
	}
	commonOptions(a)
	return a
}

// newSideBandAttr describes the companion event that carries the side-band
// records (mmap, comm, fork, exit) so that samples can be symbolized after
// the processes are gone. It is a dummy event that never samples. Its ring
// is polled every sideBandPoll rather than woken by the kernel: each mapped
// file must be opened while its process runs (`go test` deletes its test
// binary when it exits), and a wakeup per record measurably slowed a 40 ms
// benchmark (1% CPU, 2% wall time on the 2-core CI machine).
func newSideBandAttr() *goperf.Attr {
	a := new(goperf.Attr)
	goperf.Dummy.Configure(a)
	a.SampleFormat = goperf.SampleFormat{Tid: true, Time: true}
	a.Options.Mmap = true
	a.Options.Mmap2 = true
	a.Options.Comm = true
	a.Options.Task = true
	commonOptions(a)
	return a
}

func commonOptions(a *goperf.Attr) {
	a.Options.Inherit = true
	a.Options.ExcludeKernel = true
	a.Options.ExcludeHypervisor = true
	a.Options.SampleIDAll = true
	a.Options.UseClockID = true
	a.ClockID = unix.CLOCK_MONOTONIC
}
