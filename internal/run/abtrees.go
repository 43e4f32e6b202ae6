package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/instruments/walltime"
	"github.com/codspeed-go/codspeed-go/results"
)

// BuildStep runs a tree's `build:` command (codspeed.yml) with bash in dir,
// its output going to w. A failing build is an error naming the tree: the
// caller measures nothing.
func BuildStep(ctx context.Context, tree, command, dir string, w io.Writer) error {
	if command == "" {
		return nil
	}
	fmt.Fprintf(w, "== build (%s): %s\n", tree, command)
	cmd := exec.CommandContext(ctx, "bash", "-c", command)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: the build step of the %s failed (%s in %s): %v; nothing was measured", ErrABSetup, tree, command, dir, err)
	}
	return nil
}

// PairTargets pairs the exec targets of two trees by name, in the head's
// order then the base-only ones; a target on one side only gets a nil other
// side (reported new or missing).
func PairTargets(base, head []instruments.Target) []ABPair {
	byName := map[string]*instruments.Target{}
	for i := range base {
		byName[base[i].Name] = &base[i]
	}
	seen := map[string]bool{}
	var pairs []ABPair
	for i := range head {
		h := &head[i]
		pairs = append(pairs, ABPair{Name: h.Name, Base: byName[h.Name], Head: h})
		seen[h.Name] = true
	}
	for i := range base {
		if !seen[base[i].Name] {
			pairs = append(pairs, ABPair{Name: base[i].Name, Base: &base[i]})
		}
	}
	return pairs
}

// GoLeaves builds the test binaries of a `go test -bench` target into
// binDir (left there for the rounds) and lists its leaf benchmarks with one
// run each (-benchtime=1x): `codspeed ab --base` runs the base tree's and
// the head tree's binaries alternately.
func GoLeaves(ctx context.Context, t instruments.Target, binDir string) ([]walltime.GoLeaf, error) {
	g, err := gobench.ParseTestCommand(t.Argv())
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), t.Env...)
	var leaves []walltime.GoLeaf
	suite := gobench.Suite{
		Phase:  "listing",
		BinDir: binDir,
		List: func(ctx context.Context, bin, pkgDir string) ([]gobench.Leaf, error) {
			cmd := exec.CommandContext(ctx, bin, append([]string{"-test.run=^$", "-test.bench=" + g.Bench, "-test.benchtime=1x"}, g.BinFlags...)...)
			cmd.Dir, cmd.Env = pkgDir, env
			instruments.OwnTree(cmd)
			out, err := cmd.Output()
			ls := gobench.Leaves(out)
			if err != nil && len(ls) == 0 {
				return nil, err
			}
			return ls, nil
		},
		Measure: func(ctx context.Context, b *results.Benchmark, lf gobench.Leaf, bin, pkgDir string) error {
			leaves = append(leaves, walltime.GoLeaf{Bin: bin, Dir: pkgDir, Name: lf.Name, URI: b.URI, BinFlags: g.BinFlags, Env: t.Env})
			return nil
		},
	}
	bs, err := suite.Run(ctx, g, t.Dir, env, nil)
	for _, b := range bs {
		if b.Error != "" {
			// Failed in the listing run: paired anyway, its rounds fail and
			// say why.
			leaves = append(leaves, walltime.GoLeaf{Name: b.Name, URI: b.URI, Failed: b.Error})
		}
	}
	return leaves, err
}

// PairGoLeaves pairs the Go leaf benchmarks of two trees by URI, as
// PairTargets pairs exec targets.
func PairGoLeaves(base, head []walltime.GoLeaf) []ABPair {
	byURI := map[string]*walltime.GoLeaf{}
	for i := range base {
		byURI[base[i].URI] = &base[i]
	}
	seen := map[string]bool{}
	var pairs []ABPair
	for i := range head {
		h := &head[i]
		pairs = append(pairs, ABPair{Name: h.URI, BaseGo: byURI[h.URI], HeadGo: h})
		seen[h.URI] = true
	}
	for i := range base {
		if !seen[base[i].URI] {
			pairs = append(pairs, ABPair{Name: base[i].URI, BaseGo: &base[i]})
		}
	}
	return pairs
}
