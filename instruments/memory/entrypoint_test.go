package memory

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// recordProgress keeps the warnings an instrument reports.
type recordProgress struct {
	instruments.NopProgress
	warnings []string
}

func (p *recordProgress) Warn(msg string) { p.warnings = append(p.warnings, msg) }

// TestEntrypointRegions runs a C integration that marks two regions through
// the instrument-hooks pipe and allocates known amounts inside and outside
// them: each URI gets exactly its region's allocations.
func TestEntrypointRegions(t *testing.T) {
	requireBPF(t)
	bin := build(t, "hooks_regions", "hooks_regions.c")
	profile := t.TempDir()
	in := &Instrument{HooksDir: t.TempDir(), Stacks: true}
	prog := &recordProgress{}
	benches, err := in.Measure(context.Background(),
		instruments.Target{Name: "regions", Kind: instruments.Entrypoint, Args: []string{bin, in.HooksDir}},
		instruments.Env{ProfileFolder: profile, Stdout: io.Discard, Stderr: io.Discard, Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warnings: %q", prog.warnings)
	want := []struct {
		name, uri string
		mem       results.MemoryStats
	}{
		{"first", "bench.c::group::first", results.MemoryStats{PeakBytes: 200000, TotalAllocatedBytes: 200000, AllocCalls: 200}},
		// The 200 frees of the first region's blocks count as calls but
		// do not lower this region's live bytes.
		{"second", "bench.c::group::second", results.MemoryStats{PeakBytes: 50000, TotalAllocatedBytes: 50000, AllocCalls: 10, FreeCalls: 210}},
	}
	if len(benches) != len(want) {
		t.Fatalf("got %d benchmarks, want %d: %+v", len(benches), len(want), benches)
	}
	for i, w := range want {
		b := benches[i]
		if b.Name != w.name || b.URI != w.uri || b.Error != "" || b.Memory == nil {
			t.Errorf("benchmark %d = %+v, want %s (%s)", i, b, w.name, w.uri)
			continue
		}
		if *b.Memory != w.mem {
			t.Errorf("%s: memory = %+v, want %+v", w.name, *b.Memory, w.mem)
		}
		if b.Profile == nil {
			t.Errorf("%s: no profile", w.name)
		} else if _, err := os.Stat(filepath.Join(profile, b.Profile.Folded)); err != nil {
			t.Errorf("%s: %v", w.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(profile, "hooks-session.json")); err != nil {
		t.Errorf("hooks session not kept: %v", err)
	}
}

// TestEntrypointUnmarked: an entrypoint that never marks a region is
// measured whole, as an exec target is.
func TestEntrypointUnmarked(t *testing.T) {
	requireBPF(t)
	bin := build(t, "hooks_regions", "hooks_regions.c")
	in := &Instrument{HooksDir: t.TempDir()}
	benches, err := in.Measure(context.Background(),
		instruments.Target{Name: "whole", Kind: instruments.Entrypoint, Args: []string{bin, in.HooksDir, "none"}},
		instruments.Env{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	want := results.MemoryStats{
		AllocCalls:          30 + 200 + 5 + 10,
		FreeCalls:           30 + 5 + 200 + 10,
		TotalAllocatedBytes: 30*777 + 200*1000 + 5*3333 + 10*5000,
		PeakBytes:           200*1000 + 3333,
	}
	if len(benches) != 1 || benches[0].Name != "whole" || benches[0].Memory == nil || *benches[0].Memory != want {
		t.Fatalf("benchmarks = %+v, want one named whole with %+v", benches, want)
	}
}

func TestMergeSnapshots(t *testing.T) {
	a := Snapshot{Stats: results.MemoryStats{PeakBytes: 10, TotalAllocatedBytes: 10, AllocCalls: 1, FreeCalls: 2},
		Untracked: 1, Stacks: []StackBytes{{Frames: []string{"main", "f"}, Bytes: 10, Calls: 1}}}
	b := Snapshot{Stats: results.MemoryStats{PeakBytes: 30, TotalAllocatedBytes: 40, AllocCalls: 3},
		Stacks: []StackBytes{{Frames: []string{"main", "f"}, Bytes: 40, Calls: 3}, {Frames: []string{"main", "g"}, Bytes: 1, Calls: 1}}}
	got := mergeSnapshots([]Snapshot{a, b})
	want := results.MemoryStats{PeakBytes: 30, TotalAllocatedBytes: 50, AllocCalls: 4, FreeCalls: 2}
	if got.Stats != want || got.Untracked != 1 || len(got.Stacks) != 2 || got.Stacks[0].Bytes != 50 || got.Stacks[0].Calls != 4 {
		t.Errorf("merged = %+v", got)
	}
	if strings.Join(got.Stacks[1].Frames, ";") != "main;g" {
		t.Errorf("stacks = %+v", got.Stacks)
	}
}
