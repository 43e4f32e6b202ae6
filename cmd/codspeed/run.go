package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/instruments/walltime"
	"github.com/codspeed-go/codspeed-go/internal/ci"
	"github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	"github.com/codspeed-go/codspeed-go/internal/run"
	"github.com/codspeed-go/codspeed-go/internal/shard"
	target "github.com/codspeed-go/codspeed-go/internal/targets"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/upload"
)

// runFlags are the flags `run` and `exec` share (docs/protocol.md §1).
type runFlags struct {
	modes         []string
	workDir       string
	profileFolder string
	configPath    string
	allowEmpty    bool
	messageFormat string
	showOutput    bool
	name          string
	cpus          string
	memoryLimit   string
	noSandbox     bool
	noContainer   bool

	warmupTime, maxTime, minTime string
	maxRounds, minRounds         int64
	upload                       uploadFlags

	enablePerf    bool
	perfUnwinding string

	shard, shardDurations, shardServer string
	shardTotal                         int
}

func (f *runFlags) register(fs *pflag.FlagSet, exec bool) {
	defMode := os.Getenv("CODSPEED_RUNNER_MODE")
	if defMode == "" {
		defMode = results.Walltime
	}
	fs.StringSliceVarP(&f.modes, "mode", "m", []string{defMode},
		"instrument(s), comma-separated, run in turn: walltime, simulation (old name: instrumentation), memory [$CODSPEED_RUNNER_MODE]")
	fs.StringVar(&f.workDir, "working-directory", "", "directory the benchmarks run in (default: the current one)")
	fs.StringVar(&f.profileFolder, "profile-folder", os.Getenv("CODSPEED_PROFILE_FOLDER"), "where results and profiles are written (default: the run's folder in the local store) [$CODSPEED_PROFILE_FOLDER]")
	fs.StringVar(&f.configPath, "config", "", "project config file (default: codspeed.yml found from here up to the git root)")
	f.upload.registerSkip(fs)
	f.upload.register(fs)
	fs.BoolVar(&f.allowEmpty, "allow-empty", false, "succeed even when no benchmark was measured")
	fs.StringVar(&f.messageFormat, "message-format", "human", "human, or json: one JSON event per line on stdout")
	fs.BoolVar(&f.showOutput, "show-output", false, "show the benchmark's own output (exec targets discard it by default)")
	fs.StringVar(&f.cpus, "cpus", "", "CPUs to pin benchmarks to, e.g. 1 or 2-3 (default: one core other than 0)")
	fs.StringVar(&f.memoryLimit, "memory-limit", "", "memory limit of each target's cgroup, e.g. 512M, 2G")
	fs.BoolVar(&f.noSandbox, "no-sandbox", envBool("CODSPEED_NO_SANDBOX", false), "run targets as plain child processes: no cgroup, no CPU pinning [$CODSPEED_NO_SANDBOX]")
	fs.BoolVar(&f.noContainer, "no-container", envBool("CODSPEED_NO_CONTAINER", false), "run the config's targets on this host even when codspeed.yml has a container: section [$CODSPEED_NO_CONTAINER]")
	fs.StringVar(&f.warmupTime, "warmup-time", "", "warmup duration before measuring, e.g. 500ms, 2s, 1m or bare seconds (default 1s; 0 disables)")
	fs.StringVar(&f.maxTime, "max-time", "", "stop measuring after this long (default 3s when no other bound is set)")
	fs.StringVar(&f.minTime, "min-time", "", "measure at least this long")
	fs.Int64Var(&f.maxRounds, "max-rounds", 0, "measure at most this many rounds")
	fs.Int64Var(&f.minRounds, "min-rounds", 0, "measure at least this many rounds")
	fs.BoolVar(&f.enablePerf, "enable-perf", envBool("CODSPEED_PERF_ENABLED", true), "walltime: sample the benchmarks with perf events and write flame graphs [$CODSPEED_PERF_ENABLED]")
	defUnwind := os.Getenv("CODSPEED_PERF_UNWINDING_MODE")
	if defUnwind == "" {
		defUnwind = "fp"
	}
	fs.StringVar(&f.perfUnwinding, "perf-unwinding-mode", defUnwind, "walltime profiles: fp (frame pointers, cheap) or dwarf (works without frame pointers, about 8 KB a sample) [$CODSPEED_PERF_UNWINDING_MODE]")
	fs.StringVar(&f.shard, "shard", os.Getenv("CODSPEED_SHARD"), "run shard I of N of the targets and Go benchmarks, e.g. 2/3; 1/1 runs everything (default: from GitLab parallel: N, Buildkite parallelism or a Kubernetes Indexed Job; docs/scaling.md) [$CODSPEED_SHARD]")
	fs.StringVar(&f.shardDurations, "shard-durations", "", "balance shards on the target durations recorded in this run on the results server: a commit or run id, the same for every shard")
	fs.StringVar(&f.shardServer, "shard-server", os.Getenv("CODSPEED_SERVER_URL"), "the results server --shard-durations reads [$CODSPEED_SERVER_URL]")
	fs.IntVar(&f.shardTotal, "shard-total", 0, "the shard count of a Kubernetes Indexed Job (its completions) [$CODSPEED_SHARD_TOTAL]")
	if exec {
		fs.StringVar(&f.name, "name", "", "benchmark name (default: the command line)")
	}
	// Accepted for compatibility with CodSpeed's runner; uploads and set-up
	// are separate commands here.
	fs.Bool("skip-run", false, "accepted for compatibility; has no effect")
	fs.Bool("skip-setup", false, "accepted for compatibility: codspeed-go installs nothing")
	fs.MarkHidden("skip-run")
	fs.MarkHidden("skip-setup")
}

func envBool(key string, def bool) bool {
	switch strings.ToLower(os.Getenv(key)) {
	case "1", "true", "yes":
		return true
	case "0", "false", "no":
		return false
	}
	return def
}

// cliOptions are the harness options given on the command line, which take
// precedence over the config file.
func (f *runFlags) cliOptions(fs *pflag.FlagSet) (config.Options, error) {
	var o config.Options
	var errs []error
	dur := func(flag, v string) *time.Duration {
		if !fs.Changed(flag) {
			return nil
		}
		d, err := config.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", flag, err))
			return nil
		}
		return &d
	}
	o.WarmupTime = dur("warmup-time", f.warmupTime)
	o.MaxTime = dur("max-time", f.maxTime)
	o.MinTime = dur("min-time", f.minTime)
	if fs.Changed("max-rounds") {
		o.MaxRounds = &f.maxRounds
	}
	if fs.Changed("min-rounds") {
		o.MinRounds = &f.minRounds
	}
	if f.cpus != "" {
		if err := config.ValidateCPUs(f.cpus); err != nil {
			errs = append(errs, fmt.Errorf("--cpus: %w", err))
		}
		o.CPUs = f.cpus
	}
	if f.memoryLimit != "" {
		n, err := config.ParseBytes(f.memoryLimit)
		if err != nil {
			errs = append(errs, fmt.Errorf("--memory-limit: %w", err))
		}
		o.MemoryLimit = &n
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	return o, o.Validate()
}

func cmdRun(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	var f runFlags
	f.register(fs, false)
	if code, ok := parseFlags(fs, args, "codspeed run [flags] [-- command...]\n\nWith a command, run it under the instrument: it reports its benchmarks itself\n(a CodSpeed integration, or `go test -bench`). Without one, run the targets of\nthe project config (codspeed.yml)."); !ok {
		return code
	}
	return execute(ctx, fs, &f, fs.Args(), instruments.Entrypoint)
}

func cmdExec(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("exec", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	var f runFlags
	f.register(fs, true)
	if code, ok := parseFlags(fs, args, "codspeed exec [flags] -- command...\n  codspeed exec [flags] -     (commands from stdin: one per line, or a JSON array of {command, name, options})\n\nBenchmark a command with the exec harness: warmup, then timed rounds."); !ok {
		return code
	}
	if len(fs.Args()) == 0 {
		return fail(exitUsage, "exec needs a command: codspeed exec -- ./prog --flag")
	}
	return execute(ctx, fs, &f, fs.Args(), instruments.Exec)
}

// execute resolves the targets (command line or config), builds the request
// and runs it.
func execute(ctx context.Context, fs *pflag.FlagSet, f *runFlags, cmdArgs []string, kind instruments.Kind) int {
	modes, err := target.ParseModes(f.modes)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if f.upload.tokenFile == "-" && len(cmdArgs) == 1 && cmdArgs[0] == "-" {
		return fail(exitUsage, "--token-file - and `exec -` both read standard input: give the token in a file")
	}
	if err := f.upload.loadToken(fs, os.Stdin, os.Stderr); err != nil {
		return fail(exitUsage, "%v", err)
	}
	if err := protectSecrets(f.upload.token); err != nil {
		return fail(exitFailed, "hide this process's secrets from the benchmark: %v", err)
	}
	if f.messageFormat != "human" && f.messageFormat != "json" {
		return fail(exitUsage, "--message-format must be human or json, not %q", f.messageFormat)
	}
	cli, err := f.cliOptions(fs)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	unwinding, err := perf.ParseUnwinding(f.perfUnwinding)
	if err != nil {
		return fail(exitUsage, "--perf-unwinding-mode: %v", err)
	}
	wallOpts := walltime.Options{Perf: f.enablePerf, PerfUnwinding: unwinding}
	cwd, err := os.Getwd()
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if f.workDir != "" {
		cli.WorkingDirectory, _ = filepath.Abs(f.workDir)
	}
	gitRoot := gitrepo.Root(cwd)
	setFileOwner(gitRoot, cwd)

	cfg, warnings, err := target.LoadConfig(f.configPath, cwd)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}

	targets, err := selectTargets(cmdArgs, kind, f.name, cfg, cli, cwd)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	targets, shardInfo, err := shard.Apply(ctx, targets, f.shard, f.shardTotal, os.Getenv, func() (map[string]time.Duration, error) {
		return shardDurations(ctx, f.shardServer, f.upload.token, f.shardDurations, cwd)
	}, os.Stderr)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if shardInfo != nil && len(targets) == 0 {
		f.allowEmpty = true // an empty part, so that a server waiting for every shard hears from this one
	}
	if len(targets) == 0 && shardInfo == nil {
		if f.allowEmpty {
			return exitOK
		}
		// Nothing to measure is exit 1, like a run that measured nothing.
		if cfg != nil && len(cmdArgs) == 0 {
			return fail(exitFailed, "%s defines no benchmarks (use --allow-empty to accept that)", cfg.Path)
		}
		return fail(exitFailed, "no commands were given on standard input (use --allow-empty to accept that)")
	}

	// The config's targets run in containers when it has a container:
	// section; the runner in each container checks the instruments there.
	inContainers := cfg != nil && cfg.Container != nil && len(cmdArgs) == 0 && !f.noContainer
	insts := map[string]instruments.Instrument{}
	if !inContainers {
		if insts, err = run.CheckedInstruments(modes, gitRoot, wallOpts); err != nil {
			if errors.Is(err, instruments.ErrNotSupported) {
				return fail(exitUnsupported, "%v", err)
			}
			return fail(exitUsage, "%v", err)
		}
	}

	store := &results.Store{Root: results.DefaultStoreRoot(gitRoot)}
	if w := storeVolumeWarning(store.Root); w != "" {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	profile := ""
	if f.profileFolder != "" {
		profile, _ = filepath.Abs(f.profileFolder)
	}
	stderrTTY := term.IsTerminal(int(os.Stderr.Fd()))
	progress := run.NewProgress(os.Stderr, stderrTTY)
	var executor run.Executor
	if inContainers {
		workspace, err := containerWorkspace(cfg, gitRoot, targets)
		if err != nil {
			return fail(exitUsage, "container: %v", err)
		}
		inner := []string{fmt.Sprintf("--enable-perf=%t", f.enablePerf), "--perf-unwinding-mode", string(unwinding)}
		ex, err := containerExecutor(ctx, cfg, workspace, progress, inner)
		if err != nil {
			code := exitFailed
			if errors.Is(err, context.Canceled) {
				code = exitInterrupted
			}
			return fail(code, "container: %v (or run on this host with --no-container)", err)
		}
		defer ex.Close()
		executor = ex
	}
	req := run.Request{
		Modes: modes, Targets: targets, Instruments: insts,
		GitRoot: gitRoot, Git: gitrepo.Head(gitRoot), Store: store,
		ProfileFolder: profile, AllowEmpty: f.allowEmpty, Args: redactArgs(os.Args), NoSandbox: f.noSandbox,
		ShowOutput: f.showOutput, Out: os.Stdout, Err: os.Stderr,
		JSONEvents: f.messageFormat == "json",
		Progress:   progress,
		Executor:   executor,
		Shard:      shardInfo,
		Thresholds: target.RecordedThresholds(cfg),
	}
	if err := withCI(&req, cwd); err != nil {
		return fail(exitFailed, "%v", err)
	}
	out, err := run.Execute(ctx, req)
	if out != nil && out.Meta != nil && !req.JSONEvents {
		fmt.Fprintf(os.Stderr, "run %s (%s): %s\n", out.Meta.ID, out.Meta.Status, store.Dir(out.Meta.ID))
		if len(out.Meta.Missing) > 0 {
			fmt.Fprintf(os.Stderr, "not measured: %s\n", strings.Join(out.Meta.Missing, ", "))
		}
	}
	if out != nil && out.Meta != nil && err == nil && f.upload.wanted(fs) {
		if uerr := uploadRun(ctx, f.upload, out.Meta, cwd, f.allowEmpty); uerr != nil {
			fmt.Fprintf(os.Stderr, "codspeed: %v\n", uerr)
			if out.Failed == 0 {
				return exitFailed
			}
		}
	}
	return runExit(out, err)
}

// selectTargets picks where the targets come from: `exec -`'s standard
// input, the command line, or the config.
func selectTargets(cmdArgs []string, kind instruments.Kind, name string, cfg *config.Config, cli config.Options, cwd string) ([]instruments.Target, error) {
	switch {
	case len(cmdArgs) == 1 && cmdArgs[0] == "-" && kind == instruments.Exec:
		return target.FromStdin(os.Stdin, cfg, cli, cwd)
	case len(cmdArgs) > 0:
		return target.FromCommand(cmdArgs, kind, name, cfg, cli, cwd)
	case cfg != nil:
		return target.FromConfig(cfg, cli, cwd)
	}
	cmd := "run"
	if kind == instruments.Exec {
		cmd = "exec"
	}
	return nil, fmt.Errorf("nothing to run: give a command (codspeed %s -- CMD) or add a codspeed.yml (see README)", cmd)
}

// runExit is the exit code of a run, after saying why it is not 0.
func runExit(out *run.Outcome, err error) int {
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(os.Stderr, "codspeed: interrupted; the benchmarks that finished are kept and the run is marked partial")
		return exitInterrupted
	case errors.Is(err, run.ErrNoBenchmarks):
		return fail(exitFailed, "%v", err) // with the advice that fits
	case err != nil:
		return fail(exitFailed, "%v", err)
	case out.Failed > 0:
		fmt.Fprintf(os.Stderr, "codspeed: %d benchmark(s) failed\n", out.Failed)
		return exitFailed
	}
	return exitOK
}

// withCI groups the run's log the CI provider's way, and names the part of
// the CI job's run this invocation is: each invocation in one CI job is a
// distinct part (a counter under .codspeed/run-state, locked).
func withCI(req *run.Request, cwd string) error {
	info := ciInfo(cwd)
	if info == nil {
		return nil
	}
	req.Progress.WithGroups(info)
	if info.RunID == "" {
		return nil
	}
	idx, err := upload.NextRunPart(upload.StateDir(info.Source(), cwd), info.RunID)
	if err != nil {
		return err
	}
	req.CI = &results.CIRun{Provider: info.Provider, RunID: info.RunID, PartIndex: idx}
	return nil
}

// ciInfo is the CI provider when codspeed runs in one (nil locally or when
// detection fails: grouping is cosmetic).
func ciInfo(cwd string) *ci.Info {
	for _, v := range []string{"GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "JENKINS_URL"} {
		if os.Getenv(v) != "" {
			info, err := ci.OSEnv(cwd).Detect()
			if err != nil || info.Provider == ci.Local {
				return nil
			}
			return info
		}
	}
	return nil
}

// redactArgs is the command line as kept in the run record, with the value of
// --token replaced: tokens are never written.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		if out[i] == "--" {
			break
		}
		if out[i] == "--token" && i+1 < len(out) {
			out[i+1] = "[redacted]"
			i++
		} else if strings.HasPrefix(out[i], "--token=") {
			out[i] = "--token=[redacted]"
		}
	}
	return out
}
