package simulation

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// TestFigures produces the figures of BENCHMARKS.md: the determinism table
// (5 measurements each of a C program with client requests, a Go
// benchmark, and xz, a packaged program not written here) and the overhead
// of a whole Measure against plain `valgrind --tool=callgrind` of the same
// command. It takes minutes, so it runs only with SIMTEST_FIGURES=1:
//
//	SIMTEST_FIGURES=1 go test -run TestFigures -v ./instruments/simulation/
func TestFigures(t *testing.T) {
	if os.Getenv("SIMTEST_FIGURES") == "" {
		t.Skip("set SIMTEST_FIGURES=1 to measure the figures (takes minutes)")
	}
	in := needValgrind(t)
	xz, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz not installed")
	}
	input := filepath.Join(t.TempDir(), "input")
	// 200 KB of a real binary: compressible, with structure.
	data, err := os.ReadFile(xz)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) < 200_000 {
		data = append(data, data...)
	}
	if err := os.WriteFile(input, data[:200_000], 0o644); err != nil {
		t.Fatal(err)
	}
	xzCmd := []string{xz, "-9", "-c", "-T1", input}
	bin := cProgram(t, "benches")

	series := []struct {
		name   string
		target instruments.Target
		uri    string
	}{
		{"C, client requests (testdata/benches.c fib20)", instruments.Target{Name: "benches", Kind: instruments.Entrypoint, Args: []string{bin}}, "testdata/benches.c::fib20"},
		{"C, client requests (testdata/benches.c sort_10000)", instruments.Target{Name: "benches", Kind: instruments.Entrypoint, Args: []string{bin}}, "testdata/benches.c::sort_10000"},
		{"Go (BenchmarkSort/n=100/sorted)", goTarget(t, "Sort/n=100/sorted"), gobenchPrefix + "bench_test.go::BenchmarkSort::n=100::sorted"},
		{"Go (BenchmarkFib20)", goTarget(t, "Fib20"), gobenchPrefix + "bench_test.go::BenchmarkFib20"},
		{"xz -9 -c (200 KB), exec", instruments.Target{Name: "xz", Kind: instruments.Exec, Args: xzCmd}, "exec_harness::xz"},
	}
	fmt.Println("| benchmark | runs | min instructions | max instructions | (max-min)/min |")
	fmt.Println("|---|---|---|---|---|")
	for _, s := range series {
		var v []float64
		for range 5 {
			env := testEnv(t)
			env.Stdout = nil
			bs, err := in.Measure(context.Background(), s.target, env)
			if err != nil {
				t.Fatal(err)
			}
			b, ok := byURI(bs)[s.uri]
			if !ok || b.Simulation == nil {
				t.Fatalf("%s: %+v", s.uri, bs)
			}
			v = append(v, b.Simulation.Instructions)
		}
		lo, hi := slices.Min(v), slices.Max(v)
		fmt.Printf("| %s | 5 | %.3f | %.3f | %.2g |\n", s.name, lo, hi, (hi-lo)/lo)
	}

	// Overhead: a whole exec Measure (setarch, cache simulation, parsing,
	// folded stacks) against plain callgrind, interleaved, 5 rounds each.
	p, _ := in.Probe()
	var ours, plain []float64
	for range 5 {
		dir := t.TempDir()
		start := time.Now()
		cmd := exec.Command(p.Valgrind, append([]string{"--tool=callgrind", "--callgrind-out-file=" + filepath.Join(dir, "%p.out")}, xzCmd...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("plain callgrind: %v %s", err, out[:min(len(out), 2000)])
		}
		plain = append(plain, time.Since(start).Seconds())
		env := testEnv(t)
		env.Stdout = nil
		start = time.Now()
		if _, err := in.Measure(context.Background(), instruments.Target{Name: "xz", Kind: instruments.Exec, Args: xzCmd}, env); err != nil {
			t.Fatal(err)
		}
		ours = append(ours, time.Since(start).Seconds())
	}
	slices.Sort(ours)
	slices.Sort(plain)
	fmt.Printf("overhead: median Measure %.3fs, median plain callgrind %.3fs, ratio %.3f (runs: ours %v, plain %v)\n",
		ours[2], plain[2], ours[2]/plain[2], round3(ours), round3(plain))
}

func round3(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(x*1000) / 1000
	}
	return out
}
