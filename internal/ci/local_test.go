package ci

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// gitRepo makes a real repository with one commit in a fresh directory.
func gitRepo(t *testing.T, remote string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git is not installed: local detection reads the checkout with git")
	}
	dir := filepath.Join(t.TempDir(), "myproject")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q", "-b", "perf/work")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", ".")
	run("commit", "-q", "-m", "first")
	if remote != "" {
		run("remote", "add", "origin", remote)
	}
	return dir
}

func localEnv(dir string, vars map[string]string) Env {
	return Env{
		Getenv:   func(k string) string { return vars[k] },
		ReadFile: os.ReadFile,
		Git:      ExecGit,
		Dir:      dir,
	}
}

func TestDetectLocal(t *testing.T) {
	dir := gitRepo(t, "git@github.com:someone/myproject.git")
	head, err := ExecGit(dir, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	// Run from a subdirectory: the root is still the checkout's top.
	info, err := localEnv(filepath.Join(dir, "sub"), nil).Detect()
	if err != nil {
		t.Fatal(err)
	}
	want := Info{
		Provider: Local, RepositoryProvider: ProviderGitHub, Owner: "someone", Repository: "myproject",
		Ref: "refs/heads/perf/work", HeadRef: "perf/work", Event: EventLocal, CommitHash: head,
		JobName: "local-job", RepositoryRootPath: dir + "/",
	}
	if info.Provider != want.Provider || info.RepositoryProvider != want.RepositoryProvider || info.Owner != want.Owner ||
		info.Repository != want.Repository || info.Ref != want.Ref || info.HeadRef != want.HeadRef ||
		info.Event != want.Event || info.CommitHash != want.CommitHash || info.RepositoryRootPath != want.RepositoryRootPath ||
		info.JobName != want.JobName || info.Sender != nil || info.GhData != nil || info.GlData != nil {
		t.Errorf("local detected\n %+v\nwant\n %+v", info, &want)
	}
	if len(head) != 40 {
		t.Errorf("commit hash %q", head)
	}

	// Detached HEAD: the ref is the commit.
	if _, err := ExecGit(dir, "checkout", "-q", "--detach"); err != nil {
		t.Fatal(err)
	}
	info, err = localEnv(dir, nil).Detect()
	if err != nil {
		t.Fatal(err)
	}
	if info.Ref != head || info.HeadRef != "" {
		t.Errorf("detached: ref %q head %q, want ref %q", info.Ref, info.HeadRef, head)
	}

	// CODSPEED_REPOSITORY overrides the remote.
	info, err = localEnv(dir, map[string]string{"CODSPEED_REPOSITORY": "acme/bench"}).Detect()
	if err != nil || info.Owner != "acme" || info.Repository != "bench" {
		t.Errorf("override: %+v, %v", info, err)
	}
	if _, err := localEnv(dir, map[string]string{"CODSPEED_REPOSITORY": "nope"}).Detect(); err == nil {
		t.Error("CODSPEED_REPOSITORY without a slash accepted")
	}
	info, err = localEnv(dir, map[string]string{"CODSPEED_REPOSITORY": "acme/bench", "CODSPEED_PROVIDER": "GitLab"}).Detect()
	if err != nil || info.RepositoryProvider != ProviderGitLab || info.Owner != "acme" {
		t.Errorf("provider override: %+v, %v", info, err)
	}
	if _, err := localEnv(dir, map[string]string{"CODSPEED_PROVIDER": "bitbucket"}).Detect(); err == nil {
		t.Error("unknown CODSPEED_PROVIDER accepted")
	}
}

// TestDetectThisCheckout runs the convenience entry point on the process's
// own working directory, this package's source checkout.
func TestDetectThisCheckout(t *testing.T) {
	head, err := ExecGit(".", "rev-parse", "HEAD")
	if err != nil {
		testenv.Missing(t, "the source tree is not a git checkout (%v): nothing to detect", err)
	}
	info, err := Detect(func(string) string { return "" }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if info.Provider != Local || info.CommitHash != head || info.Event != EventLocal {
		t.Errorf("this checkout: %+v, want LOCAL at %s", info, head)
	}
}

func TestDetectLocalNoRemote(t *testing.T) {
	dir := gitRepo(t, "")
	info, err := localEnv(dir, nil).Detect()
	if err != nil {
		t.Fatal(err)
	}
	if info.Repository != "myproject" || info.Owner != "" || info.RepositoryProvider != ProviderProject {
		t.Errorf("no remote: %+v", info)
	}
}

func TestDetectLocalNotARepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Missing(t, "git is not installed")
	}
	dir := t.TempDir()
	// GIT_CEILING_DIRECTORIES keeps git from finding a repository above the
	// temporary directory.
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	_, err := localEnv(dir, nil).Detect()
	if !errors.Is(err, ErrNotGitRepository) || !strings.Contains(err.Error(), dir) {
		t.Errorf("got %v, want ErrNotGitRepository naming %s", err, dir)
	}
}

// TestDetectBuildkiteHeadCommit: builds started from Buildkite's UI carry
// BUILDKITE_COMMIT=HEAD; the hash then comes from the checkout.
func TestDetectBuildkiteHeadCommit(t *testing.T) {
	dir := gitRepo(t, "")
	head, _ := ExecGit(dir, "rev-parse", "HEAD")
	vars := map[string]string{
		"BUILDKITE": "true", "BUILDKITE_REPO": "https://github.com/o/r.git", "BUILDKITE_BRANCH": "main",
		"BUILDKITE_COMMIT": "HEAD", "BUILDKITE_BUILD_CHECKOUT_PATH": dir, "BUILDKITE_PULL_REQUEST": "false",
	}
	info, err := localEnv("/", vars).Detect()
	if err != nil {
		t.Fatal(err)
	}
	if info.CommitHash != head {
		t.Errorf("commit %q, want %q", info.CommitHash, head)
	}
}
