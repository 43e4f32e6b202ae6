package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	goperf "github.com/elastic/go-perf"
	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/perfmap"
	"github.com/codspeed-go/codspeed-go/results/cpulist"
)

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
