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
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/instruments/walltime"
	"github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	"github.com/codspeed-go/codspeed-go/internal/run"
	target "github.com/codspeed-go/codspeed-go/internal/targets"
	"github.com/codspeed-go/codspeed-go/results"
)

const abSynopsis = `codspeed ab --base-command CMD --head-command CMD [--name N] [flags]
  codspeed ab --base REF [--head REF] [flags]

Measure two commands against each other: their rounds alternate in ABBA order
in one sandbox, and sampling stops as soon as the paired ratio head/base is
clearly regressed, improved or unchanged (within ±--min-effect), or when
--budget is spent (inconclusive, never a regression). Both sides are kept as
runs linked as a pair. With --base REF, the ref is checked out in a temporary
clone, the codspeed.yml build: step runs in both trees (the head is the
working tree unless --head names a ref), and every benchmark of the config is
measured on both sides interleaved: exec benchmarks, every benchmark of its
go test -bench targets (each tree's test binaries built once), and the
benchmarks of entrypoints with their own harness (CodSpeed integrations),
whose runs alternate whole. With --upload-url (a results server) both runs
are uploaded, as a pair the server shows; a failed upload is a warning.
Exit 0: no regression; 1: regression (or a command failed); 2: bad input.
See docs/ab.md.`

func cmdAB(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("ab", pflag.ContinueOnError)
	baseCmd := fs.String("base-command", "", "the base command (a shell line, as hyperfine takes it)")
	headCmd := fs.String("head-command", "", "the head command, judged against the base")
	name := fs.String("name", "", "the benchmark's name (default: the head command)")
	budget := fs.Duration("budget", 60*time.Second, "time budget per benchmark, warmup included")
	warmup := fs.Duration("warmup", time.Second, "warmup before measuring, both commands alternately (at most a tenth of --budget)")
	minEffect := fs.Float64("min-effect", 1, "smallest change worth reporting, in percent")
	alpha := fs.Float64("alpha", 0.01, "error budget over all looks of the sequential rule")
	format := fs.String("format", "table", "table, markdown, html or json")
	output := fs.StringP("output", "o", "", "write the report to this file instead of stdout")
	cpus := fs.String("cpus", "", "CPUs to pin both commands to (default: the sandbox's choice)")
	noSandbox := fs.Bool("no-sandbox", false, "run the commands as plain child processes (no cgroup, no pinning)")
	dir := fs.String("working-directory", "", "directory to run the commands in (default: the current one)")
	baseRef := fs.String("base", "", "a git ref: measure the config's benchmarks in it against the working tree (or --head)")
	headRef := fs.String("head", "", "with --base: a git ref to judge instead of the working tree")
	configPath := fs.String("config", "", "with --base: the config, relative to each tree's root (default: codspeed.yml found from here up)")
	enablePerf := fs.Bool("enable-perf", envBool("CODSPEED_PERF_ENABLED", true), "after each pair is decided, profile both sides with perf events in a pass of their own, for the flame graphs (the timed rounds are never sampled) [$CODSPEED_PERF_ENABLED]")
	defUnwind := os.Getenv("CODSPEED_PERF_UNWINDING_MODE")
	if defUnwind == "" {
		defUnwind = "fp"
	}
	unwindMode := fs.String("perf-unwinding-mode", defUnwind, "profiles: fp (frame pointers) or dwarf [$CODSPEED_PERF_UNWINDING_MODE]")
	var up uploadFlags
	up.register(fs)
	up.registerSkip(fs)
	if code, ok := parseFlags(fs, args, abSynopsis); !ok {
		return code
	}
	if err := up.loadToken(fs, os.Stdin, os.Stderr); err != nil {
		return fail(exitUsage, "%v", err)
	}
	if err := protectSecrets(up.token); err != nil {
		return fail(exitFailed, "protect the token: %v", err)
	}
	// A pair goes to a results server that knows pairs (codspeed serve),
	// named explicitly: never to the default endpoint because a token is
	// around.
	wanted := up.wanted(fs)
	upload := wanted && up.url != ""
	if wanted && !upload {
		fmt.Fprintln(os.Stderr, "codspeed: not uploading: ab uploads its pair only to a results server given with --upload-url (or CODSPEED_UPLOAD_URL)")
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, "ab takes no arguments (got %q): give the commands with --base-command and --head-command", fs.Arg(0))
	}
	refs := *baseRef != "" || *headRef != ""
	switch {
	case refs && (*baseCmd != "" || *headCmd != ""):
		return fail(exitUsage, "ab takes either --base/--head (git refs) or --base-command/--head-command, not both")
	case refs && *baseRef == "":
		return fail(exitUsage, "--head needs --base")
	case !refs && (strings.TrimSpace(*baseCmd) == "" || strings.TrimSpace(*headCmd) == ""):
		return fail(exitUsage, "ab needs --base-command and --head-command (or --base REF)")
	}
	if *budget <= 0 {
		return fail(exitUsage, "--budget must be positive, not %s", *budget)
	}
	if *warmup < 0 {
		return fail(exitUsage, "--warmup must not be negative, not %s", *warmup)
	}
	unwinding, err := perf.ParseUnwinding(*unwindMode)
	if err != nil {
		return fail(exitUsage, "--perf-unwinding-mode: %v", err)
	}
	render, err := renderer(*format)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	rule := results.DefaultPairedRule()
	rule.MinEffect, rule.Alpha = *minEffect/100, *alpha
	if err := rule.Check(); err != nil {
		return fail(exitUsage, "%v (--min-effect is in percent, --alpha a probability)", err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	workDir := cwd
	if *dir != "" {
		st, err := os.Stat(*dir)
		if err != nil || !st.IsDir() {
			return fail(exitUsage, "--working-directory %q is not a directory", *dir)
		}
		workDir = *dir
	}
	benchName := *name
	if benchName == "" {
		benchName = *headCmd
	}
	mk := func(line string) *instruments.Target {
		argv, _ := instruments.SplitCommand(line)
		return &instruments.Target{Name: benchName, Kind: instruments.Exec, Command: line, Args: argv, Dir: workDir, CPUs: *cpus}
	}
	gitRoot := gitrepo.Root(cwd)
	store := &results.Store{Root: results.DefaultStoreRoot(gitRoot)}
	git := gitrepo.Head(gitRoot)
	req := run.ABRequest{
		Rule:   rule,
		Budget: *budget, Warmup: *warmup, NoSandbox: *noSandbox,
		BaseLabel: *baseCmd, HeadLabel: *headCmd, BaseGit: git, HeadGit: git,
		Store: store, Args: redactArgs(os.Args), Err: os.Stderr,
		Progress: run.NewProgress(os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))),
	}
	if *enablePerf {
		req.Profiler = walltime.New(gitRoot, walltime.Options{Perf: true, PerfUnwinding: unwinding})
	}
	if refs {
		cleanup, code := abTrees(ctx, &req, *baseRef, *headRef, *configPath, cwd, gitRoot, *cpus)
		defer cleanup()
		if code != exitOK {
			return code
		}
	} else {
		req.Pairs = []run.ABPair{{Name: benchName, Base: mk(*baseCmd), Head: mk(*headCmd)}}
	}
	out, err := run.ExecuteAB(ctx, req)
	if out != nil {
		fmt.Fprintf(os.Stderr, "runs: base %s, head %s (%s)\n", out.Base.ID, out.Head.ID, out.Head.Status)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fail(exitInterrupted, "interrupted; the pairs measured so far are kept and the runs marked partial")
	case errors.Is(err, run.ErrABSetup):
		return fail(exitUsage, "%v", err)
	case err != nil:
		return fail(exitFailed, "%v", err)
	}
	if code := writeReport(out.Comparison, render, *output, *format); code != exitOK {
		return code
	}
	if upload {
		// The base first: the server reports the pair when its head
		// arrives with the base already there. A failed upload is said
		// and loses nothing; the verdict keeps its exit code.
		for _, m := range []*results.RunMeta{out.Base, out.Head} {
			if err := uploadRun(ctx, up, m, cwd, false); err != nil {
				fmt.Fprintf(os.Stderr, "codspeed: warning: %s: %v\n", m.Pair.Role, err)
			}
		}
	}
	if out.Comparison.Regressed() {
		return exitFailed
	}
	return exitOK
}

// abTrees prepares `codspeed ab --base REF [--head REF]`: a temporary git work
// tree per ref (the head defaults to the working tree), the config's build:
// step run in each, the exec benchmarks of both configs paired by name, and
// the leaf benchmarks of their go test -bench targets paired by URI.
// cleanup removes the temporary clones; it is safe to call whatever code says.
func abTrees(ctx context.Context, req *run.ABRequest, baseRef, headRef, configPath, cwd, gitRoot, cpus string) (cleanup func(), code int) {
	cleanup = func() {}
	if gitRoot == "" {
		return cleanup, fail(exitUsage, "--base %s needs a git repository; %s is not in one", baseRef, cwd)
	}
	rel, err := filepath.Rel(gitRoot, cwd)
	if err != nil {
		return cleanup, fail(exitUsage, "%v", err)
	}
	tmp, err := os.MkdirTemp("", "codspeed-ab-")
	if err != nil {
		return cleanup, fail(exitFailed, "%v", err)
	}
	cleanup = func() { os.RemoveAll(tmp) }
	type side struct {
		name, label, root string
		targets, suites   []instruments.Target
		goLeaves          []walltime.GoLeaf
	}
	sides := []*side{{name: "base", label: baseRef}, {name: "head", label: headRef}}
	for _, s := range sides {
		if s.label == "" {
			s.root, s.label = gitRoot, "working tree"
			continue
		}
		dir := filepath.Join(tmp, s.name)
		if _, err := gitrepo.CheckoutCopy(gitRoot, s.label, dir); err != nil {
			return cleanup, fail(exitUsage, "%s: %v", s.name, err)
		}
		s.root = dir
	}
	for _, s := range sides {
		dir := filepath.Join(s.root, rel)
		cfgPath := configPath
		if cfgPath != "" && !filepath.IsAbs(cfgPath) {
			cfgPath = filepath.Join(s.root, cfgPath)
		}
		cfg, warnings, err := target.LoadConfig(cfgPath, dir)
		if err != nil {
			return cleanup, fail(exitUsage, "%s (%s): %v", s.name, s.label, err)
		}
		for _, w := range warnings {
			fmt.Fprintf(os.Stderr, "warning: %s (%s): %s\n", s.name, s.label, w)
		}
		if cfg == nil {
			return cleanup, fail(exitUsage, "%s (%s): no codspeed.yml found from %s up to the tree's root; ab --base measures the config's benchmarks", s.name, s.label, dir)
		}
		if err := run.BuildStep(ctx, s.name+" ("+s.label+")", cfg.Build, cfg.Dir, os.Stderr); err != nil {
			return cleanup, fail(exitUsage, "%s:%d: %v", cfg.Path, cfg.BuildLine, err)
		}
		ts, err := target.FromConfig(cfg, config.Options{CPUs: cpus}, dir)
		if err != nil {
			return cleanup, fail(exitUsage, "%s (%s): %v", s.name, s.label, err)
		}
		for i, t := range ts {
			switch {
			case t.Kind == instruments.Exec:
				s.targets = append(s.targets, t)
			case gobench.IsGoTest(t.Argv()):
				// The tree's test binaries are built once; their leaf
				// benchmarks are paired with the other tree's by URI.
				fmt.Fprintf(os.Stderr, "== %s (%s): building and listing %s\n", s.name, s.label, t.Name)
				binDir := filepath.Join(tmp, fmt.Sprintf("%s-bin-%d", s.name, i))
				if err := os.MkdirAll(binDir, 0o755); err != nil {
					return cleanup, fail(exitFailed, "%v", err)
				}
				leaves, err := run.GoLeaves(ctx, t, binDir)
				if err != nil && len(leaves) == 0 {
					return cleanup, fail(exitUsage, "%s (%s): %s: %v", s.name, s.label, t.Name, err)
				}
				s.goLeaves = append(s.goLeaves, leaves...)
			default:
				// An entrypoint with its own harness: its runs alternate
				// whole, and its benchmarks are paired by URI.
				s.suites = append(s.suites, t)
			}
		}
	}
	req.Pairs = append(run.PairTargets(sides[0].targets, sides[1].targets), run.PairGoLeaves(sides[0].goLeaves, sides[1].goLeaves)...)
	req.Pairs = append(req.Pairs, run.PairSuites(sides[0].suites, sides[1].suites)...)
	if len(req.Pairs) == 0 {
		return cleanup, fail(exitUsage, "no benchmarks in either tree's codspeed.yml")
	}
	req.CPUs = cpus
	req.BaseLabel, req.HeadLabel = sides[0].label, sides[1].label
	req.BaseGit, req.HeadGit = gitrepo.Head(sides[0].root), gitrepo.Head(sides[1].root)
	return cleanup, exitOK
}
