package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/codspeed-go/codspeed-go/internal/ci"
	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	"github.com/codspeed-go/codspeed-go/internal/run"
	target "github.com/codspeed-go/codspeed-go/internal/targets"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
	"github.com/codspeed-go/codspeed-go/server"
)

const compareSynopsis = `codspeed compare --base X [--head Y] [flags]

Compare two runs and judge every benchmark: regressed, improved, unchanged,
not significant (a change the noise cannot confirm), new, missing, or failed.
X and Y are each a run id (or a unique prefix; see codspeed runs), a profile
folder, a results file, or a git ref or commit (the newest stored run of that
commit). The head defaults to the newest run.

With --server URL (or CODSPEED_SERVER_URL), X names a run on a results
server (codspeed serve): a run id, a branch (its newest run) or a commit of
the project (--project, default: the repository's OWNER/NAME as uploads name
it). The head stays local, so a pipeline needs no cache of the base.

Thresholds come from codspeed.yml (thresholds: regression, improvement,
walltime, simulation, memory; per target under options.thresholds); the
defaults are walltime 5%, simulation 2%, memory 2%.

Exit codes: 0 no regression, 1 a benchmark regressed or failed in the head,
2 bad input (unknown run, unreadable results, bad flags or config).`

func cmdCompare(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("compare", pflag.ContinueOnError)
	base := fs.String("base", "", "what to compare against: run id, profile folder, results file or git ref (required)")
	head := fs.String("head", "", "what to judge (default: the newest run)")
	format := fs.String("format", "table", "table, markdown, html or json")
	output := fs.StringP("output", "o", "", "write the report to this file instead of stdout")
	confirm := fs.Int("confirm", 0, "re-measure each regressed benchmark up to N times; it fails only if every re-measurement regresses too")
	configPath := fs.String("config", "", "project config with thresholds and targets (default: codspeed.yml found from here up to the git root)")
	serverURL := fs.String("server", os.Getenv("CODSPEED_SERVER_URL"), "results server (codspeed serve) to read the base from [$CODSPEED_SERVER_URL]")
	project := fs.String("project", os.Getenv("CODSPEED_PROJECT"), "OWNER/NAME on the server (default: detected like uploads) [$CODSPEED_PROJECT]")
	token := fs.String("token", "", "token for a private server [$CODSPEED_TOKEN]")
	if code, ok := parseFlags(fs, args, compareSynopsis); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, "compare takes no arguments (got %q): name the runs with --base and --head", fs.Arg(0))
	}
	if *base == "" {
		return fail(exitUsage, "compare needs --base: a run id, profile folder, results file or git ref")
	}
	if *confirm < 0 {
		return fail(exitUsage, "--confirm must be 0 or more, not %d", *confirm)
	}
	render, err := renderer(*format)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	gitRoot := gitrepo.Root(cwd)
	setFileOwner(gitRoot, cwd)
	cfg, warnings, err := target.LoadConfig(*configPath, cwd)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "warning: %s\n", w)
	}
	store := &results.Store{Root: results.DefaultStoreRoot(gitRoot)}

	headSide, err := resolveHead(*head, store, gitRoot)
	if err != nil {
		return fail(exitUsage, "head: %v", err)
	}
	var baseSide *compare.Side
	if *serverURL != "" {
		baseSide, err = serverSide(ctx, *serverURL, *project, *token, *base, cwd)
	} else {
		baseSide, err = compare.Resolve(*base, store, gitRoot)
	}
	if err != nil {
		return fail(exitUsage, "base: %v", err)
	}
	if baseSide.Ref.Source == headSide.Ref.Source {
		return fail(exitUsage, "base and head are the same (%s): name another with --base or --head", headSide.Ref.Source)
	}
	opts := compare.Options{Limits: target.Limits(cfg)}
	c := compare.Compare(baseSide, headSide, opts)
	if *confirm > 0 && len(compare.Flagged(c)) > 0 {
		fmt.Fprintf(os.Stderr, "codspeed: %d regression(s); re-measuring up to %d time(s) to confirm\n", len(compare.Flagged(c)), *confirm)
		if err := protectSecrets(""); err != nil {
			return fail(exitFailed, "hide this process's secrets from the benchmark: %v", err)
		}
		re := run.Remeasurer(cfg, cwd, gitRoot, store)
		if err := compare.Confirm(ctx, c, *confirm, re, opts); err != nil {
			if errors.Is(err, context.Canceled) {
				return fail(exitInterrupted, "interrupted while re-measuring")
			}
			// The first verdicts stand; say why they were not confirmed.
			fmt.Fprintf(os.Stderr, "codspeed: %v\n", err)
		}
	}
	if code := writeReport(c, render, *output, *format); code != exitOK {
		return code
	}
	if c.Regressed() {
		return exitFailed
	}
	return exitOK
}

const reportSynopsis = `codspeed report [RUN] [flags]

Render one run (a run id or prefix, a profile folder or a results file;
default: the newest run) as a table, Markdown, a self-contained HTML page
with flame graphs, or JSON.`

func cmdReport(_ context.Context, args []string) int {
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	format := fs.String("format", "table", "table, markdown, html or json")
	output := fs.StringP("output", "o", "", "write the report to this file instead of stdout")
	if code, ok := parseFlags(fs, args, reportSynopsis); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return fail(exitUsage, "report renders one run, got %d", fs.NArg())
	}
	render, err := renderer(*format)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	cwd, _ := os.Getwd()
	gitRoot := gitrepo.Root(cwd)
	setFileOwner(gitRoot, cwd)
	store := &results.Store{Root: results.DefaultStoreRoot(gitRoot)}
	side, err := resolveHead(fs.Arg(0), store, gitRoot)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if *format == "table" {
		return writeTables(side, *output)
	}
	return writeReport(compare.Compare(nil, side, compare.Options{}), render, *output, *format)
}

func resolveHead(spec string, store *results.Store, gitRoot string) (*compare.Side, error) {
	if spec == "" {
		return compare.Newest(store)
	}
	return compare.Resolve(spec, store, gitRoot)
}

type renderFunc func(w io.Writer, c *results.Comparison, color bool) error

func renderer(format string) (renderFunc, error) {
	switch format {
	case "table":
		return results.RenderComparisonTable, nil
	case "markdown", "md":
		return func(w io.Writer, c *results.Comparison, _ bool) error { return results.RenderMarkdown(w, c) }, nil
	case "html":
		return func(w io.Writer, c *results.Comparison, _ bool) error { return results.RenderHTML(w, c) }, nil
	case "json":
		return func(w io.Writer, c *results.Comparison, _ bool) error { return results.RenderComparisonJSON(w, c) }, nil
	}
	return nil, fmt.Errorf("--format must be table, markdown, html or json, not %q", format)
}

// writeReport renders c to the output file (atomically) or to stdout, in
// colour only when stdout is a terminal and the format is the table.
func writeReport(c *results.Comparison, render renderFunc, output, format string) int {
	if output == "" {
		color := format == "table" && term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == ""
		if err := render(os.Stdout, c, color); err != nil {
			return fail(exitUsage, "%v", err)
		}
		return exitOK
	}
	var sb strings.Builder
	if err := render(&sb, c, false); err != nil {
		return fail(exitUsage, "%v", err)
	}
	if err := results.WriteFileAtomic(output, []byte(sb.String())); err != nil {
		return fail(exitUsage, "%v", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", output)
	if c.Base != nil {
		fmt.Fprintln(os.Stderr, results.Summary(c))
	}
	return exitOK
}

func writeTables(side *compare.Side, output string) int {
	var sb strings.Builder
	for i, p := range side.Parts {
		if len(side.Parts) > 1 {
			if i > 0 {
				sb.WriteString("\n")
			}
			sb.WriteString(p.File.Instrument.Type + "\n")
		}
		if err := results.RenderTable(&sb, p.File.Instrument.Type, p.File.Benchmarks); err != nil {
			return fail(exitUsage, "%s: %v", p.Path, err)
		}
	}
	if output == "" {
		fmt.Print(sb.String())
		return exitOK
	}
	if err := results.WriteFileAtomic(output, []byte(sb.String())); err != nil {
		return fail(exitUsage, "%v", err)
	}
	return exitOK
}

// serverSide reads the base of a comparison from a results server.
func serverSide(ctx context.Context, serverURL, project, token, ref, cwd string) (*compare.Side, error) {
	if project == "" {
		info, err := ci.OSEnv(cwd).Detect()
		if err != nil {
			return nil, fmt.Errorf("which project on %s? %w (or give --project OWNER/NAME)", serverURL, err)
		}
		if info.Owner == "" || info.Repository == "" {
			return nil, fmt.Errorf("which project on %s? the repository has no OWNER/NAME (no origin remote): give --project OWNER/NAME or set CODSPEED_REPOSITORY", serverURL)
		}
		project = info.Owner + "/" + info.Repository
	}
	if token == "" {
		token = os.Getenv("CODSPEED_TOKEN")
	}
	c := &server.Client{URL: serverURL, Token: token, HTTPClient: &http.Client{Timeout: 2 * time.Minute}}
	return c.Side(ctx, project, ref)
}
