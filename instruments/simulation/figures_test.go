package simulation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// TestFigures produces the figures of BENCHMARKS.md: the determinism table
// (5 measurements each of a C program with client requests, a Go
// benchmark, and gzip, a packaged program not written here) and the overhead
// of a whole Measure against plain `valgrind --tool=callgrind` of the same
// command. It takes minutes, so it runs only with SIMTEST_FIGURES=1
// (SIMTEST_FIGURES=overhead measures only the overhead):
//
//	SIMTEST_FIGURES=1 go test -run TestFigures -v ./instruments/simulation/
func TestFigures(t *testing.T) {
	if os.Getenv("SIMTEST_FIGURES") == "" {
		t.Skip("set SIMTEST_FIGURES=1 to measure the figures (takes minutes)")
	}
	in := needValgrind(t)
	// A packaged program not written here: gzip when valgrind can run it
	// (see skipIfUprobed), and the Go distribution's gofmt, a static Go
	// binary that needs no C library, formatting a 1200-line file.
	gz, err := exec.LookPath("gzip")
	if err != nil {
		testenv.Missing(t, "gzip not installed")
	}
	input := filepath.Join(t.TempDir(), "input")
	// 200 KB of a real binary: compressible, with structure.
	data, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) < 200_000 {
		data = append(data, data...)
	}
	if err := os.WriteFile(input, data[:200_000], 0o644); err != nil {
		t.Fatal(err)
	}
	gzCmd := []string{gz, "-9", "-c", input}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	gofmtCmd := []string{filepath.Join(strings.TrimSpace(string(goroot)), "bin", "gofmt"), filepath.Join(strings.TrimSpace(string(goroot)), "src", "strings", "strings.go")}
	bin := cProgram(t, "benches")
	known := cProgram(t, "known")

	series := []struct {
		name   string
		target instruments.Target
		uri    string
	}{
		{"C, client requests (testdata/benches.c fib20)", instruments.Target{Name: "benches", Kind: instruments.Entrypoint, Args: []string{bin}}, "testdata/benches.c::fib20"},
		{"C, client requests (testdata/benches.c sort_10000)", instruments.Target{Name: "benches", Kind: instruments.Entrypoint, Args: []string{bin}}, "testdata/benches.c::sort_10000"},
		{"C, client requests (testdata/known.c add100000)", instruments.Target{Name: "known", Kind: instruments.Entrypoint, Args: []string{known}}, "known::add100000"},
		{"C, exec (testdata/known.c 2000000)", instruments.Target{Name: "known", Kind: instruments.Exec, Args: []string{known, "2000000"}}, "exec_harness::known"},
		{"Go (BenchmarkSort/n=100/sorted)", goTarget(t, "Sort/n=100/sorted"), gobenchPrefix + "bench_test.go::BenchmarkSort::n=100::sorted"},
		{"Go (BenchmarkFib20)", goTarget(t, "Fib20"), gobenchPrefix + "bench_test.go::BenchmarkFib20"},
		{"gzip -9 -c (200 KB), exec", instruments.Target{Name: "gzip", Kind: instruments.Exec, Args: gzCmd}, "exec_harness::gzip"},
		{"gofmt strings.go (Go distribution), exec", instruments.Target{Name: "gofmt", Kind: instruments.Exec, Args: gofmtCmd}, "exec_harness::gofmt"},
	}
	if os.Getenv("SIMTEST_FIGURES") == "overhead" {
		series = nil
	}
	fmt.Println("| benchmark | runs | min instructions | max instructions | (max-min)/min |")
	fmt.Println("|---|---|---|---|---|")
	for _, s := range series {
		var v []float64
		for range 5 {
			env := figureEnv(t)
			bs, err := in.Measure(context.Background(), s.target, env)
			if err == nil && len(bs) > 0 && bs[0].Error != "" {
				err = errors.New(bs[0].Error)
			}
			if err != nil {
				if strings.Contains(err.Error(), SigtrapHintPrefix) {
					break
				}
				t.Fatal(err)
			}
			b, ok := byURI(bs)[s.uri]
			if !ok || b.Simulation == nil {
				t.Fatalf("%s: %+v", s.uri, bs)
			}
			v = append(v, b.Simulation.Instructions)
		}
		if len(v) == 0 {
			fmt.Printf("| %s | - | not measurable now: a uprobe is attached to a library function it calls | | |\n", s.name)
			continue
		}
		lo, hi := slices.Min(v), slices.Max(v)
		fmt.Printf("| %s | 5 | %.3f | %.3f | %.2g |\n", s.name, lo, hi, (hi-lo)/lo)
	}

	// Overhead: a whole exec Measure (setarch, cache simulation, parsing,
	// folded stacks) against plain callgrind of the same command,
	// interleaved, 5 rounds each. The command is known.c's 40M-instruction
	// loop: it calls no allocator (a uprobe cannot break it) and, unlike a Go
	// program, never makes valgrind 3.19 abort.
	ovCmd := []string{known, "20000000"}
	p, _ := in.Probe()
	var ours, plain, same []float64
	for range 5 {
		// The exact valgrind command line Measure runs, started directly:
		// separates the runner's own cost (parsing, stacks, files) from the
		// cost of the simulation settings (cache simulation, systime).
		sdir := t.TempDir()
		start0 := time.Now()
		sc := in.command(context.Background(), p, invocation{outDir: sdir, instrAtStart: true, argv: ovCmd, env: figureEnv(t).BaseEnv})
		if out, err := sc.CombinedOutput(); err != nil {
			t.Fatalf("same-flags callgrind: %v %s", err, out[:min(len(out), 2000)])
		}
		same = append(same, time.Since(start0).Seconds())
		dir := t.TempDir()
		start := time.Now()
		cmd := exec.Command(p.Valgrind, append([]string{"--tool=callgrind", "--callgrind-out-file=" + filepath.Join(dir, "%p.out")}, ovCmd...)...)
		cmd.Env = figureEnv(t).BaseEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("plain callgrind: %v %s", err, out[:min(len(out), 2000)])
		}
		plain = append(plain, time.Since(start).Seconds())
		env := figureEnv(t)
		start = time.Now()
		if _, err := in.Measure(context.Background(), instruments.Target{Name: "known", Kind: instruments.Exec, Args: ovCmd}, env); err != nil {
			t.Fatal(err)
		}
		ours = append(ours, time.Since(start).Seconds())
	}
	slices.Sort(ours)
	slices.Sort(plain)
	slices.Sort(same)
	fmt.Printf("overhead: median Measure %.3fs, same valgrind command run directly %.3fs, plain `valgrind --tool=callgrind` %.3fs\n", ours[2], same[2], plain[2])
	fmt.Printf("ratio Measure / same command = %.3f (runner overhead); same command / plain callgrind = %.3f (cost of the simulation settings)\n", ours[2]/same[2], same[2]/plain[2])
	fmt.Printf("runs: Measure %v, same %v, plain %v\n", round3(ours), round3(same), round3(plain))
}

// figureEnv is testEnv with a minimal environment: no locale variables, so
// that the C library does not load locale files (and allocate) at start-up.
func figureEnv(t *testing.T) instruments.Env {
	env := testEnv(t)
	env.Stdout = nil
	env.BaseEnv = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CODSPEED_ENV=runner"}
	return env
}

func round3(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(x*1000) / 1000
	}
	return out
}
