package walltime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/results"
)

// DefaultGoRounds is how many times `go test -bench` repeats each benchmark
// (-count) when the command does not say.
const DefaultGoRounds = 5

// Instrument is the walltime instrument.
type Instrument struct {
	Harness Harness
	// GitRoot makes Go benchmark URIs relative to the repository.
	GitRoot string
	// HooksDir is where the instrument-hooks FIFOs are made for entrypoint
	// targets; empty means hooks.DefaultDir, where CodSpeed's integrations
	// look for them.
	HooksDir string
	// Hooks receives the integration's start/stop events (profiling uses
	// them to bound the measured region); nil ignores them.
	Hooks hooks.Handler
	prof  profiler
	// hookFiles names the hooks/<target>.json sessions, one per target.
	hookFiles instruments.NameSet
}

// New returns the walltime instrument. gitRoot makes Go benchmark URIs
// relative to the repository; opts.Perf samples every target with perf
// events and attaches flame graphs to its benchmarks (profiles go under
// the profile folder's perf/ directory; a host that does not permit it gets
// one warning and unprofiled results).
func New(gitRoot string, opts Options) *Instrument {
	return &Instrument{GitRoot: gitRoot, prof: profiler{opts: opts}}
}

// Mode is "walltime".
func (*Instrument) Mode() string { return results.Walltime }

// Check always succeeds: timing needs nothing from the host.
func (*Instrument) Check() error { return nil }

// Measure runs an exec target under the harness, or an entrypoint target once,
// collecting what its integration reports.
func (in *Instrument) Measure(ctx context.Context, t instruments.Target, env instruments.Env) ([]results.Benchmark, error) {
	if env.Progress == nil {
		env.Progress = instruments.NopProgress{}
	}
	if in.prof.opts.Perf && env.ProfileFolder != "" {
		// Timing rounds never run under perf: the target is timed first,
		// with no perf event open, then a separate profiling pass, which
		// enters no statistic, samples it for the flamegraphs: an exec
		// target's command as many times as it was timed (within a
		// budget), Go benchmarks once each (-count=1), other entrypoints
		// once, sampled in the regions their integration marks.
		benches, err := in.measure(ctx, t, env, in.Hooks)
		if err != nil || len(benches) == 0 {
			return benches, err
		}
		if s := in.prof.start(env); s != nil {
			var regions *regionMarker
			var perr error
			switch {
			case t.Kind == instruments.Exec:
				perr = in.profileRounds(ctx, t, env, s, benches[0])
			case gobench.IsGoTest(t.Argv()):
				perr = in.profileGo(ctx, t, env, s)
			default:
				regions, perr = in.profileEntrypoint(ctx, t, env, s)
			}
			in.prof.finish(s, t, env, benches, regions)
			if perr != nil && ctx.Err() == nil {
				warn(env, fmt.Sprintf("profile of %s: %v", t.Name, perr))
			}
		}
		return benches, nil
	}
	return in.measure(ctx, t, env, in.Hooks)
}

// profileEntrypoint runs an entrypoint target once more under the perf
// session, sampling only the regions its integration marks (all of it when
// it marks none). What that run reports stays out of the results: its
// output is discarded, and its results and hooks files go to a folder of
// its own, removed after.
func (in *Instrument) profileEntrypoint(ctx context.Context, t instruments.Target, env instruments.Env, s *perf.Session) (*regionMarker, error) {
	env.Progress.Phase(t.Name, "profiling")
	scratch, err := os.MkdirTemp("", "codspeed-profiling-pass-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	penv := env
	penv.Launcher = s.Launcher(env.Launcher)
	penv.Stdout, penv.Stderr = nil, nil
	penv.ProfileFolder = scratch
	penv.Integrations = &instruments.IntegrationResults{}
	penv.Progress = profilingProgress{env.Progress}
	pt := t
	pt.Env = append(append([]string(nil), t.Env...), "CODSPEED_PROFILE_FOLDER="+scratch)
	regions := newRegionMarker(s, nil)
	_, err = in.entrypoint(ctx, pt, penv, regions)
	return regions, err
}

// profilingProgress shows a profiling pass as "profiling" and drops its
// warnings: the timed run already gave them.
type profilingProgress struct{ instruments.Progress }

func (p profilingProgress) Phase(benchmark, _ string) { p.Progress.Phase(benchmark, "profiling") }
func (profilingProgress) Warn(string)                 {}

// Profile takes the profile of an exec target that was timed elsewhere
// (`codspeed ab` times its rounds itself): a profiling pass of as many
// rounds as b was timed with, within profileBudget, attached to b. Without
// perf, or where sampling is refused (said once, as in a run), b keeps no
// profile.
func (in *Instrument) Profile(ctx context.Context, t instruments.Target, env instruments.Env, b *results.Benchmark) {
	bs := []results.Benchmark{*b}
	in.profileTimed(ctx, t, env, bs, func(env instruments.Env, s *perf.Session) (*regionMarker, error) {
		return nil, in.profileRounds(ctx, t, env, s, *b)
	})
	b.Profile = bs[0].Profile
}

// profileTimed runs the profiling pass of benchmarks bs, timed elsewhere,
// under a perf session, and attaches their profiles to bs.
func (in *Instrument) profileTimed(ctx context.Context, t instruments.Target, env instruments.Env, bs []results.Benchmark,
	pass func(instruments.Env, *perf.Session) (*regionMarker, error)) {
	if !in.prof.opts.Perf || env.ProfileFolder == "" || len(bs) == 0 {
		return
	}
	if env.Progress == nil {
		env.Progress = instruments.NopProgress{}
	}
	s := in.prof.start(env)
	if s == nil {
		return
	}
	regions, perr := pass(env, s)
	in.prof.finish(s, t, env, bs, regions)
	if perr != nil && ctx.Err() == nil {
		warn(env, fmt.Sprintf("profile of %s: %v", t.Name, perr))
	}
}

// profileBudget bounds the profiling pass of an exec target.
const profileBudget = time.Second

// profileRounds runs t's command under the perf session as many times as it
// was timed, within profileBudget (at least once).
func (in *Instrument) profileRounds(ctx context.Context, t instruments.Target, env instruments.Env, s *perf.Session, b results.Benchmark) error {
	env.Launcher = s.Launcher(env.Launcher)
	// The timed rounds already showed the command's output (--show-output);
	// these rounds only feed the flamegraph.
	env.Stdout, env.Stderr = nil, nil
	env.Progress.Phase(t.Name, "profiling")
	r, err := newRoundRunner(t, env)
	if err != nil {
		return err
	}
	defer r.close()
	defer r.killOnCancel(ctx)()
	n := len(b.Samples)
	start := time.Now()
	for i := 0; i == 0 || (i < n && time.Since(start) < profileBudget); i++ {
		if _, err := r.round(ctx); err != nil {
			return err
		}
	}
	return nil
}

// profileGo runs a `go test -bench` target once more, each benchmark once
// (-count=1), under the perf session; its output is discarded.
func (in *Instrument) profileGo(ctx context.Context, t instruments.Target, env instruments.Env, s *perf.Session) error {
	env.Progress.Phase(t.Name, "profiling")
	args := t.Argv()
	goflags := lastValue(append(append([]string(nil), env.BaseEnv...), t.Env...), "GOFLAGS")
	cmdEnv := append(append(append([]string(nil), env.BaseEnv...), t.Env...), "GOFLAGS="+strings.TrimSpace(goflags+" -count=1"))
	cmd := exec.CommandContext(ctx, instruments.LookPath(args[0], cmdEnv), args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Dir = t.Dir
	cmd.Env = cmdEnv
	errTail := &tailWriter{n: stderrTail}
	cmd.Stderr = errTail
	instruments.OwnTree(cmd)
	launcher := env.Launcher
	if launcher == nil {
		launcher = instruments.Direct
	}
	if err := s.Launcher(launcher).Start(cmd); err != nil {
		return fmt.Errorf("start %s: %w", t.Command, err)
	}
	if err := cmd.Wait(); err != nil {
		if s := strings.TrimSpace(errTail.String()); s != "" {
			return fmt.Errorf("%s: %w\n%s", t.Command, err, indent(s, "    | "))
		}
		return fmt.Errorf("%s: %w", t.Command, err)
	}
	return nil
}

func (in *Instrument) measure(ctx context.Context, t instruments.Target, env instruments.Env, h hooks.Handler) ([]results.Benchmark, error) {
	if t.Kind == instruments.Exec {
		b, err := in.Harness.Measure(ctx, t, env)
		if b.Stats == nil {
			return nil, err
		}
		return []results.Benchmark{b}, err
	}
	return in.entrypoint(ctx, t, env, h)
}

// tailWriter keeps the last n bytes written to it.
type tailWriter struct {
	n   int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) > 2*w.n {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.n:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	if len(w.buf) > w.n {
		return string(w.buf[len(w.buf)-w.n:])
	}
	return string(w.buf)
}

func (in *Instrument) entrypoint(ctx context.Context, t instruments.Target, env instruments.Env, h hooks.Handler) ([]results.Benchmark, error) {
	args := t.Argv()
	isGo := gobench.IsGoTest(args)
	extraEnv := []string{}
	if isGo && !gobench.HasFlag(args[2:], "count") {
		n := DefaultGoRounds
		if t.Options.MinRounds != nil {
			n = int(*t.Options.MinRounds)
		} else if t.Options.MaxRounds != nil {
			n = int(*t.Options.MaxRounds)
		}
		// GOFLAGS reaches the test binary's -count without editing the
		// user's command line; the target's own GOFLAGS are kept.
		goflags := lastValue(append(append([]string(nil), env.BaseEnv...), t.Env...), "GOFLAGS")
		extraEnv = append(extraEnv, "GOFLAGS="+strings.TrimSpace(goflags+" -count="+strconv.Itoa(n)))
	}

	var stdout bytes.Buffer
	errTail := &tailWriter{n: stderrTail}
	cmdEnv := append(append(append([]string(nil), env.BaseEnv...), t.Env...), extraEnv...)
	cmd := exec.CommandContext(ctx, instruments.LookPath(args[0], cmdEnv), args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Dir = t.Dir
	cmd.Env = cmdEnv
	cmd.Stdout = io.MultiWriter(&stdout, orDiscard(env.Stdout))
	cmd.Stderr = io.MultiWriter(errTail, orDiscard(env.Stderr))
	// The command has its own process group, so that an interrupt stops
	// everything it started (the test binary under `go test`, a script's
	// children), not just the first process; WaitDelay bounds the wait for
	// output pipes that a surviving grandchild would hold open.
	instruments.OwnTree(cmd)
	if env.Progress != nil {
		env.Progress.Phase(t.Name, "running")
	}
	launcher := env.Launcher
	if launcher == nil {
		launcher = instruments.Direct
	}
	hooksDir := in.HooksDir
	if hooksDir == "" {
		hooksDir = hooks.DefaultDir
	}
	stopHooks, hooksEnv, herr := hooks.Attach(ctx, hooksDir, h, hooksOptions(env, t.Name, hooks.ModeWalltime)...)
	if herr != nil && ctx.Err() != nil {
		return nil, herr
	}
	if env.Progress != nil {
		env.Progress.Phase(t.Name, "running")
	}
	if herr != nil {
		// Integrations then run as if no runner were there: they still
		// measure, but cannot mark their regions.
		warn(env, fmt.Sprintf("instrument-hooks pipes unavailable, integrations cannot report to the runner: %v", herr))
	} else {
		cmd.Env = append(cmd.Env, hooksEnv...)
	}
	if err := launcher.Start(cmd); err != nil {
		if stopHooks != nil {
			stopHooks()
		}
		return nil, fmt.Errorf("start %s: %w", t.Command, err)
	}
	runErr := cmd.Wait()
	if stopHooks != nil {
		sess := stopHooks()
		if sess.ProtocolVersion != 0 || len(sess.Benchmarks) > 0 || len(sess.Errors) > 0 {
			if err := hooks.WriteSession(in.hookFiles.Path(filepath.Join(env.ProfileFolder, "hooks"), t.Name, "target", ".json"), sess); err != nil {
				warn(env, err.Error())
			}
		}
		if err := sess.Err(); err != nil {
			warn(env, fmt.Sprintf("instrument-hooks: %v", err))
		}
		if n := len(sess.UnmatchedMarkers); n > 0 {
			warn(env, fmt.Sprintf("%s: %d of the integration's %d markers lie in no measured region that a benchmark URI named; they are kept apart (unmatched_markers) in the hooks session file", t.Name, n, len(sess.Markers)))
		}
	}

	var benches []results.Benchmark
	if isGo {
		// Interrupted, only the benchmarks that ran every round are kept:
		// the one in flight is not measured (the run names the target
		// missing).
		rounds := -1
		if runErr != nil && ctx.Err() != nil {
			rounds = goRounds(args, extraEnv)
		}
		benches = in.goBenchmarks(context.WithoutCancel(ctx), t, stdout.Bytes(), rounds)
	}
	collector := env.Integrations
	if collector == nil {
		collector = &instruments.IntegrationResults{}
	}
	fromIntegrations, err := collector.Collect(env.ProfileFolder)
	if err != nil {
		return benches, err
	}
	benches = append(benches, fromIntegrations...)

	if runErr != nil {
		if ctx.Err() != nil {
			return benches, ctx.Err()
		}
		msg := runErr.Error()
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			msg = ee.ProcessState.String()
		}
		if s := strings.TrimSpace(errTail.String()); s != "" {
			msg += "\n" + indent(s, "    | ")
		}
		return benches, fmt.Errorf("%s: %s", t.Command, msg)
	}
	return benches, nil
}

// hooksOptions serve one benchmark command: announce the mode, wait (and
// say so) while another run uses the FIFOs rather than let an integration
// talk to that run's server, and give the FIFOs to the benchmark's user.
func hooksOptions(env instruments.Env, target string, mode hooks.IntegrationMode) []hooks.Option {
	opts := []hooks.Option{hooks.WithMode(mode), hooks.WithLockWait(hooks.WaitForever),
		hooks.WithWaitNotice(func(msg string) {
			warn(env, msg) // once per run
			if env.Progress != nil {
				env.Progress.Phase(target, "waiting for another run's instrument-hooks pipes")
			}
		})}
	if env.RunAs != nil {
		opts = append(opts, hooks.WithOwner(env.RunAs.UID, env.RunAs.GID))
	}
	return opts
}

// lastValue is the value of key in an environment list, the last one
// winning as for exec.
func lastValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func warn(env instruments.Env, msg string) {
	if env.Progress != nil {
		env.Progress.Warn(msg)
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// goRounds is the -count a `go test` command runs each benchmark with: the
// one added through GOFLAGS, the command's own, or 0 when unknown.
func goRounds(args, extraEnv []string) int {
	for _, kv := range extraEnv {
		if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
			f := strings.Fields(v)
			if n, err := strconv.Atoi(gobench.FlagValue(f, "count")); err == nil {
				return n
			}
		}
	}
	n, _ := strconv.Atoi(gobench.FlagValue(args[2:], "count"))
	return n
}

// goBenchmarks turns `go test -bench -count=N` output into one benchmark per
// Benchmark and sub-benchmark, each printed line being one round. rounds >= 0
// says the run was interrupted: only benchmarks with that many rounds are
// kept (0: the count is unknown, the last benchmark printed is dropped).
func (in *Instrument) goBenchmarks(ctx context.Context, t instruments.Target, out []byte, rounds int) []results.Benchmark {
	res, _ := gobench.Parse(bytes.NewReader(out), "go test")
	loc := &gobench.Locator{Dir: t.Dir, Root: in.GitRoot}
	type group struct {
		r      gobench.Result
		perOp  []float64
		iters  []int
		bytes  float64
		allocs float64
	}
	var order []string
	groups := map[string]*group{}
	for _, r := range res {
		key := r.Pkg + "\x00" + r.Name
		g := groups[key]
		if g == nil {
			g = &group{r: r}
			groups[key] = g
			order = append(order, key)
		}
		g.perOp = append(g.perOp, r.NsPerOp)
		g.iters = append(g.iters, r.Iters)
		g.bytes += r.BytesPerOp
		g.allocs += r.AllocsPerOp
	}
	switch {
	case rounds == 0 && len(order) > 0:
		order = order[:len(order)-1]
	case rounds > 0:
		kept := order[:0]
		for _, key := range order {
			if len(groups[key].perOp) >= rounds {
				kept = append(kept, key)
			}
		}
		order = kept
	}
	var benches []results.Benchmark
	for _, key := range order {
		g := groups[key]
		n := float64(len(g.perOp))
		iters := append([]int(nil), g.iters...)
		sort.Ints(iters)
		st := results.ComputeStats(g.perOp, iters[len(iters)/2], 0)
		// ComputeStats derives total_time from iter_per_round; use the
		// iteration counts each round really ran.
		st.TotalTime = 0
		for i, v := range g.perOp {
			st.TotalTime += v * float64(g.iters[i]) / 1e9
		}
		b := results.Benchmark{
			Name:    g.r.Name,
			URI:     gobench.URI(loc.File(ctx, g.r.Pkg, g.r.Name), g.r.Name),
			Config:  &results.BenchConfig{},
			Stats:   &st,
			Samples: g.perOp,
			GoBench: &results.GoBench{Iterations: int64(iters[len(iters)/2]), NsPerOp: st.MedianNs},
		}
		if g.r.HasMem {
			b.GoBench.BytesPerOp = g.bytes / n
			b.GoBench.AllocsPerOp = g.allocs / n
		}
		benches = append(benches, b)
	}
	return benches
}
