package run

import (
	"context"
	"fmt"
	"io"
	"os/exec"

	"github.com/codspeed-go/codspeed-go/instruments"
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
