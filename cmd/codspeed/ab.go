package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	"github.com/codspeed-go/codspeed-go/internal/run"
	"github.com/codspeed-go/codspeed-go/results"
)

const abSynopsis = `codspeed ab --base-command CMD --head-command CMD [--name N] [flags]

Measure two commands against each other: their rounds alternate in ABBA order
in one sandbox, and sampling stops as soon as the paired ratio head/base is
clearly regressed, improved or unchanged (within ±--min-effect), or when
--budget is spent (inconclusive, never a regression). Both sides are kept as
runs linked as a pair. Exit 0: no regression; 1: regression (or a command
failed); 2: bad input. See docs/ab.md.`

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
	if code, ok := parseFlags(fs, args, abSynopsis); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, "ab takes no arguments (got %q): give the commands with --base-command and --head-command", fs.Arg(0))
	}
	if strings.TrimSpace(*baseCmd) == "" || strings.TrimSpace(*headCmd) == "" {
		return fail(exitUsage, "ab needs --base-command and --head-command")
	}
	if *budget <= 0 {
		return fail(exitUsage, "--budget must be positive, not %s", *budget)
	}
	if *warmup < 0 {
		return fail(exitUsage, "--warmup must not be negative, not %s", *warmup)
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
		Pairs:  []run.ABPair{{Name: benchName, Base: mk(*baseCmd), Head: mk(*headCmd)}},
		Rule:   rule,
		Budget: *budget, Warmup: *warmup, NoSandbox: *noSandbox,
		BaseLabel: *baseCmd, HeadLabel: *headCmd, BaseGit: git, HeadGit: git,
		Store: store, Args: redactArgs(os.Args), Err: os.Stderr,
		Progress: run.NewProgress(os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))),
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
	if out.Comparison.Regressed() {
		return exitFailed
	}
	return exitOK
}
