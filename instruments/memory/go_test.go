package memory

import (
	"math"
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
	lo, hi := run(1000), run(3000)
	allocsPerOp := (hi.Stats.AllocCalls - lo.Stats.AllocCalls) / 2000
	bytesPerOp := (hi.Stats.TotalAllocatedBytes - lo.Stats.TotalAllocatedBytes) / 2000
	// Bytes are not compared: MemStats counts bytes rounded up to the size
	// class, mallocgc sees the requested size.
	t.Logf("eBPF: %.3f allocs/op, %.1f B/op requested; go test -benchmem: %v allocs/op, %v B/op in size classes", allocsPerOp, bytesPerOp, wantAllocs, wantBytes)
	if math.Abs(allocsPerOp-wantAllocs) > 0.01 {
		t.Errorf("allocs/op = %.3f, go test -benchmem says %v", allocsPerOp, wantAllocs)
	}
	if hi.Stats.FreeCalls != 0 {
		t.Errorf("free calls = %v for a Go program, want 0", hi.Stats.FreeCalls)
	}
}
