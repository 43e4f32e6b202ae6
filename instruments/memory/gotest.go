package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/results"
)

// Iteration budget of a Go leaf benchmark: the second run does delta more
// iterations than the first, with delta chosen so that those iterations
// make about goAllocBudget allocations (each costs a uprobe trap, a few
// microseconds) and take about goTimeBudgetNs natively, within
// [goMinDelta, goMaxDelta]. The runtime's own allocations (new threads and
// goroutine structures, as many as timing asks for) vary by about ±25
// calls from run to run; at goMaxDelta iterations that is ±0.0025 per op.
const (
	goAllocBudget  = 200_000
	goTimeBudgetNs = 300e6
	goMinDelta     = 10
	goMaxDelta     = 10_000
	goBaseIters    = 2 // iterations of the first run
)

// measureGo measures `go test -bench` benchmarks per iteration. The test
// binary of each package is built once (`go test -c`, outside the session,
// so the toolchain is not measured), run briefly natively to list the leaf
// benchmarks, then each leaf is run twice under the session with
// -test.benchtime=<n>x, n = goBaseIters and goBaseIters+delta. Everything
// the two runs share (runtime start-up, the testing package, the leaf's
// setup, the b.N=1 probe run the testing package always makes) cancels in
// the difference, which divided by delta is the cost of one iteration:
// alloc calls, requested bytes and free calls per op. The peak is the
// whole larger run's (not per op) and covers C allocations only: Go heaps
// have no free calls to follow. The folded stacks are the larger run's too.
//
// Unlike -benchmem, allocations between StopTimer and StartTimer inside the
// loop are counted too; -benchmem's B/op counts size-class bytes where this
// counts requested bytes.
func (in *Instrument) measureGo(ctx context.Context, t instruments.Target, env instruments.Env) ([]results.Benchmark, error) {
	g, err := gobench.ParseTestCommand(t.Args)
	if err != nil {
		return nil, err
	}
	var ignored []string
	for _, f := range g.Ignored {
		if !strings.HasPrefix(strings.TrimLeft(f, "-"), "benchmem") && !strings.HasPrefix(strings.TrimLeft(f, "-"), "test.benchmem") {
			ignored = append(ignored, f) // -benchmem is always on
		}
	}
	if len(ignored) > 0 {
		env.Progress.Warn(fmt.Sprintf("memory mode fixes its own iteration counts; ignoring go test flags %s", strings.Join(ignored, " ")))
	}
	dir := t.Dir
	if dir == "" {
		if dir, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("memory: %w", err)
		}
	}
	baseEnv := append(append([]string(nil), env.BaseEnv...), t.Env...)
	if len(env.BaseEnv) == 0 && len(t.Env) == 0 {
		baseEnv = os.Environ()
	}

	// One session for every package, opened when the first is listed; the
	// listing run's allocations per op pick each leaf's iteration counts.
	var s *Session
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	allocs := map[string]float64{}
	suite := gobench.Suite{
		Phase: "measuring",
		List: func(ctx context.Context, bin, pkgDir string) ([]gobench.Leaf, error) {
			listing, err := runGoTest(ctx, nil, env, bin, pkgDir, baseEnv, append([]string{
				"-test.run=^$", "-test.bench=" + g.Bench, "-test.benchtime=1x", "-test.benchmem"}, g.BinFlags...))
			leaves := gobench.Leaves(listing)
			if err != nil && len(leaves) == 0 {
				return nil, err
			}
			res, _ := gobench.Parse(bytes.NewReader(listing), "listing")
			for _, r := range res {
				allocs[r.Name] = r.AllocsPerOp
			}
			if s == nil {
				if s, err = NewSession(SessionOptions{Stacks: in.Stacks}); err != nil {
					return nil, err
				}
			}
			return leaves, nil
		},
		Measure: func(ctx context.Context, b *results.Benchmark, lf gobench.Leaf, bin, pkgDir string) error {
			return in.measureGoLeaf(ctx, s, b, bin, pkgDir, baseEnv, g.BinFlags, env, goDelta(allocs[lf.Name], lf.NsPerOp))
		},
	}
	out, err := suite.Run(ctx, g, dir, baseEnv, env.Progress)
	if s != nil {
		for _, w := range s.Warnings() {
			env.Progress.Warn(w)
		}
	}
	return out, err
}

// goDelta picks the iteration difference of the two runs from one
// iteration's allocations and time (the listing run's figures).
func goDelta(allocsPerOp, nsPerOp float64) int64 {
	d := float64(goMaxDelta)
	if allocsPerOp > 0 {
		d = min(d, goAllocBudget/allocsPerOp)
	}
	if nsPerOp > 0 {
		d = min(d, goTimeBudgetNs/nsPerOp)
	}
	return max(goMinDelta, int64(d))
}

// measureGoLeaf runs one leaf at two iteration counts under s and stores
// the per-iteration difference in b (see measureGo).
func (in *Instrument) measureGoLeaf(ctx context.Context, s *Session, b *results.Benchmark, bin, dir string, baseEnv, binFlags []string, env instruments.Env, delta int64) error {
	lo, hi := int64(goBaseIters), goBaseIters+delta
	var snaps [2]Snapshot
	var hiOut []byte
	for k, n := range []int64{lo, hi} {
		args := append([]string{"-test.run=^$", "-test.bench=" + gobench.Selector(b.Name),
			"-test.benchtime=" + strconv.FormatInt(n, 10) + "x", "-test.benchmem"}, binFlags...)
		if err := s.Start(); err != nil {
			return err
		}
		o, runErr := runGoTest(ctx, s, env, bin, dir, baseEnv, args)
		snap, err := s.Stop()
		if err != nil {
			return err
		}
		if runErr != nil {
			return fmt.Errorf("%s -test.benchtime=%dx: %w", b.Name, n, runErr)
		}
		if len(gobench.Leaves(o)) != 1 {
			return fmt.Errorf("%s -test.benchtime=%dx ran %d benchmarks, want 1", b.Name, n, len(gobench.Leaves(o)))
		}
		snaps[k] = snap
		hiOut = o
	}
	d := float64(delta)
	perOp := func(f func(results.MemoryStats) float64) float64 {
		return max(0, f(snaps[1].Stats)-f(snaps[0].Stats)) / d
	}
	b.Memory = &results.MemoryStats{
		AllocCalls:          perOp(func(m results.MemoryStats) float64 { return m.AllocCalls }),
		TotalAllocatedBytes: perOp(func(m results.MemoryStats) float64 { return m.TotalAllocatedBytes }),
		FreeCalls:           perOp(func(m results.MemoryStats) float64 { return m.FreeCalls }),
		PeakBytes:           snaps[1].Stats.PeakBytes,
		PerIteration:        true,
	}
	warnUntracked(env, b.Name, snaps[1])
	b.GoBench = &results.GoBench{Iterations: delta}
	if res, _ := gobench.Parse(bytes.NewReader(hiOut), "go test"); len(res) == 1 {
		// What the testing package itself reported for the larger run
		// (its -benchmem figures), for comparison.
		b.GoBench = &results.GoBench{Iterations: int64(res[0].Iters), NsPerOp: res[0].NsPerOp,
			BytesPerOp: res[0].BytesPerOp, AllocsPerOp: res[0].AllocsPerOp}
	}
	return in.attachStacks(b, env, b.Name, snaps[1].Stacks)
}

// runGoTest runs the test binary in dir through the target's launcher,
// under s when s is not nil, and returns its standard output (also copied
// to env.Stdout).
func runGoTest(ctx context.Context, s *Session, env instruments.Env, bin, dir string, baseEnv, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, append([]string(nil), baseEnv...)
	instruments.OwnTree(cmd)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, env.Stderr
	launcher := env.Launcher
	if launcher == nil {
		launcher = instruments.Direct
	}
	var err error
	if s != nil {
		err = s.Launch(launcher, cmd)
	} else {
		err = launcher.Start(cmd)
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	err = cmd.Wait()
	if env.Stdout != nil {
		_, _ = io.Copy(env.Stdout, bytes.NewReader(stdout.Bytes()))
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("run %s: %w", filepath.Base(bin), err)
	}
	return stdout.Bytes(), nil
}
