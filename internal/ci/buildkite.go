package ci

import (
	"fmt"
	"regexp"
)

var commitHashRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

func (e Env) buildkite() (*Info, error) {
	v, err := e.require("buildkite", "BUILDKITE_REPO", "BUILDKITE_BRANCH", "BUILDKITE_COMMIT")
	if err != nil {
		return nil, err
	}
	remote, err := ParseRemote(v[0])
	if err != nil {
		return nil, fmt.Errorf("buildkite: BUILDKITE_REPO: %w", err)
	}
	branch, commit := v[1], v[2]
	root := e.Getenv("BUILDKITE_BUILD_CHECKOUT_PATH")
	if !commitHashRE.MatchString(commit) {
		// Builds triggered from the UI carry "HEAD"; the checkout knows the hash.
		dir := root
		if dir == "" {
			dir = e.Dir
		}
		commit, err = e.Git(dir, "rev-parse", "HEAD")
		if err != nil {
			return nil, fmt.Errorf("buildkite: BUILDKITE_COMMIT is %q: %w", v[2], err)
		}
	}
	job := e.Getenv("BUILDKITE_STEP_KEY")
	if job == "" {
		job = e.Getenv("BUILDKITE_LABEL")
	}
	if job == "" {
		job = e.Getenv("BUILDKITE_PIPELINE_SLUG")
	}
	info := &Info{
		Provider:           Buildkite,
		RepositoryProvider: remote.RepositoryProvider(),
		Owner:              remote.Owner,
		Repository:         remote.Repository,
		CommitHash:         commit,
		RunID:              e.Getenv("BUILDKITE_BUILD_ID"),
		JobName:            job,
		RepositoryRootPath: withSlash(root),
	}
	if pr := e.Getenv("BUILDKITE_PULL_REQUEST"); pr != "" && pr != "false" {
		info.Event = EventPullRequest
		info.Ref = fmt.Sprintf("refs/pull/%s/merge", pr)
		info.HeadRef = branch
		info.BaseRef = e.Getenv("BUILDKITE_PULL_REQUEST_BASE_BRANCH")
		if prRepo := e.Getenv("BUILDKITE_PULL_REQUEST_REPO"); prRepo != "" {
			if r, err := ParseRemote(prRepo); err == nil && (r.Owner != remote.Owner || r.Repository != remote.Repository) {
				info.IsFork = true
				info.HeadRef = r.Owner + ":" + branch
			}
		}
		return info, nil
	}
	info.Event = EventPush
	if tag := e.Getenv("BUILDKITE_TAG"); tag != "" {
		info.Ref = "refs/tags/" + tag
	} else {
		info.Ref = "refs/heads/" + branch
	}
	return info, nil
}
