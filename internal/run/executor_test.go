package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// fileExecutor stands where a container runtime would: it writes each
// target's folded profile under the job's profile folder, as a container
// would through its mounted volume, and returns one benchmark per target.
// Targets named "fail" fail as a whole; a target named "stop" cancels the
// run while it runs.
type fileExecutor struct {
	jobs   []Job
	cancel context.CancelFunc
}

func (e *fileExecutor) Execute(ctx context.Context, job Job) ([]results.Benchmark, error) {
	e.jobs = append(e.jobs, job)
	switch job.Target.Name {
	case "fail":
		return nil, errors.New("container exited with 3")
	case "stop":
		e.cancel()
		return nil, fmt.Errorf("container: %w", ctx.Err())
	}
	rel := filepath.Join("targets", job.Target.Name, "p.folded")
	if err := os.MkdirAll(filepath.Join(job.ProfileFolder, filepath.Dir(rel)), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(job.ProfileFolder, rel), []byte("main;work 3\n"), 0o644); err != nil {
		return nil, err
	}
	return []results.Benchmark{{
		Name: job.Target.Name, URI: "exec_harness::" + job.Target.Name,
		Stats:   &results.Stats{MedianNs: 100, Rounds: 1},
		Profile: &results.Profile{Folded: rel, Event: "cpu-clock"},
		Sandbox: &results.Sandbox{Kind: "docker", ContainerImage: "img"},
	}}, nil
}

func executorRequest(t *testing.T, ex Executor, modes []string, names ...string) (Request, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	var ts []instruments.Target
	for _, n := range names {
		ts = append(ts, instruments.Target{Name: n, Kind: instruments.Exec, Command: n})
	}
	return Request{
		Modes: modes, Targets: ts, Executor: ex,
		Store: &results.Store{Root: t.TempDir()},
		Out:   &out, Err: &out, Progress: NewProgress(&out, false),
	}, &out
}

func TestExecutorRunMergesTargets(t *testing.T) {
	ex := &fileExecutor{}
	req, out := executorRequest(t, ex, []string{results.Walltime, results.Simulation}, "a", "fail", "b")
	o, err := Execute(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.jobs) != 6 || ex.jobs[0].Mode != results.Walltime || ex.jobs[3].Mode != results.Simulation ||
		ex.jobs[2].Index != 2 || ex.jobs[2].Count != 3 || ex.jobs[0].RunID != o.Meta.ID {
		t.Fatalf("jobs %+v", ex.jobs)
	}
	if o.Meta.Status != results.StatusFailed || o.Failed != 2 || len(o.Paths) != 2 {
		t.Fatalf("outcome status %s failed %d paths %v", o.Meta.Status, o.Failed, o.Paths)
	}
	for i, p := range o.Paths {
		f, err := results.ReadResults(p)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range f.Benchmarks {
			names = append(names, b.Name)
		}
		if !slices.Equal(names, []string{"a", "fail", "b"}) || f.Benchmarks[1].Error == "" || f.Instrument.Type != req.Modes[i] {
			t.Fatalf("%s: benchmarks %v", p, names)
		}
		// The flame graph is drawn next to the folded stacks the executor left.
		if fg := f.Benchmarks[0].Profile.Flamegraph; fg != "targets/a/p.svg" {
			t.Errorf("flamegraph %q", fg)
		} else if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(p)), fg)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(out.String(), "container exited with 3") {
		t.Errorf("failure not shown:\n%s", out)
	}
}

func TestExecutorRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ex := &fileExecutor{cancel: cancel}
	req, _ := executorRequest(t, ex, []string{results.Walltime}, "a", "stop", "never")
	o, err := Execute(ctx, req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if o.Meta.Status != results.StatusPartial || !slices.Equal(o.Meta.Missing, []string{"walltime: stop", "walltime: never"}) ||
		o.Meta.Parts[0].Benchmarks != 1 || len(ex.jobs) != 2 {
		t.Fatalf("meta %+v jobs %d", o.Meta, len(ex.jobs))
	}
}
