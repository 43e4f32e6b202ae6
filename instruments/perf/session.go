package perf

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goperf "github.com/elastic/go-perf"
	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/perfmap"
	"github.com/codspeed-go/codspeed-go/results/cpulist"
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

// Session samples the processes started through its Launcher, and their
// descendants, until Stop.
//
// How it follows processes: Start locks the calling goroutine to its OS
// thread and opens one sampling event per CPU on that thread with inherit
// set (plus a side-band event, see newSideBandAttr). The Launcher forks from
// that same thread, so children inherit the events at fork: a round of the
// exec harness costs no system call and no thread hand-off beyond the fork
// itself. The thread is otherwise asleep in the harness's wait, so sampling
// it costs nothing; its own samples, and those of processes it forks other
// than through the Launcher (the runner running `go list`, say), are dropped
// at Stop by following the fork records down from the launched processes.
// (enable_on_exec, which perf record uses, does not mix with inheriting from
// a long-lived thread: at a vfork the kernel may swap the parent's and the
// child's identical perf contexts, the original events then see the child's
// exec and lose their enable_on_exec, and later children are never
// enabled.) Per-CPU events are needed because the kernel refuses to map the
// ring buffer of an inherited event that follows a task on every CPU.
//
// The caller owns the Session: Start, the Launcher's Start and Stop must all
// be called from one goroutine (the one that measures the target), and Stop
// once, after every launched process has been waited for. Enable, Disable,
// BeginBenchmark and EndBenchmark may be called from any goroutine.
type Session struct {
	cfg    Config
	events []*goperf.Event
	tid    int
	// external is set when tid is another thread (Config.Thread): nothing
	// of this goroutine is locked then.
	external bool

	ctx    context.Context
	cancel context.CancelFunc
	polled chan struct{} // closed when the poller has drained for good
	lost   atomic.Uint64

	// Owned by the poller goroutine: records read but not yet in time
	// order, and the processed ones with the address spaces replayed so
	// far (DWARF stacks are unwound as they pass, so that the stack copies
	// do not pile up in memory).
	pending []Record
	done    []Record
	objs    *objectCache
	spaces  *spaces
	// threads counts the live threads of each process seen forked, so
	// that a process ends with its last thread, not its leader (which
	// perf reports as the process's exit, and which can go first).
	threads map[uint32]int

	mu       sync.Mutex
	marks    []Record
	launched []launch
	owners   []uint32 // uids of the launched processes
	stopped  bool
}

// launch is a process started through the Launcher, and the time (on the
// records' clock) just before its fork.
type launch struct {
	pid   uint32
	after uint64
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
// the side-band records. It locks the calling goroutine to its OS thread
// until Stop. Its errors wrap instruments.ErrNotSupported when the host
// refuses (see Probe, which callers should run first to get a message that
// says what to change).
func Start(c Config) (*Session, error) {
	c = c.withDefaults()
	if c.Unwinding == DWARF && !dwarfArch {
		return nil, fmt.Errorf("perf: DWARF unwinding is implemented for x86-64 only; use --perf-unwinding-mode fp: %w", instruments.ErrNotSupported)
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, err
	}
	s := &Session{cfg: c, tid: c.Thread, external: c.Thread != 0}
	if !s.external {
		runtime.LockOSThread()
		s.tid = unix.Gettid()
	}
	for _, cpu := range cpus {
		for _, kind := range []struct {
			attr  *goperf.Attr
			pages int
		}{{newAttr(s.cfg.Event, s.cfg), ringPages(s.cfg.Unwinding)}, {newSideBandAttr(), 16}} {
			ev, err := goperf.Open(kind.attr, s.tid, cpu, nil)
			if err == nil {
				s.events = append(s.events, ev)
				err = mapRing(ev, kind.pages)
			} else {
				err = fmt.Errorf("perf: open %s event on CPU %d: %w", kind.attr.Label, cpu, explain(err, readParanoid()))
			}
			if err != nil {
				s.closeEvents()
				if !s.external {
					runtime.UnlockOSThread()
				}
				return nil, err
			}
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.polled = make(chan struct{})
	s.objs = newObjectCache()
	s.spaces = newSpaces(s.objs)
	s.threads = map[uint32]int{}
	go s.poll()
	return s, nil
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

// Launcher returns a Launcher that starts commands through inner, which
// must fork from the calling goroutine (as exec.Cmd.Start does), so that the
// processes inherit the events. It must be used from the goroutine that
// called Start; elsewhere it fails rather than run a benchmark unprofiled.
func (s *Session) Launcher(inner instruments.Launcher) instruments.Launcher {
	if inner == nil {
		inner = instruments.Direct
	}
	return &profilingLauncher{s: s, inner: inner}
}

// profilingLauncher is the Session's Launcher; it passes on the inner
// launcher's fork clock (instruments.ForkClock), if it has one.
type profilingLauncher struct {
	s     *Session
	inner instruments.Launcher
}

func (l *profilingLauncher) Start(cmd *exec.Cmd) error {
	s := l.s
	if !s.external && unix.Gettid() != s.tid {
		return errors.New("perf: the profiling launcher was used from another goroutine than the one that started the session")
	}
	before := monotonicNow()
	if err := l.inner.Start(cmd); err != nil {
		return err
	}
	s.mu.Lock()
	s.launched = append(s.launched, launch{pid: uint32(cmd.Process.Pid), after: before})
	if uid := perfmap.Owner(cmd); !slices.Contains(s.owners, uid) {
		s.owners = append(s.owners, uid)
	}
	s.mu.Unlock()
	return nil
}

func (l *profilingLauncher) ForkedAt() time.Time {
	if fc, ok := l.inner.(instruments.ForkClock); ok {
		return fc.ForkedAt()
	}
	return time.Time{}
}

// Enable switches sampling on in every process that inherited the events
// and in processes launched later, until Disable. A Session starts enabled.
func (s *Session) Enable() error { return s.ioctl((*goperf.Event).Enable) }

// Disable switches sampling off in every process that inherited the events.
// The side-band records stay on, so that processes that start while
// sampling is off can still be symbolized once it is on again.
func (s *Session) Disable() error { return s.ioctl((*goperf.Event).Disable) }

// ioctl applies f to the sampling events (even indices; odd ones carry the
// side band).
func (s *Session) ioctl(f func(*goperf.Event) error) error {
	var errs []error
	for i := 0; i < len(s.events); i += 2 {
		if err := f(s.events[i]); err != nil {
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

// pollInterval is how often the rings are read. No reader waits on the
// kernel: a wakeup per record of the side band measurably slowed a 40 ms
// benchmark (1% CPU, 2% wall time on the 2-core CI machine), while a timer
// costs the benchmark nothing. The rings hold far more than an interval of
// records (frame pointers: seconds; DWARF: a quarter of a second). The
// interval also bounds how soon a mapped file is opened after its process
// maps it: a binary deleted sooner than this (not `go test`'s, which lives
// as long as its benchmarks) is symbolized from the file system only.
const pollInterval = 20 * time.Millisecond

// processLag is how far behind the time of a drain records are processed:
// a record with an earlier timestamp may still be on its way to a ring on
// another CPU.
const processLag = uint64(2 * time.Millisecond)

// poll drains every ring each pollInterval and processes, in time order,
// the records old enough that no earlier one can still arrive; when the
// session stops it drains and processes everything.
func (s *Session) poll() {
	defer close(s.polled)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var raw goperf.RawRecord
	for {
		stop := false
		select {
		case <-s.ctx.Done():
			stop = true
		case <-t.C:
		}
		horizon := monotonicNow()
		for i, ev := range s.events {
			for ev.HasRecord() {
				if err := ev.ReadRawRecord(context.Background(), &raw); err != nil {
					break
				}
				s.keep(i, ev, &raw)
			}
		}
		s.mu.Lock()
		s.pending = append(s.pending, s.marks...)
		s.marks = s.marks[:0]
		s.mu.Unlock()
		if stop {
			s.process(^uint64(0))
			return
		}
		s.process(horizon - processLag)
	}
}

// process moves the pending records older than limit, in time order, to
// the processed ones, replaying side-band records and unwinding DWARF
// samples on the way.
func (s *Session) process(limit uint64) {
	slices.SortStableFunc(s.pending, byTime)
	n, _ := slices.BinarySearchFunc(s.pending, limit, func(r Record, limit uint64) int {
		if r.Time < limit {
			return -1
		}
		return 1
	})
	for i := range s.pending[:n] {
		r := &s.pending[i]
		switch r.Kind {
		case kindThreadStart:
			if _, ok := s.threads[r.Pid]; ok {
				s.threads[r.Pid]++
			}
			continue
		case kindThreadExit:
			left, ok := s.threads[r.Pid]
			if !ok {
				continue // a process not seen forked (the runner's own)
			}
			if left > 1 {
				s.threads[r.Pid] = left - 1
				continue
			}
			delete(s.threads, r.Pid)
			r.Kind = KindExit
		case KindFork:
			s.threads[r.Pid] = 1
		}
		if r.Kind == KindSample {
			unwindSample(s.spaces, r)
		} else {
			s.spaces.apply(r)
		}
		s.done = append(s.done, *r)
	}
	rest := copy(s.pending, s.pending[n:])
	clear(s.pending[rest:])
	s.pending = s.pending[:rest]
}

func byTime(a, b Record) int { return cmp.Compare(a.Time, b.Time) }

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
			// A new thread shares its process's address space; it is
			// only counted (see process).
			r = Record{Kind: kindThreadStart, Pid: rec.Pid, Time: rec.Time}
			break
		}
		r = Record{Kind: KindFork, Pid: rec.Pid, Ppid: rec.Ppid, Time: rec.Time}
	case goperf.RecordTypeExit:
		var rec goperf.ExitRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		// Every thread's exit; process turns the last one into the
		// process's KindExit.
		r = Record{Kind: kindThreadExit, Pid: rec.Pid, Time: rec.Time}
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
	s.pending = append(s.pending, r)
}

// pin opens a mapped file while its process still runs (the poller calls
// it, at most once per file).
func (s *Session) pin(path string) {
	if !fileBacked(path) {
		return
	}
	if _, ok := s.objs.pinned[path]; ok {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		f = nil
	}
	s.objs.pinned[path] = f
}

// Stop ends the session: the events are closed, the goroutine unlocked
// from its thread, and what the rings held is returned, sorted by time, with
// DWARF stacks unwound and only the launched processes and their
// descendants kept. Call it from Start's goroutine, after the launched
// processes have been waited for.
func (s *Session) Stop() (*Recording, error) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, errors.New("perf: session already stopped")
	}
	s.stopped = true
	s.mu.Unlock()
	s.Disable()
	s.cancel()
	<-s.polled
	s.closeEvents()
	if !s.external {
		runtime.UnlockOSThread()
	}

	rec := &Recording{Event: s.cfg.Event, Unwinding: s.cfg.Unwinding, Frequency: s.cfg.Frequency, Lost: s.lost.Load()}
	rec.Records = finalRecords(s.done, s.launched)
	s.mu.Lock()
	rec.Owners = slices.Clone(s.owners)
	s.mu.Unlock()
	s.done = nil
	rec.objs = s.objs
	return rec, nil
}

// finalRecords puts the processed records in time order and keeps those of
// the launched processes. A mark whose goroutine was descheduled between
// taking its time and handing it over can reach the poller after records
// with later times were processed: the sort puts it back in its place
// (everything else is in order already).
func finalRecords(done []Record, launched []launch) []Record {
	slices.SortStableFunc(done, byTime)
	return keepLaunched(done, launched)
}

// keepLaunched keeps the records of the launched processes and of their
// descendants (found through the fork records, in time order), and the
// benchmark marks. Only the session thread's descendants have records (they
// inherited the events), and each starts with its fork record: a process
// is followed from its fork by a followed parent, a launched process from
// its first record after its launch (its fork, when that was recorded).
// A PID the kernel reuses for a process of the runner's own gets a fork
// record from an unfollowed parent, which ends the following.
func keepLaunched(all []Record, launched []launch) []Record {
	keep := make(map[uint32]bool, len(launched))
	// Launch times per PID not yet seen, earliest first (a PID can come
	// back in a later round).
	waiting := make(map[uint32][]uint64, len(launched))
	for _, l := range launched {
		waiting[l.pid] = append(waiting[l.pid], l.after)
	}
	for _, w := range waiting {
		slices.Sort(w)
	}
	out := all[:0]
	for _, r := range all {
		if r.Kind != KindBenchStart && r.Kind != KindBenchStop {
			if w := waiting[r.Pid]; len(w) > 0 && r.Time >= w[0] {
				waiting[r.Pid] = w[1:]
				keep[r.Pid] = true
				if r.Kind == KindFork {
					out = append(out, r)
					continue
				}
			}
		}
		switch r.Kind {
		case KindBenchStart, KindBenchStop:
		case KindFork:
			if !keep[r.Ppid] {
				delete(keep, r.Pid) // a reused PID, outside the tree
				continue
			}
			keep[r.Pid] = true
		default: // samples, mappings, names, exits
			// An exit need not end the following: a PID used again in
			// this tree starts with a fork record, which decides anew
			// above.
			if !keep[r.Pid] {
				continue
			}
		}
		out = append(out, r)
	}
	return out
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
	cpus, err := cpulist.Parse(string(b))
	if err == nil && len(cpus) == 0 {
		err = fmt.Errorf("the CPU list %q is empty", b)
	}
	if err != nil {
		return nil, fmt.Errorf("perf: /sys/devices/system/cpu/online: %w", err)
	}
	return cpus, nil
}
