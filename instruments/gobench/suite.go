package gobench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// Suite is the skeleton every instrument that measures `go test -bench`
// per benchmark shares (simulation, memory): list the packages, build each
// matching package's test binary once, list its leaf benchmarks with one
// run, and measure each leaf under its CodSpeed URI (the file that declares
// its top-level Benchmark function, relative to the git root). The
// instrument supplies how to list and how to measure.
type Suite struct {
	// Phase is the progress phase while a leaf is measured ("simulating").
	Phase string
	// Build compiles a package's test binary; nil is BuildTestBinary.
	Build func(ctx context.Context, dir string, env []string, g TestCommand, pkg, bin string) error
	// List runs a test binary once in its package's directory and returns
	// its leaf benchmarks (the "listing run"); nil is ListLeaves, each
	// benchmark once.
	List func(ctx context.Context, bin, pkgDir string) ([]Leaf, error)
	// Measure measures one leaf into b (its Name and URI are set).
	Measure func(ctx context.Context, b *results.Benchmark, lf Leaf, bin, pkgDir string) error
	// BinDir, when set, is where the test binaries are built and left (for
	// a caller that runs them after Run); by default a temporary folder,
	// removed when Run returns.
	BinDir string
}

// Run measures every benchmark of g that its packages declare, from dir
// with env. A leaf that fails keeps its error in its benchmark and the
// others go on; a package that cannot be built or listed stops the run
// with what was measured so far. No benchmark at all is an error wrapping
// instruments.ErrNoBenchmarks.
func (s Suite) Run(ctx context.Context, g TestCommand, dir string, env []string, progress instruments.Progress) ([]results.Benchmark, error) {
	if progress == nil {
		progress = instruments.NopProgress{}
	}
	build := s.Build
	if build == nil {
		build = BuildTestBinary
	}
	list := s.List
	if list == nil {
		list = func(ctx context.Context, bin, pkgDir string) ([]Leaf, error) {
			return ListLeaves(ctx, bin, pkgDir, env, g)
		}
	}
	dir = g.WorkDir(dir)
	top, err := g.TopLevelRegexp()
	if err != nil {
		return nil, err
	}
	pkgs, err := ListPackages(ctx, dir, env, g)
	if err != nil {
		return nil, err
	}
	root := instruments.RepoRoot(dir)
	if root == "" {
		root = dir
	}
	binDir := s.BinDir
	if binDir == "" {
		if binDir, err = os.MkdirTemp("", "codspeed-gotest-"); err != nil {
			return nil, fmt.Errorf("create build directory: %w", err)
		}
		defer os.RemoveAll(binDir)
	}

	var out []results.Benchmark
	for pi, pkg := range pkgs {
		decls, matched, err := pkg.MatchingBenchmarks(top)
		if err != nil {
			return out, err
		}
		if !matched {
			continue
		}
		progress.Phase(pkg.ImportPath, "building")
		bin := TestBinaryPath(binDir, pi, pkg.ImportPath)
		if err := build(ctx, dir, env, g, pkg.ImportPath, bin); err != nil {
			return out, err
		}
		progress.Phase(pkg.ImportPath, "listing benchmarks")
		leaves, err := list(ctx, bin, pkg.Dir)
		if err != nil {
			return out, fmt.Errorf("package %s: list benchmarks: %w", pkg.ImportPath, err)
		}
		for i, lf := range leaves {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			file := decls[TopLevel(lf.Name)]
			if file == "" {
				file = pkg.Dir
			}
			relFile, err := filepath.Rel(root, file)
			if err != nil {
				relFile = file
			}
			b := results.Benchmark{Name: lf.Name, URI: URI(filepath.ToSlash(relFile), lf.Name)}
			progress.Phase(lf.Name, s.Phase)
			progress.Step(i, len(leaves))
			if lf.Failed != "" {
				b.Error = "benchmark failed in its listing run: " + lf.Failed
				out = append(out, b)
				continue
			}
			if err := s.Measure(ctx, &b, lf, bin, pkg.Dir); err != nil {
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				b.Error = err.Error()
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no benchmark matched -bench %q in %s", instruments.ErrNoBenchmarks, g.Bench, strings.Join(g.Pkgs, " "))
	}
	return out, nil
}

// ListLeaves runs a test binary once in pkgDir, each of g's benchmarks one
// iteration, and returns the leaf benchmarks it ran. A run that fails after
// some benchmarks ran still lists them (the failed ones say so).
func ListLeaves(ctx context.Context, bin, pkgDir string, env []string, g TestCommand) ([]Leaf, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-test.run=^$", "-test.bench=" + g.Bench, "-test.benchtime=1x"}, g.BinFlags...)...)
	cmd.Dir, cmd.Env = pkgDir, env
	instruments.OwnTree(cmd)
	out, err := cmd.Output()
	leaves := Leaves(out)
	if err != nil && len(leaves) == 0 {
		return nil, fmt.Errorf("run %s: %w", filepath.Base(bin), err)
	}
	return leaves, nil
}
