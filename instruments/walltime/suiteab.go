package walltime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/results"
)

// SuiteRounds runs an entrypoint with its own harness (a CodSpeed
// integration such as @codspeed/tinybench-plugin) whole, once a round, for a
// caller that interleaves two suites (`codspeed ab`). A round is one
// unsampled run of the command; its figure for each benchmark is what the
// integration measured for it in that run (its median time per iteration),
// so the integration's own warmup and rounds happen inside every round.
type SuiteRounds struct {
	in  *Instrument
	t   instruments.Target
	env instruments.Env
	n   int // rounds run
}

// NewSuiteRounds prepares the rounds of the entrypoint t, run with env's
// launcher (the sandbox) and environment.
func NewSuiteRounds(t instruments.Target, env instruments.Env) *SuiteRounds {
	env.Stdout, env.Stderr = nil, nil
	if env.Progress == nil {
		env.Progress = instruments.NopProgress{}
	}
	env.Progress = &onceProgress{Progress: env.Progress}
	return &SuiteRounds{in: &Instrument{}, t: t, env: env}
}

// Round runs the suite once and returns the benchmarks its integration
// measured (no error, a positive median), in its order, each with the
// statistics of that run. The run's
// results and hooks files go to a folder of its own, removed after: nothing
// of it enters the caller's profile folder. A run that fails, or reports no
// benchmark, is an error.
func (s *SuiteRounds) Round(ctx context.Context) ([]results.Benchmark, error) {
	s.n++
	scratch, err := os.MkdirTemp("", "codspeed-ab-round-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	env := s.env
	env.ProfileFolder = scratch
	env.Integrations = &instruments.IntegrationResults{}
	t := s.t
	t.Env = append(append([]string(nil), s.t.Env...), "CODSPEED_PROFILE_FOLDER="+scratch)
	defer removeNew(t.Dir, runtimeLitter, existing(t.Dir, runtimeLitter))
	bs, err := s.in.entrypoint(ctx, t, env, nil)
	if err != nil {
		return bs, fmt.Errorf("round %d: %w", s.n, err)
	}
	var measured []results.Benchmark
	for _, b := range bs {
		if b.Error == "" && b.Stats != nil && b.Stats.MedianNs > 0 {
			measured = append(measured, b)
		}
	}
	if len(measured) == 0 {
		return bs, fmt.Errorf("round %d: %s reported no measured benchmark (is its CodSpeed integration installed, and does it support walltime?)", s.n, t.Command)
	}
	return measured, nil
}

// runtimeLitter are the files a runtime writes into its working directory
// under the flags CodSpeed's integrations ask for (V8's --perf-prof jitdumps
// and --log files): one per process, so one per round of a suite.
var runtimeLitter = []string{"jit-*.dump", "isolate-*-v8.log"}

// existing lists the files of dir matching patterns.
func existing(dir string, patterns []string) map[string]bool {
	seen := map[string]bool{}
	for _, p := range patterns {
		names, _ := filepath.Glob(filepath.Join(dir, p))
		for _, n := range names {
			seen[n] = true
		}
	}
	return seen
}

// removeNew removes the files of dir matching patterns that were not in
// before: what a round left in the user's folder.
func removeNew(dir string, patterns []string, before map[string]bool) {
	for n := range existing(dir, patterns) {
		if !before[n] {
			os.Remove(n)
		}
	}
}

// ProfileSuite takes the profiles of an entrypoint whose benchmarks bs were
// timed elsewhere (`codspeed ab`): one more run under perf, sampled in the
// regions its integration marks, each benchmark getting the samples of its
// own region. Without perf, or where sampling is refused, bs keep no
// profile.
func (in *Instrument) ProfileSuite(ctx context.Context, t instruments.Target, env instruments.Env, bs []results.Benchmark) {
	// Removed once the profile has read them.
	defer removeNew(t.Dir, runtimeLitter, existing(t.Dir, runtimeLitter))
	in.profileTimed(ctx, t, env, bs, func(env instruments.Env, s *perf.Session) (*regionMarker, error) {
		return in.profileEntrypoint(ctx, t, env, s)
	})
}

// onceProgress keeps the caller's phase, and says each warning once:
// every round of a suite would repeat the same ones.
type onceProgress struct {
	instruments.Progress
	mu   sync.Mutex
	seen map[string]bool
}

func (*onceProgress) Phase(string, string) {}
func (*onceProgress) Step(int, int)        {}

func (p *onceProgress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[msg] {
		return
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[msg] = true
	p.Progress.Warn(msg)
}
