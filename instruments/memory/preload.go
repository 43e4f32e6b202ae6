package memory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The LD_PRELOAD interposer (preload/memtrack_preload.c) counts the C
// allocator calls of dynamically linked programs in-process, in a page
// shared with the runner: on this host a uprobe trap costs about 4 us of CPU
// (an allocation needs two, a free one), while the interposer's bookkeeping
// costs tens of nanoseconds. eBPF keeps covering what preloading cannot
// reach: statically linked programs, allocators defined inside an
// executable, the Go runtime, and non-standard allocator APIs in libraries.

const (
	preloadEnvShm = "CODSPEED_MEMTRACK_SHM"
	sharedMagic   = 0x6b7274636d6d6570
	sharedVersion = 2
	sharedHeader  = 4096 // the sharedPage, then the process slots
	sharedSlots   = 4096
	sharedSize    = sharedHeader + sharedSlots*int(unsafe.Sizeof(procSlot{}))
)

// sharedPage mirrors struct shared in memtrack_preload.c.
type sharedPage struct {
	Magic        uint64
	Version      uint32
	Enabled      uint32
	Generation   uint32
	_            uint32
	SamplePeriod uint64
	AllocCalls   uint64
	FreeCalls    uint64
	TotalBytes   uint64
	LiveBytes    int64
	PeakBytes    int64
	Untracked    uint64
	Processes    uint64
}

// procSlot mirrors struct proc_slot: the live bytes of one process, so that
// they can be taken out of the total when it ends.
type procSlot struct {
	Pid  int32
	_    uint32
	Live int64
}

// preloader owns the interposer's files: the library written out from the
// embedded copy and the shared counters page.
type preloader struct {
	dir     string
	lib     string
	shmPath string
	mem     []byte
	page    *sharedPage
	slots   []procSlot

	// mu orders start (a region opening) and release (the event
	// goroutine settling a process that ended).
	mu sync.Mutex
}

func newPreloader() (*preloader, error) {
	if len(preloadLibrary) == 0 {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "codspeed-memtrack-")
	if err != nil {
		return nil, fmt.Errorf("memory: preload library dir: %w", err)
	}
	p := &preloader{dir: dir, lib: filepath.Join(dir, "libcodspeed_memtrack.so")}
	if err := os.Chmod(dir, 0o755); err != nil {
		p.close()
		return nil, fmt.Errorf("memory: %w", err)
	}
	if err := os.WriteFile(p.lib, preloadLibrary, 0o755); err != nil {
		p.close()
		return nil, fmt.Errorf("memory: write preload library: %w", err)
	}
	p.shmPath = filepath.Join(dir, "counters")
	// Private to the benchmark's user: anyone who can write the counters
	// can forge the measurement. When the benchmark runs as another user
	// (a sandbox under sudo), handTo gives the file to that user.
	f, err := os.OpenFile(p.shmPath, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("memory: shared counters: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		p.close()
		return nil, fmt.Errorf("memory: shared counters: %w", err)
	}
	if err := f.Truncate(int64(sharedSize)); err != nil {
		p.close()
		return nil, fmt.Errorf("memory: shared counters: %w", err)
	}
	p.mem, err = syscall.Mmap(int(f.Fd()), 0, sharedSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("memory: map shared counters: %w", err)
	}
	p.page = (*sharedPage)(unsafe.Pointer(&p.mem[0]))
	p.slots = unsafe.Slice((*procSlot)(unsafe.Pointer(&p.mem[sharedHeader])), sharedSlots)
	p.page.Version = sharedVersion
	atomic.StoreUint64(&p.page.Magic, sharedMagic)
	return p, nil
}

// handTo makes the counters the benchmark's user's (still 0600), when the
// benchmark runs as another user than this process.
func (p *preloader) handTo(uid, gid int) error {
	if uid == os.Geteuid() && gid == os.Getegid() {
		return nil
	}
	if err := os.Lchown(p.shmPath, uid, gid); err != nil {
		return fmt.Errorf("memory: give the shared counters to uid %d: %w", uid, err)
	}
	return nil
}

// env returns cmdEnv with the interposer added to LD_PRELOAD (after any
// library the user preloads, so theirs keeps precedence).
func (p *preloader) env(cmdEnv []string) []string {
	out := make([]string, 0, len(cmdEnv)+2)
	preload := p.lib
	for _, kv := range cmdEnv {
		if v, ok := strings.CutPrefix(kv, "LD_PRELOAD="); ok {
			if v != "" {
				preload = v + ":" + p.lib
			}
			continue
		}
		if strings.HasPrefix(kv, preloadEnvShm+"=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LD_PRELOAD="+preload, preloadEnvShm+"="+p.shmPath)
}

// start zeroes the counters and opens a region; samplePeriod 0 records no
// stacks.
func (p *preloader) start(generation uint32, samplePeriod uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pg := p.page
	atomic.StoreUint32(&pg.Enabled, 0)
	// The new generation first: from now on, blocks of the previous
	// region no longer come off the books of this one when freed.
	atomic.StoreUint32(&pg.Generation, generation)
	atomic.StoreUint64(&pg.AllocCalls, 0)
	atomic.StoreUint64(&pg.FreeCalls, 0)
	atomic.StoreUint64(&pg.TotalBytes, 0)
	atomic.StoreInt64(&pg.LiveBytes, 0)
	atomic.StoreInt64(&pg.PeakBytes, 0)
	atomic.StoreUint64(&pg.Untracked, 0)
	atomic.StoreUint64(&pg.SamplePeriod, samplePeriod)
	for i := range p.slots {
		atomic.StoreInt64(&p.slots[i].Live, 0)
	}
	atomic.StoreUint32(&pg.Enabled, 1)
}

func (p *preloader) stop() sharedPage {
	pg := p.page
	atomic.StoreUint32(&pg.Enabled, 0)
	return sharedPage{
		AllocCalls: atomic.LoadUint64(&pg.AllocCalls),
		FreeCalls:  atomic.LoadUint64(&pg.FreeCalls),
		TotalBytes: atomic.LoadUint64(&pg.TotalBytes),
		LiveBytes:  atomic.LoadInt64(&pg.LiveBytes),
		PeakBytes:  atomic.LoadInt64(&pg.PeakBytes),
		Untracked:  atomic.LoadUint64(&pg.Untracked),
		Processes:  atomic.LoadUint64(&pg.Processes),
	}
}

// release settles the slots of process pid, which exited or exec'd: the
// bytes it still had allocated are gone with it and leave the live total.
// The process no longer writes to them (it is dead, or stopped at exec until
// the caller resumes it, and its new image takes a new slot). Every slot of
// the pid goes: an image whose exec event was lost left one behind. (A
// process that exits normally settles its own slot first; see
// memtrack_preload.c.)
func (p *preloader) release(pid uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.slots {
		sl := &p.slots[i]
		if atomic.LoadInt32(&sl.Pid) != int32(pid) {
			continue
		}
		if live := atomic.SwapInt64(&sl.Live, 0); live != 0 {
			atomic.AddInt64(&p.page.LiveBytes, -live)
		}
		atomic.CompareAndSwapInt32(&sl.Pid, int32(pid), 0)
	}
}

func (p *preloader) close() {
	if p.mem != nil {
		syscall.Munmap(p.mem)
		p.mem, p.page, p.slots = nil, nil, nil
	}
	os.RemoveAll(p.dir)
}

// activeIn says whether the interposer is loaded in process pid: its
// environment names it and the program is dynamically linked against glibc
// (the interposer is built against glibc; static programs ignore
// LD_PRELOAD).
//
// A library that replaces malloc (libjemalloc, libmimalloc) makes the
// interposer step aside (it checks where the next malloc lives), and the
// process is counted with probes, as here.
func (p *preloader) activeIn(pid int, exe *elfInfo, libs []*elfInfo) bool {
	if exe.Interp == "" {
		return false
	}
	glibc := false
	for _, l := range libs {
		if filepath.Base(l.Path) == "libc.so.6" {
			glibc = true
			continue
		}
		for _, site := range l.Sites {
			if site.Symbol == "malloc" {
				return false
			}
		}
	}
	if !glibc {
		return false
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, "LD_PRELOAD="); ok {
			for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ' ' }) {
				if l == p.lib {
					return true
				}
			}
		}
	}
	return false
}

// standardAPI says whether a symbol is one the interposer takes over (or
// that reaches it: operator new and delete call malloc and free).
func standardAPI(name string) bool {
	switch name {
	case "malloc", "free", "calloc", "realloc", "memalign", "aligned_alloc",
		"posix_memalign", "valloc", "pvalloc":
		return true
	}
	return strings.HasPrefix(name, "_Zn") || strings.HasPrefix(name, "_Zd")
}
