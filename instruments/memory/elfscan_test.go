package memory

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// TestScanLibc checks the allocator sites found in the system's glibc:
// every public entry point, one probe per address (glibc's aliases such as
// __libc_malloc share malloc's).
func TestScanLibc(t *testing.T) {
	resolver := newLibraryResolver()
	libc := resolver.resolve("libc.so.6", nil, nil)
	if libc == "" {
		testenv.Missing(t, "no libc.so.6 in the library path (not a glibc system)")
	}
	info, err := scanELF(libc)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]probeSite{}
	offsets := map[uint64]bool{}
	for _, s := range info.Sites {
		byName[s.Symbol] = s
		if offsets[s.Offset] {
			t.Errorf("two probes at offset %#x", s.Offset)
		}
		offsets[s.Offset] = true
	}
	for name, k := range map[string]kind{"malloc": kindMalloc, "free": kindFree, "calloc": kindCalloc,
		"realloc": kindRealloc, "posix_memalign": kindPosixMemalign} {
		if s, ok := byName[name]; !ok || s.Kind != k {
			t.Errorf("libc site %s = %+v (found %v), want kind %d", name, s, ok, k)
		}
	}
	_, memalign := byName["memalign"]
	_, aligned := byName["aligned_alloc"]
	if !memalign && !aligned {
		t.Errorf("neither memalign nor aligned_alloc found in %s", libc)
	}
}

func TestScanStaticAndDynamic(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		testenv.Missing(t, "gcc not installed")
	}
	static := build(t, "pattern-static", "pattern.c", "-static")
	info, err := scanELF(static)
	if err != nil {
		t.Fatal(err)
	}
	if info.Interp != "" || len(info.Needed) != 0 {
		t.Errorf("static program: interp %q, needed %v", info.Interp, info.Needed)
	}
	found := false
	for _, s := range info.Sites {
		found = found || s.Symbol == "malloc"
	}
	if !found {
		t.Errorf("static program: no malloc site among %+v", info.Sites)
	}

	dynamic := build(t, "pattern", "pattern.c")
	info, err = scanELF(dynamic)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Sites) != 0 {
		t.Errorf("dynamic program defines no allocator, got sites %+v", info.Sites)
	}
	if info.Interp == "" || !contains(info.Needed, "libc.so.6") {
		t.Errorf("dynamic program: interp %q, needed %v", info.Interp, info.Needed)
	}
	if _, err := scanELF(filepath.Join("testdata", "pattern.c")); err == nil {
		t.Error("scanning a C source file succeeded")
	}
}

func TestAllocatorSymbols(t *testing.T) {
	for name, want := range map[string]kind{
		"malloc": kindMalloc, "_rjem_malloc": kindMalloc, "je_calloc": kindCalloc, "mi_realloc": kindRealloc,
		"_Znwm": kindMalloc, "_ZnamSt11align_val_tRKSt9nothrow_t": kindMalloc, "_ZdlPvm": kindDelete,
		"_ZdaPvSt11align_val_t": kindDelete, "sdallocx": kindFree, "_rjem_sdallocx": kindFree,
		"runtime.mallocgc": kindGoMallocgc, "aligned_alloc": kindAligned,
	} {
		if got := allocatorSymbols[name]; got != want {
			t.Errorf("allocatorSymbols[%q] = %d, want %d", name, got, want)
		}
	}
	if kindGoMallocgc.returns() || kindFree.returns() || !kindMalloc.returns() || !kindDelete.returns() {
		t.Error("return probes: Go and free must have none, malloc and delete one")
	}
}

func TestPreloaderEnv(t *testing.T) {
	p := &preloader{lib: "/tmp/x/libcodspeed_memtrack.so", shmPath: "/tmp/x/counters"}
	got := strings.Join(p.env([]string{"A=1", "LD_PRELOAD=/usr/lib/libuser.so", preloadEnvShm + "=stale"}), " ")
	want := "A=1 LD_PRELOAD=/usr/lib/libuser.so:/tmp/x/libcodspeed_memtrack.so " + preloadEnvShm + "=/tmp/x/counters"
	if got != want {
		t.Errorf("env = %q, want %q", got, want)
	}
	got = strings.Join(p.env([]string{"A=1"}), " ")
	want = "A=1 LD_PRELOAD=/tmp/x/libcodspeed_memtrack.so " + preloadEnvShm + "=/tmp/x/counters"
	if got != want {
		t.Errorf("env = %q, want %q", got, want)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
