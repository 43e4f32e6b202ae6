package run

import (
	"context"
	"io"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// Executor runs one target, for one mode, somewhere other than a local
// sandbox of this process: a container, another machine. The run loop knows
// nothing of where; it hands the executor a Job and gets benchmarks back, then
// records, merges and renders them as it does for local targets.
//
// Execute must return the benchmarks the target measured (even when it also
// returns an error), with every artifact path relative to Job.ProfileFolder,
// and an error wrapping ctx.Err() when it stopped because ctx ended, so an
// interrupted run is marked partial. A target that ran and failed is either a
// benchmark with Error set or an error; the loop records both.
type Executor interface {
	Execute(ctx context.Context, job Job) ([]results.Benchmark, error)
}

// Job is one target of one mode, as handed to an Executor.
type Job struct {
	RunID  string
	Mode   string
	Target instruments.Target
	// Index is the target's position (from 0) among Count targets.
	Index, Count int
	// ProfileFolder is the mode's profile folder on this host; the executor
	// keeps the target's artifacts under it (the loop writes the merged
	// results file there).
	ProfileFolder string
	// ShowOutput asks for the benchmark's own output on Output.
	ShowOutput bool
	Output     io.Writer
	Progress   *Progress
	// Integrations keeps the top-level metadata of the results files the
	// executor reads back (the integrations' metadata, merged by the runner
	// that measured the target), for the run's own file. May be nil.
	Integrations *instruments.IntegrationResults
}

// measureElsewhere runs a target through req.Executor.
func measureElsewhere(ctx context.Context, req Request, mode string, t instruments.Target, pf string, index int, integrations *instruments.IntegrationResults) ([]results.Benchmark, error) {
	req.Progress.Start(t.Name, index+1, len(req.Targets))
	benches, err := req.Executor.Execute(ctx, Job{
		RunID: req.runID, Mode: mode, Target: t, Index: index, Count: len(req.Targets),
		ProfileFolder: pf, ShowOutput: req.ShowOutput, Output: req.Err, Progress: req.Progress,
		Integrations: integrations,
	})
	for _, b := range benches {
		for _, w := range results.Warnings(mode, b) {
			req.Progress.Warn(w)
		}
	}
	if ferr := renderFlamegraphs(pf, benches); ferr != nil {
		req.Progress.Warn(ferr.Error())
	}
	return benches, err
}
