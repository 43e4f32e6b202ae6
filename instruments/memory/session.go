package memory

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// Tracking states of a process, the values of the BPF "tracked" map.
const (
	// (2, T_FORKS_ONLY, is the runner launching a target: set in BPF only.)
	trackCount   uint32 = 1 // count its allocations and follow its children
	trackPreload uint32 = 3 // counted; its standard C allocator calls are counted by the interposer

	// cookieLibStd marks probes on standard C allocator functions in shared
	// libraries, which the BPF programs ignore in trackPreload processes.
	cookieLibStd = 1 << 16
)

// SessionOptions tune a Session; the zero value is usable.
type SessionOptions struct {
	// Stacks records bytes allocated per user call stack (for the
	// flamegraph). It costs a user stack walk per allocation.
	Stacks bool
	// MaxLive bounds the number of live allocations remembered for live
	// and peak bytes (default 1<<20). Allocations beyond it are still
	// counted but do not add to live bytes; Snapshot.Untracked says how
	// many.
	MaxLive uint32
	// EBPFOnly disables the LD_PRELOAD interposer: every allocator call is
	// then seen through a uprobe (slower; see preload.go).
	EBPFOnly bool
	// SamplePeriod is the number of bytes between two stack samples taken
	// by the interposer (default 128 KiB); probes take every stack.
	SamplePeriod uint64
}

// Session is one loaded set of eBPF programs measuring one process tree.
//
// Allocator probes are attached per file (executable or library, by inode)
// without a PID filter, so every process using that file takes the trap;
// the BPF programs return at once for processes outside the tree (a map
// lookup). A PID-filtered probe would not follow forked children.
//
// Start and Stop must not be called concurrently; exec handling runs in its
// own goroutine. The caller owns the Session and must Close it.
type Session struct {
	objs     memtrackObjects
	tplinks  []link.Link
	reader   *ringbuf.Reader // exec events
	exits    *ringbuf.Reader // exit events
	resolver *libraryResolver

	mu       sync.Mutex
	preload  *preloader
	period   uint64
	multi    bool            // the kernel has uprobe_multi links
	attached map[siteID]bool // so each site is probed once
	links    []link.Link
	scanned  map[string]*elfInfo // by path
	// Processes are keyed by their kernel (host) PID, as the BPF maps
	// know them; nsPids gives the PID this process sees them by (its own
	// PID namespace, a container's say), for /proc and signals.
	maps     map[uint32][]mapping // last /proc/<pid>/maps seen per process
	exes     map[uint32]string    // executable per process, from exec events
	nsPids   map[uint32]uint32
	warnings []string
	stacks   bool

	// The config map's contents, written under cfgMu (Launch and a
	// region's Start can come from different goroutines).
	cfgMu    sync.Mutex
	gen      uint32
	enabled  bool
	launcher uint32 // this process's PID while Launch starts a target
	pidns    struct{ dev, ino uint64 }
	initNS   bool // this process sees kernel PIDs (the host's PID namespace)

	done chan struct{}
	wg   sync.WaitGroup
}

type siteID struct{ dev, ino, offset, cookie uint64 }

// Snapshot is what a Session measured over one region.
type Snapshot struct {
	Stats results.MemoryStats
	// Stacks are bytes allocated per call stack, when SessionOptions.Stacks
	// was set.
	Stacks []StackBytes
	// Untracked counts allocations whose pointers could not be remembered
	// (MaxLive reached): live and peak bytes miss them.
	Untracked uint64
	// StackErrors counts allocations whose stack could not be recorded.
	StackErrors uint64
}

// NewSession loads the eBPF programs and attaches the process-tree
// tracepoints (fork, exec, exit) as raw tracepoints, which need no tracefs.
// It returns an error wrapping instruments.ErrNotSupported when the host or
// the caller's privileges cannot run them.
func NewSession(opts SessionOptions) (*Session, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, explainBPFError("raise RLIMIT_MEMLOCK", err)
	}
	spec, err := loadMemtrack()
	if err != nil {
		return nil, fmt.Errorf("memory: load eBPF object: %w", err)
	}
	if opts.MaxLive != 0 {
		spec.Maps["live_map"].MaxEntries = opts.MaxLive
	}
	s := &Session{
		resolver: newLibraryResolver(),
		attached: map[siteID]bool{},
		scanned:  map[string]*elfInfo{},
		maps:     map[uint32][]mapping{},
		exes:     map[uint32]string{},
		nsPids:   map[uint32]uint32{},
		stacks:   opts.Stacks,
		done:     make(chan struct{}),
	}
	st, err := os.Stat("/proc/self/ns/pid")
	if err != nil {
		return nil, fmt.Errorf("memory: this process's PID namespace: %w", err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		// In the host's namespace the kernel's PIDs are this process's
		// (the config's zero namespace says so, and processes in nested
		// namespaces stay visible).
		s.initNS = sys.Ino == initPIDNamespace
		if !s.initNS {
			// The kernel compares with its own dev_t encoding
			// (major<<20 | minor), not stat's.
			dev := uint64(sys.Dev)
			s.pidns.dev, s.pidns.ino = uint64(unix.Major(dev))<<20|uint64(unix.Minor(dev)), sys.Ino
		}
	}
	s.multi = features.HaveBPFLinkUprobeMulti() == nil
	if !s.multi {
		// Load the uprobe_multi programs as plain uprobe programs,
		// which this kernel accepts; they are then never attached.
		for _, name := range []string{"alloc_enter_multi", "alloc_exit_multi"} {
			spec.Programs[name].AttachType = ebpf.AttachNone
		}
	}
	if err := spec.LoadAndAssign(&s.objs, nil); err != nil {
		return nil, explainBPFError("load eBPF programs", err)
	}
	if !opts.EBPFOnly {
		if s.preload, err = newPreloader(); err != nil {
			s.objs.Close()
			return nil, err
		}
		if s.preload == nil {
			s.warn("%s", "this codspeed was built without the preload counter (`make build` compiles it): every allocation is counted by eBPF uprobes, exactly but much more slowly")
		}
		s.period = opts.SamplePeriod
		if s.period == 0 {
			s.period = 128 << 10
		}
		if s.preload != nil && s.stacks {
			s.attach(&elfInfo{Path: s.preload.lib, Sites: []probeSite{{
				Symbol: "codspeed_memtrack_sample", Kind: kindSample,
			}}}, false)
			if w := s.Warnings(); len(w) > 0 {
				s.Close()
				return nil, fmt.Errorf("memory: probe the interposer's sample hook: %s", w[0])
			}
		}
	}
	for _, tp := range []struct {
		name string
		prog *ebpf.Program
	}{
		{"sched_process_fork", s.objs.FollowFork},
		{"sched_process_exec", s.objs.FollowExec},
		{"sched_process_exit", s.objs.ForgetExit},
	} {
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp.name, Program: tp.prog})
		if err != nil {
			s.Close()
			return nil, explainBPFError("attach raw tracepoint "+tp.name, err)
		}
		s.tplinks = append(s.tplinks, l)
	}
	if s.reader, err = ringbuf.NewReader(s.objs.ExecEvents); err != nil {
		s.Close()
		return nil, fmt.Errorf("memory: open exec event ring buffer: %w", err)
	}
	if s.exits, err = ringbuf.NewReader(s.objs.ExitEvents); err != nil {
		s.Close()
		return nil, fmt.Errorf("memory: open exit event ring buffer: %w", err)
	}
	if err := s.writeConfig(false); err != nil {
		s.Close()
		return nil, err
	}
	s.wg.Add(3)
	go s.handleEvents(s.reader)
	go s.handleEvents(s.exits)
	go s.pollMaps()
	return s, nil
}

func (s *Session) writeConfig(enabled bool) error {
	return s.setConfig(func() { s.enabled = enabled })
}

// setConfig changes the config under cfgMu with f and writes it.
func (s *Session) setConfig(f func()) error {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	f()
	cfg := memtrackConfig{Generation: s.gen, StopOnExec: 1, PidnsDev: s.pidns.dev, PidnsIno: s.pidns.ino, Launcher: s.launcher}
	if s.enabled {
		cfg.Enabled = 1
	}
	if s.stacks {
		cfg.Stacks = 1
	}
	if err := s.objs.ConfigMap.Put(uint32(0), cfg); err != nil {
		return fmt.Errorf("memory: write config map: %w", err)
	}
	return nil
}

// Launch starts cmd through l with the new process and all its descendants
// tracked. The runner's own process follows forks only while l.Start runs,
// so the child is tracked from its first instruction (its exec stops it until
// its allocators are probed). Other processes the runner forks in that window
// are tracked too. The caller waits on cmd.
func (s *Session) Launch(l instruments.Launcher, cmd *exec.Cmd) error {
	if s.preload != nil {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = s.preload.env(cmd.Env)
		if ra, ok := l.(instruments.RunsAs); ok {
			if err := s.preload.handTo(ra.RunsAs()); err != nil {
				return err
			}
		}
	}
	// The fork tracepoint tracks what this process forks while launcher
	// names it (by the PID it has in its own namespace: the kernel's
	// numbering of it may be out of its sight).
	if err := s.setConfig(func() { s.launcher = uint32(os.Getpid()) }); err != nil {
		return fmt.Errorf("memory: track runner forks: %w", err)
	}
	err := l.Start(cmd)
	if cerr := s.setConfig(func() { s.launcher = 0 }); cerr != nil && err == nil {
		err = fmt.Errorf("memory: untrack runner: %w", cerr)
	}
	return err
}

// Start opens a measured region: counters and stacks start from zero and
// only allocations made from now on count towards live and peak bytes.
func (s *Session) Start() error {
	// The new generation goes in first, with counting off: from then on a
	// block, or a process image, of an earlier region no longer matches,
	// so nothing of it comes off the totals reset below.
	if err := s.setConfig(func() { s.gen++; s.enabled = false }); err != nil {
		return err
	}
	if err := s.objs.CountersMap.Put(uint32(0), memtrackCounters{}); err != nil {
		return fmt.Errorf("memory: reset counters: %w", err)
	}
	if err := clearMap(s.objs.StackBytes); err != nil {
		return fmt.Errorf("memory: reset stacks: %w", err)
	}
	if err := clearMap(s.objs.Stacks); err != nil {
		return fmt.Errorf("memory: reset stacks: %w", err)
	}
	if err := clearMap(s.objs.Procs); err != nil {
		return fmt.Errorf("memory: reset process live bytes: %w", err)
	}
	if s.preload != nil {
		var period uint64
		if s.stacks {
			period = s.period
		}
		s.preload.start(s.gen, period)
	}
	return s.writeConfig(true)
}

// Stop closes the measured region and returns what it measured.
func (s *Session) Stop() (Snapshot, error) {
	if err := s.writeConfig(false); err != nil {
		return Snapshot{}, err
	}
	var c memtrackCounters
	if err := s.objs.CountersMap.Lookup(uint32(0), &c); err != nil {
		return Snapshot{}, fmt.Errorf("memory: read counters: %w", err)
	}
	if c.ExecLost > 0 {
		s.warn("memory: %d program(s) started without being held for probing (the event buffer was full, or they run in a PID namespace this process cannot see into); allocations in their own allocators were not seen", c.ExecLost)
	}
	if s.preload != nil {
		// Programs counted by the interposer and programs counted by
		// probes rarely coexist in one tree; when they do, the sum of
		// the two peaks bounds the true peak from above.
		p := s.preload.stop()
		c.AllocCalls += p.AllocCalls
		c.FreeCalls += p.FreeCalls
		c.TotalBytes += p.TotalBytes
		c.PeakBytes += p.PeakBytes
		c.Untracked += p.Untracked
	}
	snap := Snapshot{
		Stats: results.MemoryStats{
			PeakBytes:           float64(c.PeakBytes),
			TotalAllocatedBytes: float64(c.TotalBytes),
			AllocCalls:          float64(c.AllocCalls),
			FreeCalls:           float64(c.FreeCalls),
		},
		Untracked:   c.Untracked,
		StackErrors: c.StackErrors,
	}
	if s.stacks {
		s.refreshMaps()
		st, err := s.readStacks()
		if err != nil {
			return snap, err
		}
		snap.Stacks = st
	}
	return snap, nil
}

// Warnings returns what went wrong in the background (a program that could
// not be scanned or probed) since the session started.
func (s *Session) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.warnings...)
}

func (s *Session) warn(format string, args ...any) {
	s.mu.Lock()
	s.warnings = append(s.warnings, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// Close detaches every probe and unloads the programs.
func (s *Session) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	close(s.done)
	// Stop new exec events first, then let the handler drain the ones
	// already queued: each stands for a stopped process to resume.
	var errs []error
	for _, l := range s.tplinks {
		errs = append(errs, l.Close())
	}
	// Flush wakes a reader, which returns what is queued and then
	// ErrFlushed.
	readers := []*ringbuf.Reader{s.reader, s.exits}
	for _, r := range readers {
		if r != nil {
			errs = append(errs, r.Flush())
		}
	}
	s.wg.Wait()
	for _, r := range readers {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	// Detaching a uprobe waits for an RCU grace period; closing the links
	// concurrently lets those waits overlap.
	s.mu.Lock()
	all := s.links
	s.links = nil
	s.attached = map[siteID]bool{}
	s.mu.Unlock()
	linkErrs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, l := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			linkErrs[i] = l.Close()
		}()
	}
	wg.Wait()
	errs = append(errs, linkErrs...)
	errs = append(errs, s.objs.Close())
	if s.preload != nil {
		s.preload.close()
	}
	return errors.Join(errs...)
}

func clearMap(m *ebpf.Map) error {
	var keys [][]byte
	key := make([]byte, m.KeySize())
	val := make([]byte, m.ValueSize())
	it := m.Iterate()
	for it.Next(&key, &val) {
		keys = append(keys, append([]byte(nil), key...))
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}

func (s *Session) readStacks() ([]StackBytes, error) {
	var key memtrackStackKey
	var val memtrackStackVal
	type entry struct {
		key memtrackStackKey
		val memtrackStackVal
	}
	var entries []entry
	it := s.objs.StackBytes.Iterate()
	for it.Next(&key, &val) {
		entries = append(entries, entry{key, val})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("memory: read stack bytes: %w", err)
	}
	sym := newSymbolizer()
	merged := map[string]*StackBytes{}
	for _, e := range entries {
		ips := make([]uint64, s.objs.Stacks.ValueSize()/8)
		var frames []string
		if err := s.objs.Stacks.Lookup(uint32(e.key.StackId), &ips); err == nil {
			ms, exe := s.mapsOf(e.key.Tgid)
			// The kernel lists the innermost frame first.
			for i := len(ips) - 1; i >= 0; i-- {
				if ips[i] == 0 {
					continue
				}
				f := sym.frame(ms, exe, ips[i])
				if f == "codspeed_memtrack_sample" {
					continue // the interposer's sampling hook
				}
				frames = append(frames, f)
			}
		}
		if len(frames) == 0 {
			frames = []string{"[unknown]"}
		}
		k := strings.Join(frames, ";")
		if m := merged[k]; m != nil {
			m.Bytes += e.val.Bytes
			m.Calls += e.val.Calls
		} else {
			merged[k] = &StackBytes{Frames: frames, Bytes: e.val.Bytes, Calls: e.val.Calls}
		}
	}
	out := make([]StackBytes, 0, len(merged))
	for _, m := range merged {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.Join(out[i].Frames, ";") < strings.Join(out[j].Frames, ";")
	})
	return out, nil
}
