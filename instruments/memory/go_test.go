package memory

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

var benchmemLine = regexp.MustCompile(`BenchmarkMixed\S*\s+(\d+)\s+[\d.]+ ns/op\s+(\d+) B/op\s+(\d+) allocs/op`)

// TestGoAllocsPerOp compares allocations per op seen on runtime.mallocgc
// with what `go test -benchmem` reports, for a compiled Go test binary run
// at two iteration counts (the difference cancels runtime start-up and the
// testing framework's own allocations).
func TestGoAllocsPerOp(t *testing.T) {
	requireBPF(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		testenv.Missing(t, "go toolchain not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "gobench.test")
	cmd := exec.Command(goBin, "test", "-c", "-o", bin, ".")
	cmd.Dir = filepath.Join("testdata", "gobench")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "-test.run=^$", "-test.bench=BenchmarkMixed", "-test.benchtime=20000x", "-test.benchmem").CombinedOutput()
	if err != nil {
		t.Fatalf("benchmark: %v\n%s", err, out)
	}
	m := benchmemLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no -benchmem line in:\n%s", out)
	}
	wantAllocs, _ := strconv.ParseFloat(string(m[3]), 64)
	wantBytes, _ := strconv.ParseFloat(string(m[2]), 64)

	run := func(n int) Snapshot {
		return measure(t, SessionOptions{}, bin, "-test.run=^$", "-test.bench=BenchmarkMixed",
			"-test.benchtime="+strconv.Itoa(n)+"x", "-test.benchmem")
	}
	// The runtime's own allocations (new threads and goroutine structures,
	// whose number depends on timing) vary by about ±25 calls from run to
	// run, GOGC=off or not (measured here: 464 to 508 calls above 18 per op,
	// at 1000 and 3000 iterations); 20000 iterations apart, that is ±0.00125
	// per op.
	lo, hi := run(1000), run(21000)
	allocsPerOp := (hi.Stats.AllocCalls - lo.Stats.AllocCalls) / 20000
	bytesPerOp := (hi.Stats.TotalAllocatedBytes - lo.Stats.TotalAllocatedBytes) / 20000
	// Bytes are not compared: MemStats counts bytes rounded up to the size
	// class, mallocgc sees the requested size.
	t.Logf("eBPF: %.3f allocs/op, %.1f B/op requested; go test -benchmem: %v allocs/op, %v B/op in size classes", allocsPerOp, bytesPerOp, wantAllocs, wantBytes)
	// -benchmem prints allocs/op truncated to an integer, and both it and
	// the probe count the runtime's own allocations during the loop (each
	// GC cycle makes a few: measured 18.010 here, 20000 iterations
	// apart), so the exact figure is at or a little above the printed one.
	if allocsPerOp < wantAllocs-0.005 || allocsPerOp > wantAllocs+0.03 {
		t.Errorf("allocs/op = %.3f, go test -benchmem says %v (want %v-0.005 to %v+0.03)", allocsPerOp, wantAllocs, wantAllocs, wantAllocs)
	}
	if hi.Stats.FreeCalls != 0 {
		t.Errorf("free calls = %v for a Go program, want 0", hi.Stats.FreeCalls)
	}
}
