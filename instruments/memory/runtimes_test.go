package memory

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

func TestManagedRuntimeOf(t *testing.T) {
	for exe, want := range map[string]string{
		"/usr/bin/node": "v8", "/usr/local/bin/nodejs": "v8", "/usr/bin/python3.11": "pymalloc", "/usr/bin/python3": "pymalloc",
		"/usr/lib/jvm/java-17-openjdk-amd64/bin/java": "jvm", "/usr/bin/bash": "", "/tmp/nodes": "", "/usr/bin/python3-config": "",
	} {
		r, ok := managedRuntimeOf(exe)
		if r.name != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", exe, r.name, ok, want)
		}
	}
}

// A string-building JavaScript benchmark: memory mode says what it counts
// of node (V8's heap is not), marks the benchmark as run by V8, and the
// report does not blame static linking.
func TestNodeRuntimeNote(t *testing.T) {
	requireBPF(t)
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is not installed (.ci/run installs nodejs): %v", err)
		}
		t.Skip("node is not installed")
	}
	script := filepath.Join(t.TempDir(), "strings.js")
	src := "let s = ''; for (let i = 0; i < 200000; i++) s += String.fromCharCode(97 + i % 26); console.log(s.length);\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := &recordProgress{}
	in := &Instrument{}
	benches, err := in.Measure(context.Background(), instruments.Target{Name: "strings", Args: []string{node, script}},
		instruments.Env{ProfileFolder: t.TempDir(), Stdout: io.Discard, Stderr: io.Discard, Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 1 || benches[0].Memory == nil || benches[0].Error != "" {
		t.Fatalf("benchmarks: %+v", benches)
	}
	b := benches[0]
	if b.Memory.Runtime != "v8" {
		t.Errorf("runtime %q, want v8", b.Memory.Runtime)
	}
	var note string
	for _, w := range prog.warnings {
		if strings.Contains(w, "node ran") {
			note = w
		}
	}
	if !strings.Contains(note, "V8's garbage-collected heap") || !strings.Contains(note, "NOT counted") {
		t.Errorf("no note on what is counted of node; warnings: %q", prog.warnings)
	}
	// The same figures with no allocator call seen (an integration's
	// region that only built strings): the report names V8's heap.
	zero := b
	m := *b.Memory
	m.AllocCalls, m.FreeCalls, m.TotalAllocatedBytes, m.PeakBytes = 0, 0, 0, 0
	zero.Memory = &m
	for _, bb := range []results.Benchmark{b, zero} {
		for _, w := range results.Warnings(results.Memory, bb) {
			if strings.Contains(w, "statically linked") {
				t.Errorf("static linking blamed for node: %s", w)
			}
		}
	}
	if ws := results.Warnings(results.Memory, zero); len(ws) != 1 || !strings.Contains(ws[0], "V8's garbage-collected heap") {
		t.Errorf("warnings for a region with no allocator call: %q", ws)
	}
}
