package memory

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// benchmem runs `go test -bench -benchmem` natively in dir and returns the
// testing package's allocs/op and B/op per benchmark.
func benchmem(t *testing.T, dir string, env []string, pkg string) map[string]gobench.Result {
	t.Helper()
	cmd := exec.Command("go", "test", "-run=^$", "-bench=.", "-benchmem", "-benchtime=2000x", pkg)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test -benchmem: %v\n%s", err, out)
	}
	res, _ := gobench.Parse(bytes.NewReader(out), "benchmem")
	m := map[string]gobench.Result{}
	for _, r := range res {
		m[r.Name] = r
	}
	return m
}

// TestGoTestPerOp measures `go test -bench` packages per leaf benchmark and
// compares allocations per op with a native `go test -benchmem` run:
// a testdata benchmark with a known count, and the example package.
func TestGoTestPerOp(t *testing.T) {
	requireBPF(t)
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Missing(t, "go toolchain not on PATH: %v", err)
	}
	goEnv := append(os.Environ(), "GOFLAGS=-buildvcs=false")
	for _, tt := range []struct {
		name, dir string
		env       []string
		want      map[string]float64 // exact allocs/op, when known
		uriFile   string
	}{
		{name: "known", dir: filepath.Join("testdata", "gobench"), env: append(goEnv, "GOWORK=off"),
			want:    map[string]float64{"BenchmarkKnown/allocs=1": 1, "BenchmarkKnown/allocs=3": 3},
			uriFile: "bench_test.go"},
		{name: "wordfreq", dir: filepath.Join("..", "..", "examples", "go", "wordfreq"), env: goEnv,
			uriFile: "examples/go/wordfreq/wordfreq_test.go"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, err := filepath.Abs(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			bench := "."
			if tt.want != nil {
				bench = "Known"
			}
			in := &Instrument{}
			prog := &recordProgress{}
			benches, err := in.Measure(context.Background(), instruments.Target{
				Name: tt.name, Kind: instruments.Entrypoint, Dir: dir,
				Args: []string{"go", "test", "-bench=" + bench, "-benchmem", "."},
			}, instruments.Env{BaseEnv: tt.env, Stdout: io.Discard, Stderr: io.Discard, Progress: prog})
			if err != nil {
				t.Fatal(err)
			}
			native := benchmem(t, dir, tt.env, ".")
			if len(benches) == 0 {
				t.Fatal("no benchmarks")
			}
			for _, b := range benches {
				m := b.Memory
				if b.Error != "" || m == nil {
					t.Errorf("%s: error %q, memory %v", b.Name, b.Error, m)
					continue
				}
				nat, ok := native[b.Name]
				if !ok {
					t.Errorf("%s: not in the native -benchmem run", b.Name)
					continue
				}
				t.Logf("%s (%s): %.3f allocs/op, %.1f B/op requested, %.3f frees/op, %d iterations in the larger run; go test -benchmem: %v allocs/op, %v B/op",
					b.Name, b.URI, m.AllocCalls, m.TotalAllocatedBytes, m.FreeCalls, b.GoBench.Iterations, nat.AllocsPerOp, nat.BytesPerOp)
				if !m.PerIteration {
					t.Errorf("%s: PerIteration not set", b.Name)
				}
				if !strings.HasSuffix(b.URI, tt.uriFile+"::"+strings.ReplaceAll(b.Name, "/", "::")) {
					t.Errorf("%s: URI %q does not name %s", b.Name, b.URI, tt.uriFile)
				}
				// -benchmem truncates allocs/op to an integer. The runtime's
				// own allocations (GC workers started, sync.Pool emptied at
				// each GC) differ by a few tens between two runs of one
				// binary; over the fewest iterations measured here (about
				// 400 for BenchmarkCount) that is up to ±0.05 an op, seen as
				// 111.047 and 2.999 under load.
				if m.AllocCalls < nat.AllocsPerOp-0.1 || m.AllocCalls >= nat.AllocsPerOp+1 {
					t.Errorf("%s: %.3f allocs/op, go test -benchmem says %v", b.Name, m.AllocCalls, nat.AllocsPerOp)
				}
				if w, ok := tt.want[b.Name]; ok {
					if math.Abs(m.AllocCalls-w) > 0.01 || math.Abs(m.TotalAllocatedBytes-4096*w) > 4096*0.01 {
						t.Errorf("%s: %.3f allocs/op and %.1f B/op, want %v and %v", b.Name, m.AllocCalls, m.TotalAllocatedBytes, w, 4096*w)
					}
					if m.FreeCalls != 0 {
						t.Errorf("%s: %.3f frees/op in a Go benchmark, want 0", b.Name, m.FreeCalls)
					}
				}
			}
			if tt.want != nil && len(benches) != len(tt.want) {
				t.Errorf("got %d benchmarks, want %d", len(benches), len(tt.want))
			}
			if tt.name == "wordfreq" && len(benches) != 3 {
				t.Errorf("got %d benchmarks, want BenchmarkCount and two BenchmarkTop", len(benches))
			}
			for _, w := range prog.warnings {
				t.Logf("warning: %s", w)
			}
		})
	}
}
