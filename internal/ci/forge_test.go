package ci

import (
	"errors"
	"strings"
	"testing"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestMRComment(t *testing.T) {
	gl := []string{"GITLAB_CI", "true", "CI_API_V4_URL", "https://gitlab.example.com/api/v4/", "CI_PROJECT_ID", "42"}
	c, n, err := MRComment(envOf(append(gl, "CI_MERGE_REQUEST_IID", "7", "CODSPEED_GITLAB_TOKEN", "glpat-x")...))
	if err != nil || n != 7 || c.Kind != "gitlab" || c.API != "https://gitlab.example.com/api/v4" || c.Repo != "42" || c.Token != "glpat-x" {
		t.Fatalf("GitLab merge request: %+v %d %v", c, n, err)
	}
	if _, _, err := MRComment(envOf(gl...)); !errors.Is(err, ErrNoMergeRequest) {
		t.Fatalf("GitLab push: %v, want ErrNoMergeRequest", err)
	}
	_, _, err = MRComment(envOf(append(gl, "CI_MERGE_REQUEST_IID", "7", "CI_JOB_TOKEN", "job")...))
	if err == nil || errors.Is(err, ErrNoMergeRequest) || !strings.Contains(err.Error(), "CODSPEED_GITLAB_TOKEN") {
		t.Fatalf("GitLab without a token: %v", err)
	}
	gh := []string{"GITHUB_ACTIONS", "true", "GITHUB_REPOSITORY", "acme/w", "GITHUB_TOKEN", "ghs_x"}
	c, n, err = MRComment(envOf(append(gh, "GITHUB_REF", "refs/pull/12/merge")...))
	if err != nil || n != 12 || c.Kind != "github" || c.API != "https://api.github.com" || c.Repo != "acme/w" || c.Token != "ghs_x" {
		t.Fatalf("GitHub pull request: %+v %d %v", c, n, err)
	}
	if _, _, err := MRComment(envOf(append(gh, "GITHUB_REF", "refs/heads/main")...)); !errors.Is(err, ErrNoMergeRequest) {
		t.Fatalf("GitHub push: %v", err)
	}
	if _, _, err := MRComment(envOf()); !errors.Is(err, ErrNoMergeRequest) {
		t.Fatalf("no CI: %v", err)
	}
}

func TestGitLabBaseline(t *testing.T) {
	base := []string{"GITLAB_CI", "true", "CI_API_V4_URL", "https://gl/api/v4", "CI_PROJECT_ID", "42", "CI_JOB_TOKEN", "job",
		"CI_DEFAULT_BRANCH", "main", "CI_JOB_NAME", "benchmarks"}
	c, ref, job, err := GitLabBaseline(envOf(base...))
	if err != nil || ref != "main" || job != "benchmarks" || c.JobToken != "job" || c.Token != "" {
		t.Fatalf("push: %+v %q %q %v", c, ref, job, err)
	}
	_, ref, job, err = GitLabBaseline(envOf(append(base, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "release", "CODSPEED_BASELINE_JOB", "bench main")...))
	if err != nil || ref != "release" || job != "bench main" {
		t.Fatalf("merge request: %q %q %v", ref, job, err)
	}
	if _, _, _, err := GitLabBaseline(envOf("GITLAB_CI", "true")); err == nil {
		t.Fatal("no API variables: accepted")
	}
}
