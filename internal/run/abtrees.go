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
	"github.com/codspeed-go/codspeed-go/internal/ci"
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
	// The build runs the trees' own code (a merge request's): it gets no
	// token or CI credential, as benchmarks get none.
	cmd.Env, _ = ci.WithoutCredentials(os.Environ())
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: the build step of the %s failed (%s in %s): %v; nothing was measured", ErrABSetup, tree, command, dir, err)
	}
	return nil
}

// PairTargets pairs the exec targets of two trees by name, in the head's
// order then the base-only ones; a target on one side only gets a nil other
// side (reported new or missing).
func PairTargets(base, head []instruments.Target) []ABPair {
	return pairBy(base, head, func(t *instruments.Target) string { return t.Name },
		func(name string, b, h *instruments.Target) ABPair { return ABPair{Name: name, Base: b, Head: h} })
}

// pairBy pairs two sides' items by key, in the head's order then the
// base-only ones, a missing side nil.
func pairBy[T any](base, head []T, key func(*T) string, pair func(name string, b, h *T) ABPair) []ABPair {
	byKey := map[string]*T{}
	for i := range base {
		byKey[key(&base[i])] = &base[i]
	}
	seen := map[string]bool{}
	var pairs []ABPair
	for i := range head {
		k := key(&head[i])
		pairs = append(pairs, pair(k, byKey[k], &head[i]))
		seen[k] = true
	}
	for i := range base {
		if k := key(&base[i]); !seen[k] {
			pairs = append(pairs, pair(k, &base[i], nil))
		}
	}
	return pairs
}

// GoLeaves builds the test binaries of a `go test -bench` target into
// binDir (left there for the rounds) and lists its leaf benchmarks with one
// run each (gobench.ListLeaves): `codspeed ab --base` runs the base tree's and
// the head tree's binaries alternately.
func GoLeaves(ctx context.Context, t instruments.Target, binDir string) ([]walltime.GoLeaf, error) {
	g, err := gobench.ParseTestCommand(t.Argv())
	if err != nil {
		return nil, err
	}
	// The listing runs the tree's code: no token or CI credential.
	env, _ := ci.WithoutCredentials(os.Environ())
	env = append(env, t.Env...)
	var leaves []walltime.GoLeaf
	suite := gobench.Suite{
		Phase:  "listing",
		BinDir: binDir,
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
	return pairBy(base, head, func(l *walltime.GoLeaf) string { return l.URI },
		func(name string, b, h *walltime.GoLeaf) ABPair { return ABPair{Name: name, BaseGo: b, HeadGo: h} })
}
