package memory

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

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

// Event types of the exec_events and exit_events ring buffers (EV_* in
// memtrack.c).
const (
	eventExec = 0
	eventExit = 1
)

// handleEvents reads one ring buffer: it probes each program a tracked
// process execs, then lets it run; when a process exits or execs, what the
// interposer counted live in it is settled.
func (s *Session) handleEvents(r *ringbuf.Reader) {
	defer s.wg.Done()
	failures := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, ringbuf.ErrFlushed) {
			return
		}
		if err != nil {
			// Keep reading: a process that execs is stopped until its
			// event is handled, so giving up would leave it stopped.
			if failures++; failures == 1 {
				s.warn("memory: read process events: %v", err)
			}
			time.Sleep(time.Millisecond)
			continue
		}
		failures = 0
		if len(rec.RawSample) < 12 {
			continue
		}
		host := binary.NativeEndian.Uint32(rec.RawSample)
		typ := binary.NativeEndian.Uint32(rec.RawSample[4:])
		ns := binary.NativeEndian.Uint32(rec.RawSample[8:])
		if ns == 0 {
			// Outside this process's PID namespace (an exit; an exec
			// there is never held, and counted as such in BPF).
			continue
		}
		p := proc{host: host, ns: ns}
		if s.preload != nil {
			s.preload.release(p.ns)
		}
		if typ == eventExit {
			s.mu.Lock()
			delete(s.nsPids, host) // the kernel may give the PID to another process
			s.mu.Unlock()
			continue
		}
		s.mu.Lock()
		s.nsPids[host] = ns
		s.mu.Unlock()
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", ns)); err == nil {
			s.mu.Lock()
			s.exes[host] = exe
			s.mu.Unlock()
			if err := s.probeProgram(p, exe); err != nil {
				s.warn("%v", err)
			}
			// The executable and the dynamic loader are mapped at exec:
			// this snapshot symbolizes the program's own frames even if
			// it exits before the poller sees it with its libraries.
			if s.stacks {
				if ms, err := readMaps(int(ns)); err == nil {
					s.mu.Lock()
					s.maps[host] = ms
					s.mu.Unlock()
				}
			}
		}
		// Whatever happened, the process must not stay stopped.
		if err := syscall.Kill(int(ns), syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			s.warn("memory: resume pid %d: %v", ns, err)
		}
	}
}

// probeProgram attaches probes to the executable of pid and to the shared
// libraries it will load (its DT_NEEDED closure). When the interposer is
// loaded in the process, the standard C allocator API of shared libraries is
// left to it (see preload.go).
// proc names a process both ways: host is the kernel's PID (the BPF maps'
// key), ns the PID this process sees it by.
type proc struct{ host, ns uint32 }

func (s *Session) probeProgram(p proc, exe string) error {
	pid := int(p.ns)
	info, err := s.scan(exe)
	if err != nil {
		// /proc/<pid>/exe still opens when the file was replaced or
		// lives in another mount namespace.
		info, err = s.scan(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil {
			return fmt.Errorf("memory: scan program of pid %d: %w", pid, err)
		}
	}
	ldPath := processLibraryPath(pid)
	var libs []*elfInfo
	queue := []*elfInfo{info}
	seen := map[string]bool{info.Path: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, soname := range cur.Needed {
			p := s.resolver.resolve(soname, cur.RPath, ldPath)
			if p == "" || seen[p] {
				continue
			}
			seen[p] = true
			lib, err := s.scan(p)
			if err != nil {
				s.warn("%v", err)
				continue
			}
			libs = append(libs, lib)
			queue = append(queue, lib)
		}
	}
	preloaded := s.preload != nil && s.preload.activeIn(pid, info, libs)
	if preloaded {
		if err := s.objs.Tracked.Put(p.host, trackPreload); err != nil {
			return fmt.Errorf("memory: mark pid %d preloaded: %w", pid, err)
		}
		// In a dynamically linked executable, operator new and delete
		// reach the interposer through malloc and free; an allocator the
		// executable defines itself takes precedence over the
		// interposer and stays probed.
		exeSites := &elfInfo{Path: info.Path}
		for _, site := range info.Sites {
			if !strings.HasPrefix(site.Symbol, "_Zn") && !strings.HasPrefix(site.Symbol, "_Zd") {
				exeSites.Sites = append(exeSites.Sites, site)
			}
		}
		s.attach(exeSites, false)
	} else {
		if err := s.objs.Tracked.Put(p.host, trackCount); err != nil {
			return fmt.Errorf("memory: mark pid %d: %w", pid, err)
		}
		s.attach(info, false)
	}
	for _, lib := range libs {
		if !preloaded {
			s.attach(lib, true)
			continue
		}
		rest := &elfInfo{Path: lib.Path}
		for _, site := range lib.Sites {
			if !standardAPI(site.Symbol) {
				rest.Sites = append(rest.Sites, site)
			}
		}
		s.attach(rest, true)
	}
	return nil
}

func processLibraryPath(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("LD_LIBRARY_PATH=")); ok {
			return strings.Split(string(v), ":")
		}
	}
	return nil
}

func (s *Session) scan(path string) (*elfInfo, error) {
	s.mu.Lock()
	info, ok := s.scanned[path]
	s.mu.Unlock()
	if ok {
		return info, nil
	}
	info, err := scanELF(path)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.scanned[path] = info
	s.mu.Unlock()
	return info, nil
}

// attach probes the given allocator sites of one file, each site once.
// library says the file is a shared library, whose standard allocator sites
// are marked for the BPF programs to skip in preloaded processes.
func (s *Session) attach(info *elfInfo, library bool) {
	if len(info.Sites) == 0 {
		return
	}
	var st syscall.Stat_t
	if err := syscall.Stat(info.Path, &st); err != nil {
		s.warn("memory: stat %s: %v", info.Path, err)
		return
	}
	type todo struct {
		site   probeSite
		cookie uint64
	}
	var sites []todo
	s.mu.Lock()
	for _, site := range info.Sites {
		cookie := uint64(site.Kind)
		if library && standardAPI(site.Symbol) {
			cookie |= cookieLibStd
		}
		id := siteID{uint64(st.Dev), st.Ino, site.Offset, cookie}
		if !s.attached[id] {
			s.attached[id] = true
			sites = append(sites, todo{site, cookie})
		}
	}
	s.mu.Unlock()
	if len(sites) == 0 {
		return
	}
	ex, err := link.OpenExecutable(info.Path)
	if err != nil {
		s.warn("memory: open %s: %v", info.Path, err)
		return
	}
	// Return probes go in first, and an entry whose return probe failed is
	// not attached: an entry alone would leave its call pending forever,
	// and every later allocation of that thread would count as nested in
	// it. A return without its entry finds nothing pending and does
	// nothing.
	var links []link.Link
	if s.multi {
		// One link for the returns and one for the entries of the file.
		var exit link.UprobeMultiOptions
		for _, t := range sites {
			if t.site.Offset != 0 && t.site.Kind.returns() {
				exit.Addresses = append(exit.Addresses, t.site.Offset)
				exit.Cookies = append(exit.Cookies, t.cookie)
			}
		}
		returnsOK := true
		if len(exit.Addresses) > 0 {
			if l, err := ex.UretprobeMulti(nil, s.objs.AllocExitMulti, &exit); err != nil {
				s.warn("memory: return probes on %d allocator entry points in %s (their calls are not counted): %v", len(exit.Addresses), info.Path, err)
				returnsOK = false
			} else {
				links = append(links, l)
			}
		}
		var enter link.UprobeMultiOptions
		var symbols []string
		for _, t := range sites {
			if t.site.Offset == 0 {
				// Resolve by name (the interposer's sample hook).
				symbols = append(symbols, t.site.Symbol)
				enter.Cookies = append(enter.Cookies, t.cookie)
				continue
			}
			if t.site.Kind.returns() && !returnsOK {
				continue
			}
			enter.Addresses = append(enter.Addresses, t.site.Offset)
			enter.Cookies = append(enter.Cookies, t.cookie)
		}
		switch {
		case len(symbols) > 0 && len(enter.Addresses) > 0:
			s.warn("memory: %s: mixed symbol and address probes", info.Path)
		case len(enter.Cookies) == 0:
		default:
			if l, err := ex.UprobeMulti(symbols, s.objs.AllocEnterMulti, &enter); err != nil {
				s.warn("memory: probe %d allocator entry points in %s: %v", len(enter.Cookies), info.Path, err)
			} else {
				links = append(links, l)
			}
		}
	} else {
		for _, t := range sites {
			// Address 0 resolves the symbol by name (the interposer's hook).
			opts := &link.UprobeOptions{Address: t.site.Offset, Cookie: t.cookie}
			if t.site.Kind.returns() {
				l, err := ex.Uretprobe(t.site.Symbol, s.objs.AllocExit, opts)
				if err != nil {
					s.warn("memory: return probe %s in %s (its calls are not counted): %v", t.site.Symbol, info.Path, err)
					continue
				}
				links = append(links, l)
			}
			l, err := ex.Uprobe(t.site.Symbol, s.objs.AllocEnter, opts)
			if err != nil {
				s.warn("memory: probe %s in %s: %v", t.site.Symbol, info.Path, err)
				continue
			}
			links = append(links, l)
		}
	}
	s.mu.Lock()
	s.links = append(s.links, links...)
	s.mu.Unlock()
}

// pollMaps keeps the latest memory map of every tracked process, so stacks
// can be symbolized after the process has exited.
func (s *Session) pollMaps() {
	defer s.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if s.stacks {
				s.refreshMaps()
			}
		}
	}
}

func (s *Session) refreshMaps() {
	var pid, state uint32
	var pids []uint32
	it := s.objs.Tracked.Iterate()
	for it.Next(&pid, &state) {
		if state == trackCount || state == trackPreload {
			pids = append(pids, pid)
		}
	}
	for _, p := range pids {
		ns, ok := s.nsOf(p)
		if !ok {
			continue // not seen at exec yet (or never: see mapsOf)
		}
		ms, err := readMaps(int(ns))
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.maps[p] = ms
		s.mu.Unlock()
	}
}

// nsOf returns the PID this process sees the kernel's PID host by: the same
// in the host's PID namespace; in another (a container), the one its exec
// event carried.
func (s *Session) nsOf(host uint32) (uint32, bool) {
	if s.initNS {
		return host, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, ok := s.nsPids[host]
	return ns, ok
}

// mapsOf returns the mappings and executable last seen for process tgid
// (kernel PID), or its nearest ancestor's: a child that forked without
// exec'ing has its parent's mappings, and in a container this process may
// have no other way to name it.
func (s *Session) mapsOf(tgid uint32) ([]mapping, string) {
	for range 8 {
		s.mu.Lock()
		ms, ok := s.maps[tgid]
		exe := s.exes[tgid]
		s.mu.Unlock()
		if ok {
			return ms, exe
		}
		if exe != "" {
			break // exec'd: its own program, whose mappings were not seen
		}
		var parent uint32
		if s.objs.Parents.Lookup(tgid, &parent) != nil || parent == tgid {
			break
		}
		tgid = parent
	}
	return nil, ""
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
