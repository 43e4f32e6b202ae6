package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	"github.com/codspeed-go/codspeed-go/results"
)

func cmdMerge(_ context.Context, args []string) int {
	fs := pflag.NewFlagSet("merge", pflag.ContinueOnError)
	if code, ok := parseFlags(fs, args, "codspeed merge DIR...\n\nMerge the profile folders of a sharded suite's jobs (each job's --profile-folder,\nkept as a CI artifact) into one run in the local store, for `codspeed compare`\nand `codspeed report` (docs/scaling.md)."); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return fail(exitUsage, "merge needs the profile folders: codspeed merge DIR...")
	}
	cwd, _ := os.Getwd()
	store := &results.Store{Root: results.DefaultStoreRoot(gitrepo.Root(cwd))}
	meta, err := results.MergeFolders(store, fs.Args(), redactArgs(os.Args))
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	n := 0
	for _, p := range meta.Parts {
		n += p.Benchmarks
	}
	fmt.Fprintf(os.Stderr, "merged %d folder(s), %d benchmark(s): run %s (%s): %s\n", fs.NArg(), n, meta.ID, meta.Status, store.Dir(meta.ID))
	fmt.Println(meta.ID)
	return exitOK
}
