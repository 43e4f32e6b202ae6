package ci

import (
	"fmt"
	"strings"
)

func (e Env) gitlab() (*Info, error) {
	v, err := e.require("gitlab ci", "CI_PROJECT_NAMESPACE", "CI_PROJECT_NAME", "CI_PIPELINE_SOURCE", "CI_COMMIT_SHA", "CI_JOB_NAME")
	if err != nil {
		return nil, err
	}
	namespace, project, source, sha, job := v[0], v[1], v[2], v[3], v[4]
	runID := e.Getenv("CI_PIPELINE_ID")
	if runID == "" {
		runID = e.Getenv("CI_JOB_ID")
	}
	info := &Info{
		Provider:           GitLabCI,
		RepositoryProvider: ProviderGitLab,
		Owner:              namespace,
		Repository:         project,
		CommitHash:         sha,
		GlData:             &GlData{RunID: runID, Job: job},
		RunID:              runID,
		JobName:            job,
		RepositoryRootPath: withSlash(e.Getenv("CI_PROJECT_DIR")),
	}
	if login := e.Getenv("GITLAB_USER_LOGIN"); login != "" {
		info.Sender = &Sender{ID: e.Getenv("GITLAB_USER_ID"), Login: login}
	}
	if source == "parent_pipeline" {
		// A child pipeline runs for whatever its parent ran for; the merge
		// request variables are passed down when that was a merge request.
		source = "push"
		if e.Getenv("CI_MERGE_REQUEST_IID") != "" {
			source = "merge_request_event"
		}
	}
	switch source {
	case "external_pull_request_event":
		// A GitHub pull request built by GitLab CI through a mirror.
		w, err := e.require("gitlab ci external pull request", "CI_EXTERNAL_PULL_REQUEST_IID", "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME", "CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME")
		if err != nil {
			return nil, err
		}
		info.Event = EventPullRequest
		info.Ref = fmt.Sprintf("refs/pull/%s/merge", w[0])
		info.HeadRef, info.BaseRef = w[1], w[2]
		src, dst := e.Getenv("CI_EXTERNAL_PULL_REQUEST_SOURCE_REPOSITORY"), e.Getenv("CI_EXTERNAL_PULL_REQUEST_TARGET_REPOSITORY")
		if src != "" && dst != "" && src != dst {
			info.IsFork = true
			if owner, _, ok := strings.Cut(src, "/"); ok {
				info.HeadRef = owner + ":" + info.HeadRef
			}
		}
		return info, nil
	case "merge_request_event":
		w, err := e.require("gitlab ci merge request", "CI_MERGE_REQUEST_IID", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
		if err != nil {
			return nil, err
		}
		info.Event = EventPullRequest
		info.Ref = fmt.Sprintf("refs/pull/%s/merge", w[0])
		info.HeadRef, info.BaseRef = w[1], w[2]
		src, dst := e.Getenv("CI_MERGE_REQUEST_SOURCE_PROJECT_ID"), e.Getenv("CI_MERGE_REQUEST_PROJECT_ID")
		if src != "" && dst != "" && src != dst {
			info.IsFork = true
			if path := e.Getenv("CI_MERGE_REQUEST_SOURCE_PROJECT_PATH"); path != "" {
				if r, err := ParseRemote("https://gitlab/" + path); err == nil {
					info.HeadRef = r.Owner + ":" + info.HeadRef
				}
			}
		}
		return info, nil
	case "push":
		info.Event = EventPush
	case "schedule":
		info.Event = EventSchedule
	case "trigger", "web", "api":
		info.Event = EventWorkflowDispatch
	default:
		return nil, fmt.Errorf("gitlab ci: %w: CI_PIPELINE_SOURCE %q (use merge_request_event, external_pull_request_event, push, schedule, trigger, web, api or parent_pipeline)", ErrUnsupportedEvent, source)
	}
	if tag := e.Getenv("CI_COMMIT_TAG"); tag != "" {
		info.Ref = "refs/tags/" + tag
	} else if branch := e.Getenv("CI_COMMIT_REF_NAME"); branch != "" {
		info.Ref = "refs/heads/" + branch
	} else {
		return nil, fmt.Errorf("gitlab ci: %w: CI_COMMIT_REF_NAME is empty", ErrMissingVariable)
	}
	return info, nil
}
