package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// templateScript is the script of a hidden job of a GitLab template.
func templateScript(t *testing.T, path, job string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]struct {
		Script []string `yaml:"script"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc[job].Script) == 0 {
		t.Fatalf("%s: %s has no script", path, job)
	}
	return strings.Join(doc[job].Script, "\n")
}

// TestGitLabParallelTemplateScripts runs the scripts of
// ci/gitlab/codspeed-parallel.gitlab-ci.yml as GitLab would in a pipeline on
// the default branch with `parallel: 3` (its variables, the built binary on
// PATH, no server): three shards, then the merge job, twice (the first
// merged run becomes the cached baseline, the second is compared with it).
func TestGitLabParallelTemplateScripts(t *testing.T) {
	tmpl := filepath.Join("..", "..", "ci", "gitlab", "codspeed-parallel.gitlab-ci.yml")
	shardScript := templateScript(t, tmpl, ".codspeed-shard")
	mergeScript := templateScript(t, tmpl, ".codspeed-merge")
	repo, names := shardRepo(t, 7)
	// The template passes no timing flags: the config keeps the runs short.
	yml, _ := os.ReadFile(filepath.Join(repo, "codspeed.yml"))
	if err := os.WriteFile(filepath.Join(repo, "codspeed.yml"), append([]byte("options:\n  warmup-time: 0\n  max-rounds: 3\n"), yml...), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "commit", "-q", "-am", "short runs")
	sha := headSHA(t, repo)
	run := func(script string, env ...string) string {
		t.Helper()
		cmd := newCmd(repo)
		cmd.Path, cmd.Args = "/bin/sh", []string{"sh", "-c", script}
		cmd.Env = append(cmd.Env, "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"), "CODSPEED_MODE=walltime",
			"CODSPEED_REPORT=codspeed-report.md", "CODSPEED_STORE=.codspeed-merged", "CI_DEFAULT_BRANCH=main",
			"CODSPEED_NO_SANDBOX=true", "CODSPEED_PERF_ENABLED=false")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			err = nil // a regression of `true` against `true` is noise, not a broken script
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return string(out)
	}
	for pass := 1; pass <= 2; pass++ {
		for i := 1; i <= 3; i++ {
			out := run(shardScript, gitlabParallel(repo, sha, i, 3)...)
			if !strings.Contains(out, fmt.Sprintf("shard %d/3 (GitLab", i)) {
				t.Fatalf("shard %d/3:\n%s", i, out)
			}
		}
		out := run(mergeScript, "CI_COMMIT_BRANCH=main", "CI_PIPELINE_ID=77")
		report, err := os.ReadFile(filepath.Join(repo, "codspeed-report.md"))
		if err != nil {
			t.Fatalf("pass %d: no report: %v\n%s", pass, err, out)
		}
		for _, n := range names {
			if !strings.Contains(string(report), n) {
				t.Fatalf("pass %d: the report lacks %s:\n%s", pass, n, report)
			}
		}
		if !strings.Contains(out, "the merged run is the new baseline") {
			t.Fatalf("pass %d: no baseline kept:\n%s", pass, out)
		}
		if pass == 2 && !strings.Contains(string(report), "| Benchmark | Base | Head | Change |") {
			t.Fatalf("pass 2 compared nothing:\n%s", report)
		}
	}
	// A merge request with no baseline (GitLab's merge-request pipelines
	// cannot read a protected branch's cache) fails, unless told otherwise.
	if err := os.RemoveAll(filepath.Join(repo, ".codspeed-baseline")); err != nil {
		t.Fatal(err)
	}
	mr := []string{"CI_COMMIT_BRANCH=feature", "CI_PIPELINE_ID=78", "CI_MERGE_REQUEST_IID=5", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main"}
	cmd := newCmd(repo)
	cmd.Path, cmd.Args = "/bin/sh", []string{"sh", "-c", mergeScript}
	cmd.Env = append(cmd.Env, append([]string{"PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH"), "CODSPEED_MODE=walltime",
		"CODSPEED_REPORT=codspeed-report.md", "CODSPEED_STORE=.codspeed-merged", "CI_DEFAULT_BRANCH=main"}, mr...)...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no baseline of main for this merge request") {
		t.Fatalf("merge request without a baseline: %v\n%s", err, out)
	}
	if out := run(mergeScript, append(mr, "CODSPEED_REQUIRE_BASELINE=false")...); strings.Contains(out, "new baseline") {
		t.Fatalf("a merge request replaced the baseline:\n%s", out)
	}
}
