// Package walltime is the walltime instrument: the exec harness that times
// whole commands over repeated rounds, and the collection of results that
// benchmark integrations (CodSpeed's, `go test -bench`) report themselves.
package walltime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// stderrTail is how much of a failing round's standard error is shown.
const stderrTail = 2048

// RoundError is a round whose command failed: it exited non-zero, was killed
// by a signal, or could not be started.
type RoundError struct {
	Round  int // 0-based; warmup rounds count
	Status string
	Stderr string // the tail of its standard error
}

func (e *RoundError) Error() string {
	msg := fmt.Sprintf("round %d: %s", e.Round+1, e.Status)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += "\n" + indent(s, "    | ")
	}
	return msg
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// roundRunner runs one command over and over with as little work per round as
// possible: the argv, environment and file descriptors are prepared once, and
// the only per-round costs are the exec.Cmd value, fork/exec and wait.
type roundRunner struct {
	path     string
	args     []string
	dir      string
	env      []string
	launcher instruments.Launcher
	stdin    *os.File
	stdout   *os.File
	stderr   *os.File // an unlinked temporary file: the tail is read back on failure
	// showErr, when the target's output is shown, receives each round's
	// standard error once the round is timed.
	showErr io.Writer
	rounds  int
	// running is the round's process, killed when the run is interrupted.
	running atomic.Pointer[os.Process]
}

// killOnCancel kills the running round when ctx ends (Ctrl-C, SIGTERM), so
// the harness returns at once with the rounds already measured. It costs
// nothing per round: no goroutine waits unless ctx is cancelled.
func (r *roundRunner) killOnCancel(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		if p := r.running.Load(); p != nil {
			killGroup(p)
		}
	})
}

// killGroup ends a round's process group and the round's process.
func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}

func newRoundRunner(t instruments.Target, env instruments.Env) (*roundRunner, error) {
	args := t.Argv()
	path, err := lookPath(args[0], t.Dir)
	if err != nil {
		return nil, err
	}
	// Read-write: it is the rounds' stdin and, unless shown, their stdout
	// (a read-only descriptor makes every write of the command fail).
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	stdout := devnull
	if f, ok := env.Stdout.(*os.File); ok {
		stdout = f
	}
	errf, err := os.CreateTemp("", "codspeed-stderr-*")
	if err != nil {
		devnull.Close()
		return nil, err
	}
	os.Remove(errf.Name())
	launcher := env.Launcher
	if launcher == nil {
		launcher = instruments.Direct
	}
	r := &roundRunner{
		path: path, args: args, dir: t.Dir,
		env:      append(append([]string(nil), env.BaseEnv...), t.Env...),
		launcher: launcher,
		stdin:    devnull, stdout: stdout, stderr: errf,
	}
	// As for stdout, a file means "show the output" (--show-output).
	if f, ok := env.Stderr.(*os.File); ok {
		r.showErr = f
	}
	return r, nil
}

// lookPath resolves the command once, relative to the target's directory for
// paths like ./bin/prog, so that a missing program fails before any round.
func lookPath(name, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !strings.HasPrefix(p, "/") && dir != "" {
			p = dir + "/" + p
		}
		st, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("command %q not found: %w", name, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("command %q is not an executable file", name)
		}
		return p, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("command %q not found in PATH", name)
	}
	return p, nil
}

func (r *roundRunner) close() {
	r.stdin.Close()
	r.stderr.Close()
}

// round runs the command once and returns its wall time, measured on the
// monotonic clock from just before the fork to just after the wait: what a
// user of the command waits for, as hyperfine -N measures it. With a
// sandbox, "before the fork" is read on its launcher thread.
func (r *roundRunner) round(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cmd := &exec.Cmd{
		Path: r.path, Args: r.args, Dir: r.dir, Env: r.env,
		Stdin: r.stdin, Stdout: r.stdout, Stderr: r.stderr,
	}
	// Its own process group: a terminal's Ctrl-C reaches the runner only,
	// which ends the round's whole tree (instruments.OwnTree).
	instruments.TreeAttr(cmd)
	n := r.rounds
	r.rounds++
	mark, _ := r.stderr.Seek(0, io.SeekEnd)
	start := time.Now()
	if err := r.launcher.Start(cmd); err != nil {
		return 0, &RoundError{Round: n, Status: "could not start: " + err.Error()}
	}
	if fc, ok := r.launcher.(instruments.ForkClock); ok {
		// A sandbox forks on its own thread: time the round from its
		// fork, not from the hand-off to that thread (about 15 us here).
		if at := fc.ForkedAt(); at.After(start) {
			start = at
		}
	}
	r.running.Store(cmd.Process)
	if ctx.Err() != nil {
		killGroup(cmd.Process)
	}
	err := cmd.Wait()
	elapsed := time.Since(start)
	r.running.Store(nil)
	r.echo(mark)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		status := err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ProcessState.String()
		}
		return 0, &RoundError{Round: n, Status: status, Stderr: r.tail(mark)}
	}
	// Keep the stderr file small when the command is chatty.
	if mark > 64<<20 {
		r.stderr.Truncate(0)
	}
	return elapsed, nil
}

// echo copies what the round wrote to standard error since from to showErr,
// outside the timed part of the round.
func (r *roundRunner) echo(from int64) {
	if r.showErr == nil {
		return
	}
	end, err := r.stderr.Seek(0, io.SeekEnd)
	if err != nil || end <= from {
		return
	}
	io.Copy(r.showErr, io.NewSectionReader(r.stderr, from, end-from))
}

func (r *roundRunner) tail(from int64) string {
	end, err := r.stderr.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	start := max(from, end-stderrTail)
	buf := make([]byte, end-start)
	n, _ := r.stderr.ReadAt(buf, start)
	buf = buf[:n]
	if start > from {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	return string(buf)
}

// Harness runs exec targets: warmup, then measured rounds (docs/protocol.md §4).
type Harness struct {
	// Now is the clock for the round loop's time bounds; nil means time.Now.
	Now func() time.Time
}

// Measure runs t under the exec harness and returns its one benchmark.
func (h Harness) Measure(ctx context.Context, t instruments.Target, env instruments.Env) (results.Benchmark, error) {
	b := results.Benchmark{Name: t.Name, URI: ExecURI(t.Name),
		Command: &results.Command{Line: t.Command, Args: t.Args, Dir: t.Dir}}
	plan, err := NewPlan(t.Options)
	if err != nil {
		return b, err
	}
	b.Config = planConfig(plan)
	r, err := newRoundRunner(t, env)
	if err != nil {
		return b, err
	}
	defer r.close()
	defer r.killOnCancel(ctx)()
	progress := env.Progress
	if progress == nil {
		progress = instruments.NopProgress{}
	}
	now := h.Now
	if now == nil {
		now = time.Now
	}

	var times []time.Duration
	warmupRounds := 0
	rounds := plan.FixedRounds()
	if plan.Warmup > 0 {
		progress.Phase(t.Name, "warmup")
		var first time.Duration
		start := now()
		for warmupRounds == 0 || now().Sub(start) < plan.Warmup {
			d, err := r.round(ctx)
			if err != nil {
				return b, err
			}
			if warmupRounds == 0 {
				first = d
			}
			warmupRounds++
		}
		elapsed := now().Sub(start)
		if warmupRounds == 1 && plan.MaxTime > 0 && first >= plan.MaxTime {
			// One round already exceeds max-time: report it rather than
			// spend another.
			times = []time.Duration{first}
			warmupRounds = 0
			rounds = -1
		} else {
			rounds = plan.Rounds(elapsed / time.Duration(warmupRounds))
		}
	}

	if rounds >= 0 {
		progress.Phase(t.Name, "measuring")
		if rounds > 0 {
			times = make([]time.Duration, 0, rounds)
		}
		start := now()
		for {
			d, err := r.round(ctx)
			if err != nil {
				// Interrupted (Ctrl-C, SIGTERM, deadline): the rounds so far
				// are not the benchmark the plan asked for; nothing is
				// returned as measured and the run names it missing.
				return b, err
			}
			times = append(times, d)
			progress.Step(len(times), int(rounds))
			elapsed := now().Sub(start)
			if plan.MaxTime > 0 && elapsed >= plan.MaxTime {
				break
			}
			if rounds > 0 && int64(len(times)) >= rounds {
				break
			}
			if rounds == 0 && plan.MinTime > 0 && elapsed >= plan.MinTime {
				break
			}
		}
	}

	b.Samples = make([]float64, len(times))
	for i, d := range times {
		b.Samples[i] = float64(d.Nanoseconds())
	}
	st := results.ComputeStats(b.Samples, 1, warmupRounds)
	b.Stats = &st
	// Every planned round ran: the benchmark is finished even when ctx ended
	// just after its last round.
	return b, nil
}

func planConfig(p Plan) *results.BenchConfig {
	c := &results.BenchConfig{}
	if p.Warmup > 0 {
		c.WarmupTimeNs = ptr(int64(p.Warmup))
	}
	if p.MaxTime > 0 {
		c.MaxTimeNs = ptr(int64(p.MaxTime))
	}
	if p.MaxRounds > 0 {
		c.MaxRounds = ptr(p.MaxRounds)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// ExecURI is the URI CodSpeed gives an exec-harness benchmark.
func ExecURI(name string) string { return "exec_harness::" + name }

// Rounds runs one command round after round for a caller that sequences the
// rounds itself: `codspeed ab` interleaves the rounds of two commands in one
// sandbox. Each round is timed as the exec harness times its rounds.
type Rounds struct {
	r    *roundRunner
	stop func() bool
}

// NewRounds prepares t's command (resolved once: a missing program fails
// here, before any round) to be run with env's launcher and environment. The
// running round is killed when ctx ends.
func NewRounds(ctx context.Context, t instruments.Target, env instruments.Env) (*Rounds, error) {
	r, err := newRoundRunner(t, env)
	if err != nil {
		return nil, err
	}
	return &Rounds{r: r, stop: r.killOnCancel(ctx)}, nil
}

// Round runs the command once and returns its wall time; a failing command
// is a *RoundError.
func (r *Rounds) Round(ctx context.Context) (time.Duration, error) { return r.r.round(ctx) }

// Close releases the files the rounds share.
func (r *Rounds) Close() {
	r.stop()
	r.r.close()
}
