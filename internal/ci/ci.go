// Package ci finds out where a run happens: which CI provider (Buildkite,
// GitHub Actions, GitLab CI, Jenkins) or a developer's machine, and what that
// provider says about the repository, the commit, the event and the job. The
// answer, an Info, is what the upload metadata (docs/protocol.md §7) and the run store
// are keyed on.
//
// Detection is a pure function of the environment it is given (a getenv, a
// readFile and a git runner), so each provider is tested from recorded
// environments rather than from the process's own.
package ci

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/codspeed-go/codspeed-go/results/upload"
)

// Run environments, as sent in the upload metadata's "runEnvironment".
const (
	GitHubActions = "GITHUB_ACTIONS"
	GitLabCI      = "GITLAB_CI"
	Buildkite     = "BUILDKITE"
	Jenkins       = "JENKINS"
	Local         = "LOCAL"
)

// Repository providers, as sent in "repositoryProvider". PROJECT is a
// repository CodSpeed does not host-integrate (a local or self-hosted one).
const (
	ProviderGitHub  = "GITHUB"
	ProviderGitLab  = "GITLAB"
	ProviderProject = "PROJECT"
)

// Events, as sent in "event".
const (
	EventPush             = "push"
	EventPullRequest      = "pull_request"
	EventWorkflowDispatch = "workflow_dispatch"
	EventSchedule         = "schedule"
	EventLocal            = "local"
)

// ErrUnsupportedEvent is returned (wrapped) when a CI provider reports an
// event this runner cannot attribute to a branch or a pull request, such as a
// GitHub "release" event or a GitLab "chat" pipeline.
var ErrUnsupportedEvent = errors.New("unsupported CI event")

// ErrMissingVariable is returned (wrapped) when a provider is detected but a
// variable it always sets is empty, which means the environment was altered.
var ErrMissingVariable = errors.New("missing CI variable")

// Sender, GhData and GlData are the upload metadata's descriptions of the
// user and the CI job; results/upload owns them.
type (
	Sender = upload.Sender
	GhData = upload.GhData
	GlData = upload.GlData
)

// Info is what the environment says about a run. Field meanings follow the
// CodSpeed upload metadata (docs/protocol.md §7); RunID and JobName identify the CI
// job so that several runs in one job get distinct run parts.
type Info struct {
	// Provider is the run environment: GITHUB_ACTIONS, GITLAB_CI, BUILDKITE,
	// JENKINS or LOCAL.
	Provider string `json:"provider"`
	// RepositoryProvider is GITHUB, GITLAB or PROJECT.
	RepositoryProvider string `json:"repositoryProvider"`
	Owner              string `json:"owner"`
	Repository         string `json:"repository"`
	// Ref is the git ref measured: refs/heads/<branch>, refs/tags/<tag>,
	// refs/pull/<n>/merge for a pull request, or a commit hash when a local
	// checkout is detached.
	Ref string `json:"ref"`
	// HeadRef and BaseRef are set for pull requests: the source branch
	// ("owner:branch" when it comes from a fork) and the target branch. A
	// local run on a branch sets HeadRef to the branch.
	HeadRef    string  `json:"headRef,omitempty"`
	BaseRef    string  `json:"baseRef,omitempty"`
	Event      string  `json:"event"`
	CommitHash string  `json:"commitHash"`
	Sender     *Sender `json:"sender,omitempty"`
	GhData     *GhData `json:"ghData,omitempty"`
	GlData     *GlData `json:"glData,omitempty"`
	// RunID identifies the CI run (workflow run, pipeline, build) that jobs
	// share; empty for local runs, where the caller supplies its own run id.
	RunID   string `json:"runId,omitempty"`
	JobName string `json:"jobName,omitempty"`
	// RepositoryRootPath is the checkout's absolute path with a trailing
	// slash, so the server can make profile paths repository-relative.
	RepositoryRootPath string `json:"repositoryRootPath"`
	// IsFork is true for a pull request whose head lives in another
	// repository; such runs usually have no secrets (hence no token).
	IsFork bool `json:"isFork"`

	mu       sync.Mutex
	sections []string
	now      func() time.Time
}

// Source is the part of the run's description that the upload metadata
// carries.
func (i *Info) Source() *upload.Source {
	return &upload.Source{
		Provider: i.Provider, RepositoryProvider: i.RepositoryProvider,
		Owner: i.Owner, Repository: i.Repository,
		Ref: i.Ref, HeadRef: i.HeadRef, BaseRef: i.BaseRef, Event: i.Event,
		CommitHash: i.CommitHash, Sender: i.Sender, GhData: i.GhData, GlData: i.GlData,
		RepositoryRootPath: i.RepositoryRootPath,
	}
}

// IsPullRequest reports whether the run measures a pull or merge request.
func (i *Info) IsPullRequest() bool { return i.Event == EventPullRequest }

// GitRunner runs git with args in dir and returns its trimmed standard
// output; it is how local detection (and a few providers' fallbacks) read the
// checkout.
type GitRunner func(dir string, args ...string) (string, error)

// Env is everything detection reads. The zero value is not usable: use
// OSEnv for the process's own environment, or fill every field in tests.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	Git      GitRunner
	// Dir is the working directory, where a local run's git checkout is.
	Dir string
}

// OSEnv is the process's environment, files, git binary and working
// directory dir.
func OSEnv(dir string) Env {
	return Env{Getenv: os.Getenv, ReadFile: os.ReadFile, Git: ExecGit, Dir: dir}
}

// ExecGit runs the git binary.
func ExecGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, msg)
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Detect finds the provider from getenv and readFile (for GitHub's event
// file); a local run reads git in the current directory.
func Detect(getenv func(string) string, readFile func(string) ([]byte, error)) (*Info, error) {
	return Env{Getenv: getenv, ReadFile: readFile, Git: ExecGit, Dir: "."}.Detect()
}

// Detect tries the providers in CodSpeed's order (Buildkite first, because a
// Buildkite agent may itself run inside another CI), then Jenkins, and falls
// back to a local run.
func (e Env) Detect() (*Info, error) {
	var (
		info *Info
		err  error
	)
	switch {
	case e.Getenv("BUILDKITE") == "true":
		info, err = e.buildkite()
	case e.Getenv("GITHUB_ACTIONS") == "true":
		info, err = e.github()
	case e.Getenv("GITLAB_CI") == "true":
		info, err = e.gitlab()
	case e.Getenv("JENKINS_URL") != "" && e.Getenv("BUILD_ID") != "":
		info, err = e.jenkins()
	default:
		info, err = e.local()
	}
	if err != nil {
		return nil, err
	}
	return info, nil
}

// require returns the values of the named variables, or an error naming the
// first empty one.
func (e Env) require(provider string, names ...string) ([]string, error) {
	vals := make([]string, len(names))
	for i, n := range names {
		vals[i] = e.Getenv(n)
		if vals[i] == "" {
			return nil, fmt.Errorf("%s: %w: %s is empty", provider, ErrMissingVariable, n)
		}
	}
	return vals, nil
}

// withSlash makes a directory path end in exactly one slash, the form
// CodSpeed sends as repositoryRootPath.
func withSlash(dir string) string {
	if dir == "" {
		return ""
	}
	return strings.TrimRight(dir, "/") + "/"
}
