package memory

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

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
