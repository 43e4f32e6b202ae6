package ci

import (
	"encoding/json"
	"fmt"
	"strings"
)

// gitHubEvent is the part of the event payload at GITHUB_EVENT_PATH that
// detection reads.
type gitHubEvent struct {
	PullRequest *struct {
		Number int `json:"number"`
		Head   struct {
			Ref   string `json:"ref"`
			Label string `json:"label"`
			SHA   string `json:"sha"`
			Repo  *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"head"`
		Base struct {
			Ref  string `json:"ref"`
			Repo *struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
}

// EventError says why a GitHub event payload could not be used.
type EventError struct {
	Path string
	Err  error
}

func (e *EventError) Error() string { return fmt.Sprintf("github event %s: %v", e.Path, e.Err) }
func (e *EventError) Unwrap() error { return e.Err }

// parseGitHubEvent decodes an event payload; a syntax error carries the byte
// offset where decoding stopped.
func parseGitHubEvent(path string, data []byte) (*gitHubEvent, error) {
	var ev gitHubEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, &EventError{Path: path, Err: err}
	}
	return &ev, nil
}

func (e Env) github() (*Info, error) {
	v, err := e.require("github actions", "GITHUB_REPOSITORY", "GITHUB_REF", "GITHUB_EVENT_NAME", "GITHUB_SHA", "GITHUB_RUN_ID", "GITHUB_JOB")
	if err != nil {
		return nil, err
	}
	repo, ref, eventName, sha, runID, job := v[0], v[1], v[2], v[3], v[4], v[5]
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" {
		return nil, fmt.Errorf("github actions: GITHUB_REPOSITORY %q is not owner/name", repo)
	}
	info := &Info{
		Provider:           GitHubActions,
		RepositoryProvider: ProviderGitHub,
		Owner:              owner,
		Repository:         name,
		Ref:                ref,
		CommitHash:         sha,
		GhData:             &GhData{RunID: runID, Job: job},
		RunID:              runID,
		JobName:            job,
		RepositoryRootPath: withSlash(e.Getenv("GITHUB_WORKSPACE")),
	}
	if login := e.Getenv("GITHUB_ACTOR"); login != "" {
		info.Sender = &Sender{ID: e.Getenv("GITHUB_ACTOR_ID"), Login: login}
	}
	switch eventName {
	case "push":
		info.Event = EventPush
	case "workflow_dispatch":
		info.Event = EventWorkflowDispatch
	case "schedule":
		info.Event = EventSchedule
	case "pull_request", "pull_request_target":
		info.Event = EventPullRequest
		if err := e.githubPullRequest(info); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("github actions: %w %q (use push, pull_request, workflow_dispatch or schedule)", ErrUnsupportedEvent, eventName)
	}
	return info, nil
}

// githubPullRequest fills the head and base refs and fork status from the
// event payload; GITHUB_HEAD_REF alone cannot tell a fork's branch apart from
// a same-named branch of the base repository.
func (e Env) githubPullRequest(info *Info) error {
	path := e.Getenv("GITHUB_EVENT_PATH")
	if path == "" {
		return fmt.Errorf("github actions: %w: GITHUB_EVENT_PATH is empty for a pull_request event", ErrMissingVariable)
	}
	data, err := e.ReadFile(path)
	if err != nil {
		return fmt.Errorf("github actions: read event: %w", err)
	}
	ev, err := parseGitHubEvent(path, data)
	if err != nil {
		return err
	}
	pr := ev.PullRequest
	if pr == nil {
		return &EventError{Path: path, Err: fmt.Errorf("no pull_request object in a %s event", e.Getenv("GITHUB_EVENT_NAME"))}
	}
	info.BaseRef = e.Getenv("GITHUB_BASE_REF")
	if info.BaseRef == "" {
		info.BaseRef = pr.Base.Ref
	}
	info.HeadRef = pr.Head.Ref
	// A null head repository means the fork was deleted after the pull
	// request was opened: still a fork, and still without secrets.
	if pr.Base.Repo != nil && (pr.Head.Repo == nil || pr.Head.Repo.FullName != pr.Base.Repo.FullName) {
		info.IsFork = true
		// A fork's branch may share its name with a base branch; the label
		// ("owner:branch") keeps them apart.
		if pr.Head.Label != "" {
			info.HeadRef = pr.Head.Label
		}
	}
	// pull_request_target runs on the base branch; the measured ref is still
	// the pull request's merge ref.
	if !strings.HasPrefix(info.Ref, "refs/pull/") && pr.Number > 0 {
		info.Ref = fmt.Sprintf("refs/pull/%d/merge", pr.Number)
	}
	return nil
}
