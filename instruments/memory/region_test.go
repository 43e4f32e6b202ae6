package memory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// TestRegions opens and closes measured regions around phases of a running
// program, as the run loop does for integrations that mark benchmarks.
func TestRegions(t *testing.T) {
	requireBPF(t)
	bin := build(t, "regions", "regions.c")
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			s, err := NewSession(mode.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			cmd := exec.Command(bin)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Launch(instruments.Direct, cmd); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := bufio.NewScanner(stdout)
			step := func(want string) {
				t.Helper()
				if _, err := io.WriteString(stdin, "go\n"); err != nil {
					t.Fatal(err)
				}
				if !lines.Scan() || lines.Text() != want {
					t.Fatalf("program said %q (%v), want %q", lines.Text(), lines.Err(), want)
				}
			}

			step("phase1") // no region open: nothing counted
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			step("phase2")
			first, err := s.Stop()
			if err != nil {
				t.Fatal(err)
			}
			want := results.MemoryStats{PeakBytes: 200000, TotalAllocatedBytes: 200000, AllocCalls: 200}
			if first.Stats != want {
				t.Errorf("first region = %+v, want %+v", first.Stats, want)
			}

			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			step("phase3")
			second, err := s.Stop()
			if err != nil {
				t.Fatal(err)
			}
			// The 200 frees of the first region's blocks count as calls
			// but do not lower this region's live bytes.
			want = results.MemoryStats{PeakBytes: 50000, TotalAllocatedBytes: 50000, AllocCalls: 10, FreeCalls: 210}
			if second.Stats != want {
				t.Errorf("second region = %+v, want %+v", second.Stats, want)
			}
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStacks checks bytes per call stack: exact with probes, within the
// sampling period with the interposer.
func TestStacks(t *testing.T) {
	requireBPF(t)
	bin := build(t, "stacks", "stacks.c", "-fno-omit-frame-pointer")
	for _, tt := range []struct {
		name      string
		opts      SessionOptions
		tolerance float64 // bytes
	}{
		{"preload", SessionOptions{Stacks: true, SamplePeriod: 4096}, 2 * 4096},
		{"ebpf", SessionOptions{Stacks: true, EBPFOnly: true}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			snap := measure(t, tt.opts, bin)
			var folded bytes.Buffer
			if err := WriteFolded(&folded, snap.Stacks); err != nil {
				t.Fatal(err)
			}
			perPath := map[string]float64{}
			for _, st := range snap.Stacks {
				joined := strings.Join(st.Frames, ";")
				for _, path := range []string{"main;big;big_allocator", "main;small;small_allocator"} {
					if strings.Contains(joined, path) {
						perPath[path] += float64(st.Bytes)
					}
				}
			}
			for path, want := range map[string]float64{
				"main;big;big_allocator":     10_000_000,
				"main;small;small_allocator": 1_000_000,
			} {
				if got := perPath[path]; got < want-tt.tolerance || got > want+tt.tolerance {
					t.Errorf("bytes under %s = %v, want %v ± %v\nfolded:\n%s", path, got, want, tt.tolerance, folded.String())
				}
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	requireBPF(t)
	bin := build(t, "stacks", "stacks.c", "-fno-omit-frame-pointer")
	profile := t.TempDir()
	in := &Instrument{Stacks: true}
	if in.Mode() != "memory" {
		t.Fatalf("Mode() = %q", in.Mode())
	}
	if err := in.Check(); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	benches, err := in.Measure(context.Background(), instruments.Target{Name: "two paths", Args: []string{bin}},
		instruments.Env{ProfileFolder: profile, Stdout: io.Discard, Stderr: &stderr, Progress: instruments.NopProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 1 || benches[0].Memory == nil || benches[0].Error != "" {
		t.Fatalf("benchmarks = %+v", benches)
	}
	m := benches[0].Memory
	if m.AllocCalls != 2000 || m.FreeCalls != 2000 || m.TotalAllocatedBytes != 11_000_000 || m.PeakBytes != 10000 {
		t.Errorf("memory = %+v, want 2000 allocs, 2000 frees, 11000000 bytes, peak 10000", m)
	}
	if benches[0].Profile == nil || benches[0].Profile.Event != "bytes" {
		t.Fatalf("profile = %+v", benches[0].Profile)
	}
	b, err := os.ReadFile(filepath.Join(profile, benches[0].Profile.Folded))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("big_allocator")) {
		t.Errorf("folded file lacks big_allocator:\n%s", b)
	}

	// A command that fails is a benchmark with Error set.
	benches, err = in.Measure(context.Background(), instruments.Target{Name: "fails", Command: "exit 3"},
		instruments.Env{Stdout: io.Discard, Stderr: io.Discard, Progress: instruments.NopProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 1 || benches[0].Error == "" {
		t.Errorf("failing command: benchmarks = %+v, want one with Error", benches)
	}
}

func TestExplainBPFError(t *testing.T) {
	err := explainBPFError("load", fmt.Errorf("wrapped: %w", os.ErrPermission))
	if !errors.Is(err, instruments.ErrNotSupported) {
		t.Errorf("permission error does not wrap ErrNotSupported: %v", err)
	}
	for _, want := range []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_ADMIN", "--cap-add"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if err := explainBPFError("load", errors.New("other")); errors.Is(err, instruments.ErrNotSupported) {
		t.Errorf("unrelated error wraps ErrNotSupported: %v", err)
	}
}
