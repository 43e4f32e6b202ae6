package store

import (
	"time"

	"github.com/codspeed-go/codspeed-go/results"
)

// Project is a repository whose runs the server keeps, named OWNER/NAME as
// in the upload metadata (GitLab's nested groups make OWNER "group/sub").
type Project struct {
	ID    string `json:"-"`
	Owner string `json:"owner"`
	Name  string `json:"name"`
	// DefaultBranch is the branch whose history the project page shows:
	// the configured one, else see Store.DefaultBranch.
	DefaultBranch string    `json:"default_branch"`
	CreatedAt     time.Time `json:"created_at"`
	// Runs and LastRunAt summarize the project's runs.
	Runs      int       `json:"runs"`
	LastRunAt time.Time `json:"last_run_at,omitzero"`
}

// Slug is OWNER/NAME.
func (p *Project) Slug() string { return p.Owner + "/" + p.Name }

// Run is one CI run on the server: every run part uploaded with the same
// client run id (runPart.runId) in one project.
type Run struct {
	// ID is the server's id of the run: 16 hex digits, a hash of the
	// project and CIRunID (see RunID).
	ID      string `json:"id"`
	Project string `json:"project"`
	// CIRunID is the client's run id (a pipeline or workflow run id, or a
	// local run id) the parts share.
	CIRunID string `json:"ci_run_id"`
	Commit  string `json:"commit"`
	// Branch is the branch measured: the pushed branch, or a merge
	// request's source branch.
	Branch  string `json:"branch"`
	Ref     string `json:"ref"`
	BaseRef string `json:"base_ref,omitempty"`
	HeadRef string `json:"head_ref,omitempty"`
	// Event is push, pull_request, schedule, local, ...
	Event string `json:"event"`
	// PullRequest is the merge or pull request number, 0 when none.
	PullRequest        int    `json:"pull_request,omitempty"`
	RunEnvironment     string `json:"run_environment"`
	RepositoryProvider string `json:"repository_provider"`
	Sender             string `json:"sender,omitempty"`
	// Modes are the instruments measured, in upload order.
	Modes []string `json:"modes"`
	// Status is complete (every benchmark passed) or failed (some failed).
	Status     string `json:"status"`
	Benchmarks int    `json:"benchmarks"`
	Failed     int    `json:"failed"`
	// StartedAt is when the client started measuring (from the results),
	// CreatedAt when the first part arrived (the run's time on the
	// server: newest means latest CreatedAt), UpdatedAt the last part.
	StartedAt time.Time `json:"started_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Pair is set when the run is one side of a paired A/B measurement
	// (`codspeed ab` uploads its base and head as two runs).
	Pair *Pair `json:"pair,omitempty"`
	// Parts are set by Store.Run only.
	Parts []Part `json:"parts,omitempty"`

	projectID string
}

// Pair places a run in the A/B pair of one `codspeed ab`: both sides were
// measured interleaved, round by round, and the head's benchmarks carry the
// paired verdict against the base.
type Pair struct {
	// Role is this run's side: PairBase or PairHead.
	Role string `json:"role"`
	// Run is the server id of the other side; it may not have been
	// uploaded (yet).
	Run string `json:"run"`
	// Label is what the user called this side (a git ref, a command).
	Label string `json:"label,omitempty"`
}

// The sides of a pair.
const (
	PairBase = "base"
	PairHead = "head"
)

// Part is one stored upload of a run.
type Part struct {
	ID            string    `json:"id"`
	Mode          string    `json:"mode"`
	Executor      string    `json:"executor"`
	RunnerName    string    `json:"runner_name"`
	RunnerVersion string    `json:"runner_version"`
	JobName       string    `json:"job_name,omitempty"`
	ProfileMD5    string    `json:"profile_md5"`
	ArchiveBytes  int64     `json:"archive_bytes"`
	ReceivedAt    time.Time `json:"received_at"`
	// Shard and ShardTotal place a sharded suite's part (shard 1..total,
	// from runPart.metadata.shard and shardTotal); 0 when not sharded.
	Shard      int `json:"shard,omitempty"`
	ShardTotal int `json:"shard_total,omitempty"`
}

// Benchmark is one benchmark of a stored run, as the results model has it
// (figures, samples, profile paths relative to its part's profile folder),
// with the instrument and part it came from.
type Benchmark struct {
	Instrument string `json:"instrument"`
	PartID     string `json:"part_id"`
	results.Benchmark
}

// Series is the history of one benchmark (by instrument and URI) on a
// branch: one point per run, oldest first.
type Series struct {
	Instrument string  `json:"instrument"`
	URI        string  `json:"uri"`
	Name       string  `json:"name"`
	Points     []Point `json:"points"`
}

// Point is one run's figures of a benchmark. Figures the instrument does not
// measure are nil.
type Point struct {
	RunID  string    `json:"run_id"`
	Commit string    `json:"commit"`
	Time   time.Time `json:"time"`
	Error  string    `json:"error,omitempty"`
	// Walltime, per iteration in ns.
	MedianNs *float64 `json:"median_ns,omitempty"`
	Q1Ns     *float64 `json:"q1_ns,omitempty"`
	Q3Ns     *float64 `json:"q3_ns,omitempty"`
	MinNs    *float64 `json:"min_ns,omitempty"`
	MaxNs    *float64 `json:"max_ns,omitempty"`
	MeanNs   *float64 `json:"mean_ns,omitempty"`
	StdevNs  *float64 `json:"stdev_ns,omitempty"`
	Rounds   *int     `json:"rounds,omitempty"`
	// Simulation, per iteration.
	Instructions    *float64 `json:"instructions,omitempty"`
	EstimatedCycles *float64 `json:"estimated_cycles,omitempty"`
	EstimatedTimeNs *float64 `json:"estimated_time_ns,omitempty"`
	// Memory.
	PeakBytes       *float64 `json:"peak_bytes,omitempty"`
	TotalAllocBytes *float64 `json:"total_alloc_bytes,omitempty"`
	AllocCalls      *float64 `json:"alloc_calls,omitempty"`
}

// RunFilter selects runs of a project.
type RunFilter struct {
	// Branch keeps only runs of that branch ("" for all).
	Branch string
	// Limit caps the number of runs (0 means 100).
	Limit int
	// Before keeps runs created strictly before this run (by id), for
	// paging; "" for the newest.
	Before string
}

// HistoryFilter selects the series of Store.History.
type HistoryFilter struct {
	// Instrument and URI keep one benchmark's series ("" for all).
	Instrument, URI string
	// Limit keeps the newest Limit runs of the branch (0 means 10,000).
	Limit int
}
