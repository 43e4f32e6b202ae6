package walltime

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
)

// GoLeaf is one leaf benchmark of a compiled Go test binary, for a caller
// that runs its rounds itself (`codspeed ab` interleaves the base tree's
// and the head tree's test binaries).
type GoLeaf struct {
	Bin  string // the test binary (go test -c)
	Dir  string // the package's directory, where go test runs it
	Name string // "BenchmarkX/sub"
	URI  string
	// BinFlags are the command's flags for the test binary (-test.cpu, ...).
	BinFlags []string
	Env      []string
	// Failed says why the benchmark failed in its listing run ("" if it
	// did not): it is not run again.
	Failed string
}

// Target is the command that runs the leaf alone for iters iterations, as
// an exec target (for its profiling pass).
func (l GoLeaf) Target(iters int64) instruments.Target {
	args := append([]string{l.Bin, "-test.run=^$", "-test.bench=" + gobench.Selector(l.Name), "-test.benchtime=" + strconv.FormatInt(max(iters, 1), 10) + "x", "-test.count=1"}, l.BinFlags...)
	return instruments.Target{Name: l.URI, Kind: instruments.Exec, Command: strings.Join(args, " "), Args: args, Dir: l.Dir, Env: l.Env}
}

// GoRounds runs one leaf benchmark for a fixed number of iterations per
// round: a round is one run of the test binary, and its figure is the time
// per iteration the testing package measured (not the process's wall time,
// which start-up would dilute).
type GoRounds struct {
	leaf     GoLeaf
	iters    int64
	n        int // rounds run
	env      []string
	launcher instruments.Launcher
}

// NewGoRounds prepares the rounds of leaf at iters iterations each, run with
// env's launcher (the sandbox) and environment.
func NewGoRounds(leaf GoLeaf, iters int64, env instruments.Env) *GoRounds {
	launcher := env.Launcher
	if launcher == nil {
		launcher = instruments.Direct
	}
	return &GoRounds{leaf: leaf, iters: max(iters, 1), launcher: launcher,
		env: append(append([]string(nil), env.BaseEnv...), leaf.Env...)}
}

// Iterations is the number of iterations of each round.
func (g *GoRounds) Iterations() int64 { return g.iters }

// Round runs the benchmark once and returns its time per iteration in
// nanoseconds; a failing run is a *RoundError.
func (g *GoRounds) Round(ctx context.Context) (float64, error) {
	r, err := runGoLeaf(ctx, g.leaf, strconv.FormatInt(g.iters, 10)+"x", g.env, g.launcher)
	if re, ok := err.(*RoundError); ok {
		re.Round = g.n
	}
	g.n++
	if err != nil {
		return 0, err
	}
	return r.NsPerOp, nil
}

// CalibrateGo runs leaf once for about d (go test's own -benchtime) and
// returns the iterations it took: the rounds of both sides then run that
// many.
func CalibrateGo(ctx context.Context, leaf GoLeaf, d time.Duration, env instruments.Env) (int64, error) {
	g := NewGoRounds(leaf, 1, env)
	r, err := runGoLeaf(ctx, leaf, d.String(), g.env, g.launcher)
	if err != nil {
		return 0, err
	}
	return int64(r.Iters), nil
}

func runGoLeaf(ctx context.Context, leaf GoLeaf, benchtime string, env []string, launcher instruments.Launcher) (gobench.Result, error) {
	args := append([]string{"-test.run=^$", "-test.bench=" + gobench.Selector(leaf.Name), "-test.benchtime=" + benchtime, "-test.count=1"}, leaf.BinFlags...)
	cmd := exec.CommandContext(ctx, leaf.Bin, args...)
	cmd.Dir, cmd.Env = leaf.Dir, env
	var stdout bytes.Buffer
	errTail := &tailWriter{n: stderrTail}
	cmd.Stdout, cmd.Stderr = &stdout, errTail
	instruments.OwnTree(cmd)
	if err := launcher.Start(cmd); err != nil {
		return gobench.Result{}, fmt.Errorf("start %s: %w", leaf.Bin, err)
	}
	werr := cmd.Wait()
	res, _ := gobench.Parse(bytes.NewReader(stdout.Bytes()), leaf.Bin)
	for _, r := range res {
		if r.Name == leaf.Name && werr == nil {
			return r, nil
		}
	}
	if ctx.Err() != nil {
		return gobench.Result{}, ctx.Err()
	}
	tail := strings.TrimSpace(errTail.String())
	if tail == "" {
		tail = strings.TrimSpace(lastLines(stdout.String(), 5))
	}
	msg := "printed no result for " + leaf.Name
	if werr != nil {
		msg = werr.Error()
	}
	return gobench.Result{}, &RoundError{Status: leaf.Name + ": " + msg, Stderr: tail}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
