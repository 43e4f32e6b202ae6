package ci

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/codspeed-go/codspeed-go/results/forge"
)

// ErrNoMergeRequest: the job does not run for a merge or pull request.
var ErrNoMergeRequest = errors.New("this job does not run for a merge request or pull request")

// MRComment finds, in a CI job's environment, the forge API and the merge
// request (GitLab CI) or pull request (GitHub Actions) the job runs for, to
// comment on it: GitLab with CODSPEED_GITLAB_TOKEN (a project access token
// with the api scope; the job token may not comment), GitHub with
// CODSPEED_GITHUB_TOKEN or GITHUB_TOKEN. The error wraps ErrNoMergeRequest
// for a job of another kind.
func MRComment(getenv func(string) string) (*forge.Client, int, error) {
	switch {
	case getenv("GITLAB_CI") == "true":
		iid := getenv("CI_MERGE_REQUEST_IID")
		if iid == "" {
			return nil, 0, ErrNoMergeRequest
		}
		n, err := strconv.Atoi(iid)
		if err != nil || n <= 0 {
			return nil, 0, fmt.Errorf("CI_MERGE_REQUEST_IID=%q is not a merge request number", iid)
		}
		api, project := getenv("CI_API_V4_URL"), getenv("CI_PROJECT_ID")
		if api == "" || project == "" {
			return nil, 0, errors.New("CI_API_V4_URL and CI_PROJECT_ID are not set: is this a GitLab CI job?")
		}
		token := getenv("CODSPEED_GITLAB_TOKEN")
		if token == "" {
			return nil, 0, errors.New("CODSPEED_GITLAB_TOKEN is not set: a project access token with the api scope, as a masked CI/CD variable (the job token may not comment)")
		}
		return &forge.Client{Kind: forge.GitLab, API: strings.TrimRight(api, "/"), Repo: project, Token: token}, n, nil
	case getenv("GITHUB_ACTIONS") == "true":
		num, ok := strings.CutPrefix(getenv("GITHUB_REF"), "refs/pull/")
		num, _, _ = strings.Cut(num, "/")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n <= 0 {
			return nil, 0, ErrNoMergeRequest
		}
		api := getenv("GITHUB_API_URL")
		if api == "" {
			api = "https://api.github.com"
		}
		token := getenv("CODSPEED_GITHUB_TOKEN")
		if token == "" {
			token = getenv("GITHUB_TOKEN")
		}
		if token == "" {
			return nil, 0, errors.New("neither CODSPEED_GITHUB_TOKEN nor GITHUB_TOKEN is set (a token with pull-requests: write)")
		}
		return &forge.Client{Kind: forge.GitHub, API: strings.TrimRight(api, "/"), Repo: getenv("GITHUB_REPOSITORY"), Token: token}, n, nil
	}
	return nil, 0, ErrNoMergeRequest
}

// GitLabBaseline finds, in a GitLab CI job's environment, where the
// baseline of this job is kept when there is no results server: the
// artifacts of the newest successful job of the same name (or
// CODSPEED_BASELINE_JOB) on the merge request's target branch, or on the
// default branch, read with the job's own token (CI_JOB_TOKEN).
func GitLabBaseline(getenv func(string) string) (c *forge.Client, ref, job string, err error) {
	if getenv("GITLAB_CI") != "true" {
		return nil, "", "", errors.New("not a GitLab CI job (GITLAB_CI is not true)")
	}
	api, project, token := getenv("CI_API_V4_URL"), getenv("CI_PROJECT_ID"), getenv("CI_JOB_TOKEN")
	if api == "" || project == "" || token == "" {
		return nil, "", "", errors.New("CI_API_V4_URL, CI_PROJECT_ID or CI_JOB_TOKEN is not set")
	}
	ref = getenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
	if ref == "" {
		ref = getenv("CI_DEFAULT_BRANCH")
	}
	job = getenv("CODSPEED_BASELINE_JOB")
	if job == "" {
		job = getenv("CI_JOB_NAME")
	}
	if ref == "" || job == "" {
		return nil, "", "", errors.New("CI_DEFAULT_BRANCH or CI_JOB_NAME is not set")
	}
	return &forge.Client{Kind: forge.GitLab, API: strings.TrimRight(api, "/"), Repo: project, JobToken: token}, ref, job, nil
}
