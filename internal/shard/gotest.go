package shard

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
)

// unit is what the partition places: a whole target, or one top-level
// Benchmark function of a package of a `go test -bench` target.
type unit struct {
	key    string
	target int
	pkg    string // import path, for a Go benchmark
	dir    string // the package's folder
	bench  string // BenchmarkX
}

// goUnits splits a `go test -bench` target into its top-level benchmarks
// (per package, sorted: `go list` and the source files, the same on every
// node of one checkout). It returns nil for any other target.
func goUnits(ctx context.Context, i int, t instruments.Target) ([]unit, error) {
	if t.Kind != instruments.Entrypoint || !gobench.IsGoTest(t.Args) {
		return nil, nil
	}
	g, err := gobench.ParseTestCommand(t.Args)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	top, err := g.TopLevelRegexp()
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	env := append(os.Environ(), t.Env...)
	pkgs, err := gobench.ListPackages(ctx, g.WorkDir(t.Dir), env, g)
	if err != nil {
		return nil, fmt.Errorf("target %s: list its Go benchmarks: %w", t.Name, err)
	}
	var out []unit
	for _, p := range pkgs {
		decls, any, err := p.MatchingBenchmarks(top)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		if !any {
			continue
		}
		var names []string
		for n := range decls {
			if top.MatchString(n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			out = append(out, unit{key: p.ImportPath + "." + n, target: i, pkg: p.ImportPath, dir: p.Dir, bench: n})
		}
	}
	return out, nil
}

// goTarget is target t narrowed to the given top-level benchmarks of one
// package: `go test` with t's build flags and packages replaced by pkg and
// -bench by ^(A|B)$ followed by t's deeper levels.
func goTarget(t instruments.Target, pkg string, benches []string, several bool) instruments.Target {
	g, _ := gobench.ParseTestCommand(t.Args) // parsed before, in goUnits
	quoted := make([]string, len(benches))
	for i, b := range benches {
		quoted[i] = regexp.QuoteMeta(b)
	}
	pattern := "^(" + strings.Join(quoted, "|") + ")$"
	if levels := gobench.SplitBenchRegexp(g.Bench); len(levels) > 1 {
		pattern += "/" + strings.Join(levels[1:], "/")
	}
	argv := []string{t.Args[0], "test"}
	if g.Dir != "" {
		argv = append(argv, "-C", g.Dir)
	}
	argv = append(argv, g.Build...)
	argv = append(argv, "-run=^$", "-bench="+pattern, pkg)
	if len(g.BinFlags) > 0 {
		argv = append(append(argv, "-args"), g.BinFlags...)
	}
	n := t
	n.Args = argv
	n.Command = instruments.JoinCommand(argv)
	if several {
		n.Name = t.Name + " (" + pkg + ")"
	}
	return n
}
