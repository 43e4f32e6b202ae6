package memory

import (
	"math"
	"strconv"
	"testing"
)

func TestPeak(t *testing.T) {
	requireBPF(t)
	bin := build(t, "peak", "peak.c")
	const mib = 1 << 20
	for _, tt := range []struct {
		n, m int
		opts SessionOptions
	}{{30, 10, modes[0].opts}, {8, 24, modes[0].opts}, {30, 10, modes[1].opts}, {8, 24, modes[1].opts}} {
		snap := measure(t, tt.opts, bin, itoa(tt.n), itoa(tt.m))
		want := float64(max(tt.n, tt.m) * mib)
		if rel := math.Abs(snap.Stats.PeakBytes-want) / want; rel > 0.01 {
			t.Errorf("peak(%d MiB, %d MiB) = %v bytes, want %v within 1%%", tt.n, tt.m, snap.Stats.PeakBytes, want)
		}
		if snap.Stats.AllocCalls != float64(tt.n+tt.m+2) {
			t.Errorf("alloc calls = %v, want %d", snap.Stats.AllocCalls, tt.n+tt.m+2)
		}
	}
}

// TestPeakAcrossProcesses: blocks that a process still holds when it exits
// or execs leave the live total with it, and blocks a forked child inherited
// are its parent's (freeing them in both is not two frees off the books).
func TestPeakAcrossProcesses(t *testing.T) {
	requireBPF(t)
	bin := build(t, "peaktree", "peaktree.c")
	const mib = 1 << 20
	for _, mode := range modes {
		for _, tt := range []struct {
			what string
			n, m int
		}{{"exit", 16, 8}, {"exit", 8, 16}, {"exit-normal", 16, 8}, {"exit-normal", 8, 16}, {"leader-exit", 16, 8}, {"exec", 16, 8}, {"exec", 8, 16}, {"fork", 8, 24}, {"vfork", 8, 4}} {
			t.Run(mode.name+"/"+tt.what, func(t *testing.T) {
				snap := measure(t, mode.opts, bin, tt.what, itoa(tt.n), itoa(tt.m))
				want := float64(max(tt.n, tt.m) * mib)
				if tt.what == "vfork" {
					want = float64((tt.n + tt.m) * mib)
				}
				if rel := math.Abs(snap.Stats.PeakBytes-want) / want; rel > 0.01 {
					t.Errorf("peaktree %s %d %d: peak = %.0f bytes (%.2f MiB), want %.0f within 1%%",
						tt.what, tt.n, tt.m, snap.Stats.PeakBytes, snap.Stats.PeakBytes/mib, want)
				}
			})
		}
	}
}

// TestStaticAndChildren runs a dynamically linked parent that forks a
// child (which allocates) and then forks and execs a statically linked
// program whose allocator is only visible in its own symbol table.
func TestStaticAndChildren(t *testing.T) {
	requireBPF(t)
	forker := build(t, "forker", "forker.c")
	static := build(t, "pattern-static", "pattern.c", "-static")
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { testStaticAndChildren(t, mode.opts, forker, static) })
	}
}

func testStaticAndChildren(t *testing.T, opts SessionOptions, forker, static string) {

	// Static glibc allocates a few blocks at startup that the dynamic one
	// does not; the difference between two round counts is exact.
	staticAlone := measure(t, opts, static, "50")
	staticMore := measure(t, opts, static, "150")
	if got := staticMore.Stats.AllocCalls - staticAlone.Stats.AllocCalls; got != 100*8 {
		t.Errorf("static program: alloc calls for 100 rounds = %v, want %d", got, 100*8)
	}
	if got := staticMore.Stats.FreeCalls - staticAlone.Stats.FreeCalls; got != 100*8 {
		t.Errorf("static program: free calls for 100 rounds = %v, want %d", got, 100*8)
	}

	parentOnly := measure(t, opts, forker, "0")
	withChild := measure(t, opts, forker, "1000")
	if got := withChild.Stats.AllocCalls - parentOnly.Stats.AllocCalls; got != 1000 {
		t.Errorf("forked child: alloc calls beyond the parent's = %v, want 1000", got)
	}
	if got := withChild.Stats.TotalAllocatedBytes - parentOnly.Stats.TotalAllocatedBytes; got != 1000*1000 {
		t.Errorf("forked child: bytes beyond the parent's = %v, want 1000000", got)
	}

	tree := measure(t, opts, forker, "1000", static, "50")
	if got, want := tree.Stats.AllocCalls, withChild.Stats.AllocCalls+staticAlone.Stats.AllocCalls; got != want {
		t.Errorf("fork + exec of a static program: alloc calls = %v, want %v", got, want)
	}
}

func itoa(v int) string { return strconv.Itoa(v) }
