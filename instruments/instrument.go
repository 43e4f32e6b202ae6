// Package instruments holds what every instrument shares: the target they
// measure, the options of the walltime harness, and the small interfaces
// through which an instrument starts processes (a sandbox) and reports
// progress. Each instrument lives in its own package below this one and knows
// nothing of Docker or cgroups: it is handed a Launcher.
package instruments

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
)

// Kind says how a target is measured.
type Kind int

const (
	// Exec targets are arbitrary commands measured whole by the runner's own
	// harness (`codspeed exec`, config `exec:`).
	Exec Kind = iota
	// Entrypoint targets bring their own harness (a CodSpeed integration, `go
	// test -bench`) and report their benchmarks to the runner
	// (`codspeed run`, config `entrypoint:`).
	Entrypoint
)

func (k Kind) String() string {
	if k == Entrypoint {
		return "entrypoint"
	}
	return "exec"
}

// Target is one thing to measure, fully resolved: options merged from the CLI,
// the target and the config root; directory made absolute.
type Target struct {
	Name string
	Kind Kind
	// Command is the command line as the user wrote it. Args is its argv when
	// it can be spawned without a shell; when Args is empty the command is run
	// by `bash -c Command`.
	Command string
	Args    []string
	Dir     string
	// Env is added to the runner's environment (KEY=VALUE).
	Env     []string
	Options Options
	// CPUs pins the target ("1", "2-3"); empty lets the sandbox choose a
	// core other than 0. MemoryLimit caps its memory in bytes (0: none).
	CPUs        string
	MemoryLimit int64
}

// Argv is the target's command as a process starts it: Args when the line
// needs no shell, else `bash -c Command`.
func (t Target) Argv() []string {
	if len(t.Args) > 0 {
		return t.Args
	}
	return []string{"bash", "-c", t.Command}
}

// Options bound the walltime harness; nil means "not set".
type Options struct {
	WarmupTime *time.Duration
	MaxTime    *time.Duration
	MinTime    *time.Duration
	MaxRounds  *int64
	MinRounds  *int64
}

// Launcher starts a prepared command where the target is meant to run (its
// cgroup, its CPUs). The caller waits on cmd itself.
type Launcher interface {
	Start(cmd *exec.Cmd) error
}

// ThreadLauncher is a Launcher that forks every process it starts from one
// OS thread (a sandbox's launcher thread, placed in the target's cgroup).
// Profilers that follow processes by inheritance (perf events with inherit)
// open their events on that thread.
type ThreadLauncher interface {
	Launcher
	// ForkThread is the id of the thread that forks the processes.
	ForkThread() int
}

// ForkClock is implemented by Launchers that fork on another thread than
// their caller's (a sandbox's launcher thread): ForkedAt is when the last
// Start forked, read on that thread just before the fork, so that a timed
// round can leave the hand-off to that thread out. Zero when unknown.
type ForkClock interface {
	ForkedAt() time.Time
}

// RunsAs is implemented by Launchers whose processes run as another user
// than this one (a sandbox that gives the benchmark the user who ran sudo):
// a file the benchmark must open for writing is handed to that user.
type RunsAs interface {
	RunsAs() (uid, gid int)
}

// LauncherFunc adapts a function to a Launcher.
type LauncherFunc func(*exec.Cmd) error

// Start calls f(cmd).
func (f LauncherFunc) Start(cmd *exec.Cmd) error { return f(cmd) }

// Direct starts commands as plain child processes.
var Direct Launcher = LauncherFunc(func(cmd *exec.Cmd) error { return cmd.Start() })

// Env is what the run loop gives an instrument for one target.
type Env struct {
	// ProfileFolder is where the instrument writes its artifacts; results
	// files go to ProfileFolder/results.
	ProfileFolder string
	// Launcher starts the benchmark's processes.
	Launcher Launcher
	// BaseEnv is the environment for the benchmark process, already holding
	// CODSPEED_ENV, CODSPEED_RUNNER_MODE, CODSPEED_PROFILE_FOLDER and friends.
	BaseEnv []string
	// Stdout and Stderr receive the benchmark's own output (they may be
	// io.Discard); the harness keeps a tail of stderr for error messages.
	Stdout, Stderr io.Writer
	// Progress receives progress events; never nil.
	Progress Progress
	// RunAs is the user the Launcher runs the benchmark's processes as
	// when that is not this process's user (a run started through sudo);
	// nil when they run as this process. Whatever the runner creates for
	// the benchmark to open (the instrument-hooks FIFOs) is given to it.
	RunAs *User
	// Integrations collects the results files integrations write
	// themselves; instruments that merge them (walltime entrypoints) call
	// its Collect, and the run loop collects what is left. Nil: the
	// instrument uses its own.
	Integrations *IntegrationResults
}

// User is a numeric user and group.
type User struct {
	UID, GID int
}

// Progress receives what an instrument is doing, for the progress display.
type Progress interface {
	// Phase names the current phase of a benchmark ("warmup", "measuring").
	Phase(benchmark, phase string)
	// Step reports done out of total units of the current phase (total 0 =
	// unknown).
	Step(done, total int)
	// Warn reports something the user should act on.
	Warn(msg string)
}

// NopProgress discards progress.
type NopProgress struct{}

func (NopProgress) Phase(string, string) {}
func (NopProgress) Step(int, int)        {}
func (NopProgress) Warn(string)          {}

// Instrument measures targets.
type Instrument interface {
	// Mode is the instrument's name as given to --mode and written as
	// instrument.type.
	Mode() string
	// Check says whether this host can run the instrument; the error tells
	// the user what to install or change. It is what `codspeed doctor` shows.
	Check() error
	// Measure runs one target and returns its benchmarks. A benchmark that
	// failed is returned with Error set; an error return means the target as
	// a whole could not be measured. Benchmarks finished before ctx was
	// cancelled are returned with ctx.Err().
	Measure(ctx context.Context, t Target, env Env) ([]results.Benchmark, error)
}

// ErrNoBenchmarks is wrapped by Measure's error when an entrypoint ran but
// reported no benchmark at all; the run loop accepts that with
// --allow-empty and fails the target otherwise.
var ErrNoBenchmarks = errors.New("no benchmark was reported")

// ErrNotSupported is wrapped by Check errors when the host cannot run an
// instrument at all (as opposed to a misconfiguration the user can fix).
var ErrNotSupported = errors.New("not supported on this host")
