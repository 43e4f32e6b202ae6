package gitrepo

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

func TestRootAndHead(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git is not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q", "-b", "trunk")
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	run("add", "f")
	run("commit", "-qm", "c")
	sub := filepath.Join(dir, "a", "b")
	os.MkdirAll(sub, 0o755)
	if got := Root(sub); got != dir {
		t.Fatalf("Root = %q, want %q", got, dir)
	}
	h := Head(dir)
	if len(h.Commit) != 40 || h.Ref != "trunk" || h.Dirty {
		t.Fatalf("Head = %+v", h)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("y"), 0o644)
	if !Head(dir).Dirty {
		t.Fatal("modified tree not dirty")
	}
	if Root("/") != "" && Root("/") != "/" {
		t.Fatal("Root of /")
	}
}
