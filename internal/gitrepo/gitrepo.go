// Package gitrepo answers the few questions the runner asks git: where the
// repository root is and which commit is checked out. It shells out to git,
// which every CI image has; outside a repository the answers are empty.
package gitrepo

import (
	"bytes"
	"os/exec"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// Root returns the top of the git work tree containing dir, or "" when dir is
// not in one (instruments.RepoRoot: benchmark URIs are relative to it).
func Root(dir string) string { return instruments.RepoRoot(dir) }

// Head describes the checked-out commit of the repository at root.
func Head(root string) results.GitInfo {
	if root == "" {
		return results.GitInfo{}
	}
	var g results.GitInfo
	g.Commit = git(root, "rev-parse", "HEAD")
	g.Ref = git(root, "symbolic-ref", "--quiet", "--short", "HEAD")
	if g.Commit != "" {
		g.Dirty = git(root, "status", "--porcelain", "--untracked-files=no") != ""
	}
	return g
}

func git(dir string, args ...string) string {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	if cmd.Run() != nil {
		return ""
	}
	return strings.TrimSpace(out.String())
}
