package perf

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	goperf "github.com/elastic/go-perf"
	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/instruments"
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
// the processes are gone. It is a dummy event that never samples, and it
// wakes the reader at every record: the reader must open each mapped file
// while its process runs, before `go test` deletes its test binary, say.
// That is a handful of wakeups per process, not one per sample.
func newSideBandAttr() *goperf.Attr {
	a := new(goperf.Attr)
	goperf.Dummy.Configure(a)
	a.SampleFormat = goperf.SampleFormat{Tid: true, Time: true}
	a.Options.Mmap = true
	a.Options.Mmap2 = true
	a.Options.Comm = true
	a.Options.Task = true
	// wakeup_events counts samples only; a watermark of one byte wakes the
	// reader at any record.
	a.SetWakeupWatermark(1)
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

// Session samples the processes started through its Launcher, and their
// descendants, from the moment they exec until Stop.
//
// How it follows processes: Start opens one sampling event per CPU on a
// dedicated OS thread (locked, used for nothing else) with inherit set, and
// the Launcher hands each command to that thread to fork. Children inherit
// the events at fork, so a round of the exec harness costs no system call
// beyond the fork itself and two channel hand-offs. The launching thread
// sleeps between launches, so it costs nothing to sample; its own samples
// and those of a child before it execs are dropped. (enable_on_exec, which
// perf record uses, does not mix with inheriting from a long-lived thread:
// at a vfork the kernel may swap the parent's and the child's identical
// perf contexts, the original events then see the child's exec and lose
// their enable_on_exec, and later children are never enabled.) Per-CPU
// events are needed because the kernel refuses to map the ring buffer of an
// inherited event that follows a task on every CPU.
//
// The caller owns the Session: it must call Stop once, after every process
// started through the Launcher has been waited for.
type Session struct {
	cfg    Config
	events []*goperf.Event
	launch chan launchReq
	exited chan struct{}

	ctx     context.Context
	cancel  context.CancelFunc
	readers sync.WaitGroup
	rings   [][]Record // one per event, appended by its reader only
	lost    atomic.Uint64
	readErr atomic.Pointer[error]

	self uint32 // this process: its samples are the launching thread's

	pinMu  sync.Mutex
	pinned map[string]*os.File // mapped files, opened while their process runs

	mu      sync.Mutex
	marks   []Record
	stopped bool
}

type launchReq struct {
	inner instruments.Launcher
	cmd   *exec.Cmd
	res   chan error
}

// ringPages is the ring buffer size per CPU in pages: enough for about a
// second of DWARF samples, and a few seconds of frame-pointer ones.
func ringPages(u Unwinding) int {
	if u == DWARF {
		return 512
	}
	return 128
}

// Start opens the events: per CPU, one that samples and one that carries
// the side-band records. Its errors wrap instruments.ErrNotSupported when
// the host refuses (see Probe, which callers should run first to get a
// message that says what to change).
func Start(c Config) (*Session, error) {
	c = c.withDefaults()
	if c.Unwinding == DWARF && !dwarfArch {
		return nil, fmt.Errorf("perf: DWARF unwinding is implemented for x86-64 only; use --perf-unwinding-mode fp: %w", instruments.ErrNotSupported)
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	s := &Session{cfg: c, launch: make(chan launchReq), exited: make(chan struct{}), self: uint32(os.Getpid()), pinned: map[string]*os.File{}}
	ready := make(chan error, 1)
	go s.thread(cpus, ready)
	if err := <-ready; err != nil {
		<-s.exited
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.rings = make([][]Record, len(s.events))
	for i, ev := range s.events {
		s.readers.Add(1)
		go s.read(i, ev)
	}
	return s, nil
}

// thread is the launching thread. It never unlocks its OS thread, so the Go
// runtime destroys the thread when this goroutine returns: no other goroutine
// can ever fork from a thread that carries the events.
func (s *Session) thread(cpus []int, ready chan<- error) {
	defer close(s.exited)
	runtime.LockOSThread()
	tid := unix.Gettid()
	for _, cpu := range cpus {
		for _, kind := range []struct {
			attr  *goperf.Attr
			pages int
		}{{newAttr(s.cfg.Event, s.cfg), ringPages(s.cfg.Unwinding)}, {newSideBandAttr(), 16}} {
			ev, err := goperf.Open(kind.attr, tid, cpu, nil)
			if err != nil {
				s.closeEvents()
				ready <- fmt.Errorf("perf: open %s event on CPU %d: %w", kind.attr.Label, cpu, explain(err, readParanoid()))
				return
			}
			s.events = append(s.events, ev)
			if err := mapRing(ev, kind.pages); err != nil {
				s.closeEvents()
				ready <- err
				return
			}
		}
	}
	ready <- nil
	for req := range s.launch {
		req.res <- req.inner.Start(req.cmd)
	}
}

// mapRing maps the ring buffer, halving its size while the kernel refuses
// for lack of locked memory (unprivileged users get perf_event_mlock_kb,
// 516 KiB by default, for all their rings together).
func mapRing(ev *goperf.Event, pages int) error {
	for {
		err := ev.MapRingNumPages(pages)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EPERM) || pages <= 8 {
			return fmt.Errorf("perf: map the ring buffer: %w (raise kernel.perf_event_mlock_kb or `ulimit -l`)", err)
		}
		pages /= 2
	}
}

func (s *Session) closeEvents() {
	for _, ev := range s.events {
		ev.Close()
	}
}

// Launcher returns a Launcher that starts commands through inner on the
// session's thread, so that they inherit the events. inner must start the
// process synchronously from the calling goroutine (as exec.Cmd.Start does);
// a Launcher that forks from another goroutine escapes the profile.
func (s *Session) Launcher(inner instruments.Launcher) instruments.Launcher {
	if inner == nil {
		inner = instruments.Direct
	}
	return instruments.LauncherFunc(func(cmd *exec.Cmd) error {
		s.mu.Lock()
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return inner.Start(cmd)
		}
		res := make(chan error, 1)
		s.launch <- launchReq{inner: inner, cmd: cmd, res: res}
		return <-res
	})
}

// Enable switches sampling on in every process that inherited the events
// and in processes launched later, until Disable. A Session starts enabled.
func (s *Session) Enable() error { return s.ioctl((*goperf.Event).Enable) }

// Disable switches sampling off in every process that inherited the events.
func (s *Session) Disable() error { return s.ioctl((*goperf.Event).Disable) }

func (s *Session) ioctl(f func(*goperf.Event) error) error {
	var errs []error
	for _, ev := range s.events {
		if err := f(ev); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// BeginBenchmark attributes the samples taken from now until EndBenchmark to
// the benchmark uri, and enables sampling. Samples outside any benchmark
// belong to the whole run. The instrument-hooks server calls it on
// StartBenchmark with the integration's current benchmark URI.
func (s *Session) BeginBenchmark(uri string) error {
	s.mark(Record{Kind: KindBenchStart, Name: uri})
	return s.Enable()
}

// EndBenchmark closes the current benchmark and disables sampling.
func (s *Session) EndBenchmark() error {
	err := s.Disable()
	s.mark(Record{Kind: KindBenchStop})
	return err
}

func (s *Session) mark(r Record) {
	r.Time = monotonicNow()
	s.mu.Lock()
	s.marks = append(s.marks, r)
	s.mu.Unlock()
}

func monotonicNow() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

// read copies records out of one ring until the session stops, then drains
// what is left.
func (s *Session) read(i int, ev *goperf.Event) {
	defer s.readers.Done()
	var raw goperf.RawRecord
	for {
		err := ev.ReadRawRecord(s.ctx, &raw)
		if err != nil {
			// ErrDisabled: the launching thread, which owns the event,
			// has exited in Stop.
			if s.ctx.Err() != nil || errors.Is(err, goperf.ErrDisabled) {
				break
			}
			s.readErr.CompareAndSwap(nil, &err)
			return
		}
		s.keep(i, ev, &raw)
	}
	for ev.HasRecord() {
		if err := ev.ReadRawRecord(context.Background(), &raw); err != nil {
			return
		}
		s.keep(i, ev, &raw)
	}
}

// perfContextMax is PERF_CONTEXT_MAX: callchain entries at or above it are
// context markers (user, kernel), not addresses.
const perfContextMax = ^uint64(4095 - 1)

// trailerTime is the time of a side-band record's sample_id trailer. With
// the sample format used here (TID, TIME) the trailer is pid, tid, time, so
// the time is the record's last 8 bytes. go-perf misplaces the trailer after
// the padded file name of mmap records, so it is read here.
func trailerTime(raw *goperf.RawRecord) uint64 {
	if len(raw.Data) < 16 {
		return 0
	}
	return binary.LittleEndian.Uint64(raw.Data[len(raw.Data)-8:])
}

func (s *Session) keep(i int, ev *goperf.Event, raw *goperf.RawRecord) {
	var r Record
	switch raw.Header.Type {
	case goperf.RecordTypeSample:
		var rec goperf.SampleRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		if rec.Pid == s.self {
			return // the launching thread, between launches
		}
		r = Record{Kind: KindSample, Pid: rec.Pid, Tid: rec.Tid, Time: rec.Time, Period: rec.Period}
		if s.cfg.Unwinding == DWARF {
			r.regs = slices.Clone(rec.UserRegisters)
			n := min(uint64(len(rec.UserStack)), rec.UserStackDynamicSize)
			r.stackCopy = slices.Clone(rec.UserStack[:n])
			r.Stack = []uint64{rec.IP}
		} else {
			r.Stack = make([]uint64, 0, len(rec.Callchain))
			for _, ip := range rec.Callchain {
				if ip < perfContextMax {
					r.Stack = append(r.Stack, ip)
				}
			}
			if len(r.Stack) == 0 {
				r.Stack = append(r.Stack, rec.IP)
			}
		}
	case goperf.RecordTypeMmap2:
		var rec goperf.Mmap2Record
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		s.pin(rec.Filename)
		r = Record{Kind: KindMmap, Pid: rec.Pid, Tid: rec.Tid, Time: trailerTime(raw),
			Start: rec.Addr, Len: rec.Len, PgOff: rec.PageOffset, Name: rec.Filename}
	case goperf.RecordTypeMmap:
		var rec goperf.MmapRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		r = Record{Kind: KindMmap, Pid: rec.Pid, Tid: rec.Tid, Time: trailerTime(raw),
			Start: rec.Addr, Len: rec.Len, PgOff: rec.PageOffset, Name: rec.Filename}
	case goperf.RecordTypeComm:
		var rec goperf.CommRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		r = Record{Kind: KindComm, Pid: rec.Pid, Tid: rec.Tid, Time: trailerTime(raw), Name: rec.NewName, Exec: rec.WasExec()}
	case goperf.RecordTypeFork:
		var rec goperf.ForkRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		if rec.Pid == rec.Ppid {
			return // a new thread shares its process's address space
		}
		r = Record{Kind: KindFork, Pid: rec.Pid, Ppid: rec.Ppid, Time: rec.Time}
	case goperf.RecordTypeExit:
		var rec goperf.ExitRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		if rec.Pid != rec.Tid {
			return
		}
		r = Record{Kind: KindExit, Pid: rec.Pid, Time: rec.Time}
	case goperf.RecordTypeLost:
		var rec goperf.LostRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		s.lost.Add(rec.Lost)
		return
	default:
		return
	}
	s.rings[i] = append(s.rings[i], r)
}

// pin opens a mapped file while its process still runs. Opening it costs
// one system call per distinct file, off the benchmark's CPU.
func (s *Session) pin(path string) {
	if !fileBacked(path) {
		return
	}
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	if _, ok := s.pinned[path]; ok {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		f = nil
	}
	s.pinned[path] = f
}

// Stop ends the session: the launching thread exits, the events are closed,
// and what the rings held is returned, sorted by time, with DWARF stacks
// unwound. Call it after the launched processes have been waited for.
func (s *Session) Stop() (*Recording, error) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, errors.New("perf: session already stopped")
	}
	s.stopped = true
	s.mu.Unlock()
	close(s.launch)
	<-s.exited
	s.Disable()
	s.cancel()
	s.readers.Wait()
	s.closeEvents()

	rec := &Recording{Event: s.cfg.Event, Unwinding: s.cfg.Unwinding, Frequency: s.cfg.Frequency, Lost: s.lost.Load()}
	n := len(s.marks)
	for _, r := range s.rings {
		n += len(r)
	}
	all := make([]Record, 0, n)
	for _, r := range s.rings {
		all = append(all, r...)
	}
	all = append(all, s.marks...)
	s.rings = nil
	slices.SortStableFunc(all, func(a, b Record) int {
		switch {
		case a.Time < b.Time:
			return -1
		case a.Time > b.Time:
			return 1
		}
		return 0
	})
	rec.objs = newObjectCache()
	rec.objs.pinned = s.pinned
	s.pinned = nil
	rec.Records = finish(all, s.cfg.Unwinding, rec.objs)
	if p := s.readErr.Load(); p != nil {
		return rec, fmt.Errorf("perf: read samples: %w", *p)
	}
	return rec, nil
}

// onlineCPUs parses /sys/devices/system/cpu/online ("0-3,6"): the events
// must cover every CPU a child may run on, not only this process's affinity.
func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		cpus := make([]int, runtime.NumCPU())
		for i := range cpus {
			cpus[i] = i
		}
		return cpus, nil
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("perf: CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("perf: CPU list %q: %w", s, err)
			}
		}
		if b < a || b-a > 1<<16 {
			return nil, fmt.Errorf("perf: CPU list %q: bad range %q", s, part)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("perf: CPU list %q is empty", s)
	}
	return cpus, nil
}
