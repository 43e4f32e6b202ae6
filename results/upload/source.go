package upload

// Source is what the CI provider (or a developer's checkout) says about the
// run being uploaded: the fields of the upload metadata that describe the
// repository, the commit, the event and the job. The runner's CI detection
// fills it; this package only sends it.
type Source struct {
	// Provider is the run environment: GITHUB_ACTIONS, GITLAB_CI, BUILDKITE,
	// JENKINS or LOCAL.
	Provider string
	// RepositoryProvider is GITHUB, GITLAB or PROJECT.
	RepositoryProvider string
	Owner              string
	Repository         string
	// Ref is the git ref measured (refs/heads/<branch>, refs/pull/<n>/merge,
	// or a commit hash for a detached local checkout).
	Ref string
	// HeadRef and BaseRef are the source and target branches of a pull
	// request; sent as null when empty.
	HeadRef    string
	BaseRef    string
	Event      string
	CommitHash string
	Sender     *Sender
	GhData     *GhData
	GlData     *GlData
	// RepositoryRootPath is the checkout's absolute path with a trailing
	// slash.
	RepositoryRootPath string
}

// Sender is the user who caused the run.
type Sender struct {
	ID    string `json:"id"`
	Login string `json:"login"`
}

// GhData is the GitHub Actions run and job.
type GhData struct {
	RunID string `json:"runId"`
	Job   string `json:"job"`
}

// GlData is the GitLab CI pipeline and job.
type GlData struct {
	RunID string `json:"runId"`
	Job   string `json:"job"`
}
