package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/codspeed-go/codspeed-go/internal/ci"
	"github.com/codspeed-go/codspeed-go/results/forge"
)

func cmdMRComment(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("mr-comment", pflag.ContinueOnError)
	key := fs.String("key", "", "which report this is, when a merge request gets several (e.g. ab): each key keeps a comment of its own")
	if code, ok := parseFlags(fs, args, "codspeed mr-comment [--key K] FILE\n\nPost FILE (a Markdown report, e.g. `codspeed compare --format markdown --output FILE`)\nas a comment on the merge request (GitLab CI: CODSPEED_GITLAB_TOKEN) or pull request\n(GitHub Actions: CODSPEED_GITHUB_TOKEN or GITHUB_TOKEN) the job runs for; later runs\nupdate the same comment. Outside a merge or pull request it does nothing."); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fail(exitUsage, "mr-comment needs one file: codspeed mr-comment FILE")
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	c, n, err := ci.MRComment(os.Getenv)
	if errors.Is(err, ci.ErrNoMergeRequest) {
		fmt.Fprintf(os.Stderr, "codspeed: %v: no comment\n", err)
		return exitOK
	}
	if err != nil {
		return fail(exitUsage, "mr-comment: %v", err)
	}
	c.Marker = forge.KeyedMarker(*key)
	text := string(body)
	if !strings.HasPrefix(text, c.Marker) {
		text = c.Marker + "\n" + text
	}
	text = forge.Truncate(text, c.MaxBody(), "\n\n… (truncated: the comparison is longer than a comment may be; the job's artifacts have all of it)\n")
	id, created, err := c.Upsert(ctx, n, text)
	if err != nil {
		return fail(exitFailed, "mr-comment: %v", err)
	}
	verb := "updated"
	if created {
		verb = "created"
	}
	fmt.Fprintf(os.Stderr, "codspeed: %s the comment on %s %s #%d (id %d)\n", verb, c.Kind, c.Repo, n, id)
	return exitOK
}

func cmdFetchBaseline(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("fetch-baseline", pflag.ContinueOnError)
	dir := fs.String("dir", ".codspeed-baseline", "where to put the baseline's profile folder (replaced)")
	artifact := fs.String("artifact-path", "codspeed-profile", "the profile folder's path in the job's artifacts")
	if code, ok := parseFlags(fs, args, "codspeed fetch-baseline [--dir DIR] [--artifact-path PATH]\n\nIn a GitLab CI job: download the profile folder that the newest successful job of the\nsame name (or CODSPEED_BASELINE_JOB) kept as an artifact on the merge request's target\nbranch, or on the default branch, with the job's own token. Exit 0 when fetched, 3 when\nthere is none yet, 1 on another failure (docs in ci/README.md)."); !ok {
		return code
	}
	c, ref, job, err := ci.GitLabBaseline(os.Getenv)
	if err != nil {
		return fail(exitUsage, "fetch-baseline: %v", err)
	}
	data, err := c.Artifacts(ctx, ref, job)
	if errors.Is(err, forge.ErrNotFound) {
		fmt.Fprintf(os.Stderr, "codspeed: no baseline: no successful job %q with artifacts on %s yet\n", job, ref)
		return exitUnsupported
	}
	if err != nil {
		return fail(exitFailed, "fetch-baseline: %v", err)
	}
	tmp := *dir + ".tmp"
	os.RemoveAll(tmp)
	n, err := forge.ExtractDir(data, *artifact, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return fail(exitFailed, "fetch-baseline: %v", err)
	}
	if n == 0 {
		os.RemoveAll(tmp)
		fmt.Fprintf(os.Stderr, "codspeed: no baseline: the artifacts of job %q on %s have no %s/\n", job, ref, *artifact)
		return exitUnsupported
	}
	os.RemoveAll(*dir)
	if err := os.Rename(tmp, *dir); err != nil {
		return fail(exitFailed, "fetch-baseline: %v", err)
	}
	fmt.Fprintf(os.Stderr, "codspeed: baseline: %d file(s) of job %q on %s in %s\n", n, job, ref, *dir)
	return exitOK
}
