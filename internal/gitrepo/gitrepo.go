// Package gitrepo answers the few questions the runner asks git: where the
// repository root is and which commit is checked out. It shells out to git,
// which every CI image has; outside a repository the answers are empty.
package gitrepo

import (
	"bytes"
	"fmt"
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

// CheckoutCopy checks ref out, detached, in a new clone at dir (which must
// not exist or be empty) that shares root's objects (git clone --shared: no
// object is copied), and returns the commit it resolved to. A clone rather
// than a linked work tree: its .git is a folder, which tools that look for
// the repository's root expect (CodSpeed's Node integrations do). Remove it
// with os.RemoveAll; root keeps no record of it.
func CheckoutCopy(root, ref, dir string) (string, error) {
	commit, err := gitErr(root, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("git ref %q is not a commit in %s", ref, root)
	}
	if _, err := gitErr(root, "clone", "--quiet", "--shared", "--no-checkout", root, dir); err != nil {
		return "", fmt.Errorf("check out %s: %w", ref, err)
	}
	if _, err := gitErr(dir, "checkout", "--quiet", "--detach", commit); err != nil {
		return "", fmt.Errorf("check out %s: %w", ref, err)
	}
	return commit, nil
}

// gitErr runs git in dir and returns its output, or an error with git's own
// message.
func gitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return strings.TrimSpace(out.String()), nil
}
