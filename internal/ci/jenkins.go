package ci

import (
	"fmt"
	"strings"
)

// jenkins reads the variables of the git plugin (GIT_URL, GIT_COMMIT,
// GIT_BRANCH) and of the multibranch/branch-source plugins (BRANCH_NAME,
// TAG_NAME, CHANGE_*). Jenkins has no notion of an owner, so owner and
// repository come from the remote URL.
func (e Env) jenkins() (*Info, error) {
	v, err := e.require("jenkins", "JOB_NAME")
	if err != nil {
		return nil, err
	}
	job := v[0]
	root := e.Getenv("WORKSPACE")
	dir := root
	if dir == "" {
		dir = e.Dir
	}
	remoteURL := e.Getenv("GIT_URL")
	if remoteURL == "" {
		remoteURL = changeRepoURL(e.Getenv("CHANGE_URL"))
	}
	if remoteURL == "" {
		remoteURL, err = e.Git(dir, "remote", "get-url", "origin")
		if err != nil {
			return nil, fmt.Errorf("jenkins: no GIT_URL and no origin remote: %w", err)
		}
	}
	remote, err := ParseRemote(remoteURL)
	if err != nil {
		return nil, fmt.Errorf("jenkins: %w", err)
	}
	commit := e.Getenv("GIT_COMMIT")
	if commit == "" {
		commit, err = e.Git(dir, "rev-parse", "HEAD")
		if err != nil {
			return nil, fmt.Errorf("jenkins: no GIT_COMMIT: %w", err)
		}
	}
	runID := e.Getenv("BUILD_TAG")
	if runID == "" {
		runID = "jenkins-" + strings.ReplaceAll(job, "/", "-") + "-" + e.Getenv("BUILD_ID")
	}
	jobName := job
	if stage := e.Getenv("STAGE_NAME"); stage != "" {
		jobName = job + "/" + stage
	}
	info := &Info{
		Provider:           Jenkins,
		RepositoryProvider: remote.RepositoryProvider(),
		Owner:              remote.Owner,
		Repository:         remote.Repository,
		CommitHash:         commit,
		RunID:              runID,
		JobName:            jobName,
		RepositoryRootPath: withSlash(root),
	}
	if author := e.Getenv("CHANGE_AUTHOR"); author != "" {
		info.Sender = &Sender{Login: author}
	}
	if id := e.Getenv("CHANGE_ID"); id != "" {
		w, err := e.require("jenkins multibranch change", "CHANGE_BRANCH", "CHANGE_TARGET")
		if err != nil {
			return nil, err
		}
		info.Event = EventPullRequest
		info.Ref = "refs/pull/" + id + "/merge"
		info.HeadRef, info.BaseRef = w[0], w[1]
		if fork := e.Getenv("CHANGE_FORK"); fork != "" {
			// The GitHub branch source sets CHANGE_FORK to the fork's owner
			// (or owner/repository when the names differ).
			owner, _, _ := strings.Cut(fork, "/")
			info.IsFork = true
			info.HeadRef = owner + ":" + info.HeadRef
		}
		return info, nil
	}
	info.Event = EventPush
	if tag := e.Getenv("TAG_NAME"); tag != "" {
		info.Ref = "refs/tags/" + tag
		return info, nil
	}
	branch := e.Getenv("BRANCH_NAME")
	if branch == "" {
		branch = e.Getenv("GIT_LOCAL_BRANCH")
	}
	if branch == "" {
		branch = jenkinsBranch(e.Getenv("GIT_BRANCH"))
	}
	if branch == "" {
		return nil, fmt.Errorf("jenkins: %w: none of BRANCH_NAME, GIT_LOCAL_BRANCH, GIT_BRANCH is set", ErrMissingVariable)
	}
	info.Ref = "refs/heads/" + branch
	return info, nil
}

// jenkinsBranch turns the git plugin's GIT_BRANCH ("origin/main",
// "refs/remotes/origin/main", "main") into a branch name.
func jenkinsBranch(s string) string {
	s = strings.TrimPrefix(s, "refs/remotes/")
	s = strings.TrimPrefix(s, "refs/heads/")
	if _, rest, ok := strings.Cut(s, "/"); ok && strings.HasPrefix(s, "origin/") {
		return rest
	}
	return s
}

// changeRepoURL cuts a pull request URL (https://host/owner/repo/pull/12,
// or GitLab's .../-/merge_requests/12) down to the repository URL.
func changeRepoURL(u string) string {
	for _, marker := range []string{"/-/merge_requests/", "/pull/", "/pull-requests/"} {
		if i := strings.Index(u, marker); i > 0 {
			return u[:i]
		}
	}
	return ""
}
