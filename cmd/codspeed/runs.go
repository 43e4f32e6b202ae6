package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	"github.com/codspeed-go/codspeed-go/results"
)

func cmdRuns(_ context.Context, args []string) int {
	fs := pflag.NewFlagSet("runs", pflag.ContinueOnError)
	limit := fs.IntP("limit", "n", 20, "show at most this many runs (0: all)")
	if code, ok := parseFlags(fs, args, "codspeed runs [flags]\n\nList the runs kept in the local store, newest first."); !ok {
		return code
	}
	cwd, _ := os.Getwd()
	store := &results.Store{Root: results.DefaultStoreRoot(gitrepo.Root(cwd))}
	runs, err := store.List()
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	if len(runs) == 0 {
		fmt.Printf("no runs in %s\n", store.Root)
		return exitOK
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tSTATUS\tMODES\tBENCHMARKS\tCOMMIT")
	for i, r := range runs {
		if *limit > 0 && i >= *limit {
			break
		}
		n, failed := 0, 0
		for _, p := range r.Parts {
			n += p.Benchmarks
			failed += p.Failed
		}
		count := fmt.Sprint(n)
		if failed > 0 {
			count += fmt.Sprintf(" (%d failed)", failed)
		}
		commit := r.Git.Commit
		if len(commit) > 10 {
			commit = commit[:10]
		}
		if r.Git.Dirty {
			commit += "+"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.StartedAt.Local().Format("2006-01-02 15:04:05"),
			r.Status, strings.Join(r.Modes, ","), count, commit)
	}
	tw.Flush()
	return exitOK
}
