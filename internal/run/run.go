// Package run is the run loop: for each mode, for each target, start the
// sandbox, let the instrument measure, and keep what comes out in the local
// store, then render. It knows no Docker and no valgrind: instruments and
// sandboxes are handed to it.
package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/internal/ci"
	"github.com/codspeed-go/codspeed-go/internal/host"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/flamegraph"
	"github.com/codspeed-go/codspeed-go/sandbox"
	"github.com/codspeed-go/codspeed-go/version"
)

// Request is one `codspeed run` or `codspeed exec`.
type Request struct {
	Modes   []string
	Targets []instruments.Target
	// Instruments maps a mode to its instrument; every mode in Modes must
	// have one, unless Executor is set.
	Instruments map[string]instruments.Instrument
	// Executor, when set, runs every target somewhere else (a container)
	// instead of in a local sandbox with Instruments; the loop around it
	// (store, results files, table, events) is the same.
	Executor Executor
	// NoSandbox runs targets as plain child processes: no cgroup, no
	// pinning.
	NoSandbox bool

	GitRoot string
	Git     results.GitInfo
	Store   *results.Store
	// ProfileFolder, when set, is where the instruments write (a subfolder
	// per mode when there are several); otherwise the run's store folder.
	ProfileFolder string
	AllowEmpty    bool
	// Args is the codspeed command line for the run record (no secrets).
	Args []string
	// CI places the run in its CI job (nil outside CI).
	CI *results.CIRun
	// Shard is set when Targets are one shard of a suite.
	Shard *results.ShardInfo
	// Thresholds, when set, gives each measured benchmark the thresholds
	// the project's config sets for it (nil: it sets none), recorded in the
	// results for a results server to judge the run with.
	Thresholds func(instrument string, b *results.Benchmark) *results.Thresholds

	// ShowOutput passes the benchmark's own output through.
	ShowOutput bool
	Out        io.Writer // the table, or JSON events with JSONEvents
	Err        io.Writer // progress, warnings and the benchmark's output
	JSONEvents bool
	Progress   *Progress

	runID string // set by Execute once the run is recorded
	// nodeDir holds the node stand-in put first on entrypoint targets' PATH
	// (runtimes.go); empty when it could not be made.
	nodeDir string
}

// Outcome is what a run produced.
type Outcome struct {
	Meta  *results.RunMeta
	Files []*results.File
	Paths []string // results files, one per mode
	// Failed counts failed benchmarks and targets that produced none.
	Failed int
}

// ErrNoBenchmarks is returned when a run measured nothing and AllowEmpty is
// false.
var ErrNoBenchmarks = errors.New("no benchmarks were measured")

// Execute runs every mode in turn over every target. The run is recorded in
// the store from the start, so an interrupted run is kept and marked partial;
// results files are written atomically once each mode ends.
func Execute(ctx context.Context, req Request) (*Outcome, error) {
	now := time.Now()
	meta := &results.RunMeta{
		ID: results.NewRunID(now), Status: results.StatusRunning, StartedAt: now,
		Args: req.Args, Modes: req.Modes, Git: req.Git, Host: host.Info(), CI: req.CI, Shard: req.Shard,
	}
	if err := req.Store.Create(meta); err != nil {
		return nil, err
	}
	req.runID = meta.ID
	out := &Outcome{Meta: meta}
	if req.Executor == nil {
		dir, err := prepareNodeWrapper()
		if err != nil {
			req.Progress.Warn(fmt.Sprintf("%v: Node.js integrations will run without their V8 flags", err))
		} else {
			req.nodeDir = dir
			unregister := sandbox.OnForcedExit(func() { os.RemoveAll(dir) })
			defer func() { unregister(); os.RemoveAll(dir) }()
		}
	}
	if req.ProfileFolder != "" {
		// A reused profile folder must hold this run's results only (the
		// store's folders are new for each run).
		moved, err := results.MoveAsideEarlier(req.ProfileFolder)
		if err != nil {
			return out, finish(req, meta, err)
		}
		if moved != nil {
			req.Progress.Warn(fmt.Sprintf("%s held %d results file(s) of earlier runs (%s): moved to %s, so that this run's results, upload and comparison hold its benchmarks only",
				req.ProfileFolder, len(moved.Files), strings.Join(moved.Files, ", "), moved.To))
		}
	}
	events := newEvents(req.Out, req.JSONEvents)
	interrupted := false

	for i, mode := range req.Modes {
		inst := req.Instruments[mode]
		pf := profileFolder(req, meta.ID, mode)
		if err := results.MkdirAll(pf); err != nil {
			return out, finish(req, meta, fmt.Errorf("profile folder: %w", err))
		}
		part := results.Part{Mode: mode, Index: i, ProfileFolder: pf}
		file := &results.File{
			Creator:    results.Creator{Name: version.Name, Version: version.String(), Pid: os.Getpid()},
			Instrument: results.Instrument{Type: mode},
			Run: &results.RunInfo{ID: meta.ID, Mode: mode, Part: i, StartedAt: time.Now(),
				Git: req.Git, Host: meta.Host},
		}
		integrations := &instruments.IntegrationResults{}
		if len(req.Modes) > 1 {
			req.Progress.Section(fmt.Sprintf("%s (%d/%d)", mode, i+1, len(req.Modes)))
		}
		for ti, t := range req.Targets {
			if ctx.Err() != nil {
				interrupted = true
				meta.Missing = append(meta.Missing, fmt.Sprintf("%s: %s", mode, t.Name))
				continue
			}
			benches, err := measure(ctx, req, mode, inst, t, pf, ti, integrations)
			for _, b := range benches {
				file.Benchmarks = append(file.Benchmarks, b)
				part.Benchmarks++
				if b.Error != "" {
					part.Failed++
				}
				events.benchmarkRan(mode, b)
			}
			if err != nil {
				if ctx.Err() != nil {
					// Interrupted in the middle of this target (whatever the
					// target made of it: a child killed by the interrupt
					// fails like any other): what it finished is kept, the
					// target itself is named missing (an interrupted Go
					// target lost its last benchmark).
					interrupted = true
					meta.Missing = append(meta.Missing, fmt.Sprintf("%s: %s", mode, t.Name))
					continue
				}
				if len(benches) == 0 && errors.Is(err, instruments.ErrNoBenchmarks) && req.AllowEmpty {
					// --allow-empty: an entrypoint that reported nothing is
					// accepted, as in walltime, and said.
					req.Progress.Warn(fmt.Sprintf("%s: %v (accepted: --allow-empty)", t.Name, err))
					continue
				}
				// A target that failed as a whole is recorded as one failed
				// benchmark, so the table and the results show it.
				if len(benches) == 0 {
					fb := results.Benchmark{Name: t.Name, URI: failedURI(t), Error: err.Error()}
					file.Benchmarks = append(file.Benchmarks, fb)
					part.Benchmarks++
					events.benchmarkRan(mode, fb)
				} else {
					req.Progress.Warn(fmt.Sprintf("%s: %v", t.Name, err))
				}
				part.Failed++
			}
		}
		req.Progress.Done()
		file.Metadata = integrations.Metadata()
		if req.Thresholds != nil {
			for i := range file.Benchmarks {
				file.Benchmarks[i].Thresholds = req.Thresholds(mode, &file.Benchmarks[i])
			}
		}
		if len(file.Benchmarks) > 0 || req.AllowEmpty {
			path, err := results.WriteResults(pf, file)
			if err != nil {
				return out, finish(req, meta, err)
			}
			if rel, err := filepath.Rel(req.Store.Dir(meta.ID), path); err == nil && !strings.HasPrefix(rel, "..") {
				part.Results = rel
			} else {
				// The profile folder is outside the store: keep a copy so the
				// store stays complete.
				part.Results = filepath.Join(mode, "results", filepath.Base(path))
				if err := copyInto(path, filepath.Join(req.Store.Dir(meta.ID), part.Results)); err != nil {
					return out, finish(req, meta, err)
				}
			}
			out.Paths = append(out.Paths, path)
		}
		out.Files = append(out.Files, file)
		out.Failed += part.Failed
		meta.Parts = append(meta.Parts, part)
		if err := req.Store.Save(meta); err != nil {
			return out, err
		}
		if !req.JSONEvents || req.Out != req.Err {
			renderPart(req, mode, file)
		}
	}

	var runErr error
	total := 0
	for _, p := range meta.Parts {
		total += p.Benchmarks
	}
	if ctx.Err() != nil {
		// Whatever a target made of an interrupt, the run was interrupted.
		interrupted = true
	}
	switch {
	case interrupted:
		meta.Status = results.StatusPartial
		runErr = ctx.Err()
	case out.Failed > 0:
		meta.Status = results.StatusFailed
	default:
		meta.Status = results.StatusComplete
	}
	if total == 0 && !req.AllowEmpty && runErr == nil {
		runErr = noBenchmarks(req.Targets)
		meta.Status = results.StatusFailed
	}
	err := finish(req, meta, runErr)
	events.runFinished(meta, out.Paths)
	return out, err
}

// noBenchmarks is ErrNoBenchmarks with what to do about it. A command given
// to `codspeed run` (an entrypoint) is not timed: only what a benchmark
// harness inside it reports is measured, so a plain program reports
// nothing, and the fix is to time it as a whole with the exec harness.
// Otherwise (go test -bench matching nothing, an empty config) an empty run
// may be what was meant: --allow-empty accepts it.
func noBenchmarks(targets []instruments.Target) error {
	var plain []instruments.Target
	for _, t := range targets {
		if t.Kind == instruments.Entrypoint && !gobench.IsGoTest(t.Args) {
			plain = append(plain, t)
		}
	}
	if len(plain) == 0 {
		return fmt.Errorf("%w (use --allow-empty to accept that)", ErrNoBenchmarks)
	}
	cmd := "CMD"
	if len(plain) == 1 {
		cmd = plain[0].Command
	}
	return fmt.Errorf("%w: `codspeed run` measures only the benchmarks a harness reports (CodSpeed's integrations, go test -bench), and %s reported none; "+
		"to time a command as a whole, use `codspeed exec -- %s` (in codspeed.yml: `exec:` instead of `entrypoint:`)", ErrNoBenchmarks, quoteTargets(plain), cmd)
}

func quoteTargets(ts []instruments.Target) string {
	var names []string
	for _, t := range ts {
		names = append(names, "`"+t.Command+"`")
	}
	if len(names) > 3 {
		names = append(names[:3], fmt.Sprintf("%d more", len(names)-3))
	}
	return strings.Join(names, ", ")
}

func finish(req Request, meta *results.RunMeta, err error) error {
	if meta.Status == results.StatusRunning {
		meta.Status = results.StatusFailed
	}
	meta.FinishedAt = time.Now()
	if serr := req.Store.Save(meta); serr != nil && err == nil {
		err = serr
	}
	// What the instruments wrote goes to the user the run is for (a no-op
	// unless codspeed runs as root for someone, see results.HandFilesTo).
	herr := results.HandOver(req.Store.Dir(meta.ID))
	for _, p := range meta.Parts {
		herr = errors.Join(herr, results.HandOver(p.ProfileFolder))
	}
	if herr != nil && req.Progress != nil {
		req.Progress.Warn(fmt.Sprintf("files left to root: %v", herr))
	}
	return err
}

func failedURI(t instruments.Target) string {
	if t.Kind == instruments.Exec {
		return "exec_harness::" + t.Name
	}
	return t.Name
}

func profileFolder(req Request, id, mode string) string {
	if req.ProfileFolder == "" {
		return filepath.Join(req.Store.Dir(id), mode)
	}
	if len(req.Modes) > 1 {
		return filepath.Join(req.ProfileFolder, mode)
	}
	return req.ProfileFolder
}

// measure runs one target in its sandbox, or hands it to the executor.
func measure(ctx context.Context, req Request, mode string, inst instruments.Instrument, t instruments.Target, pf string, index int, integrations *instruments.IntegrationResults) ([]results.Benchmark, error) {
	if req.Executor != nil {
		return measureElsewhere(ctx, req, mode, t, pf, index, integrations)
	}
	sb, warnings, err := newSandbox(req, t, pf, index)
	for _, w := range warnings {
		req.Progress.Warn(w)
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer func() {
		// A sandbox that cannot be cleaned (processes left in its cgroup,
		// a cgroup that cannot be removed) is reported, not ignored.
		if err := sb.Close(); err != nil {
			req.Progress.Warn(fmt.Sprintf("%s: sandbox cleanup: %v", t.Name, err))
		}
	}()
	env := instruments.Env{
		ProfileFolder: pf,
		Launcher:      sb,
		BaseEnv:       withRuntimes(BenchmarkEnv(inst.Mode(), pf), inst.Mode(), t.Kind, req.nodeDir),
		Stdout:        io.Discard,
		Stderr:        io.Discard,
		Progress:      req.Progress,
		Integrations:  integrations,
	}
	if ra, ok := sb.(instruments.RunsAs); ok {
		if uid, gid := ra.RunsAs(); uid != os.Geteuid() {
			env.RunAs = &instruments.User{UID: uid, GID: gid}
		}
	}
	// Output not shown is kept: the tail of its standard error goes with a
	// failure. (The exec harness keeps its own, per round.)
	var errTail *tailBuffer
	if req.ShowOutput || t.Kind == instruments.Entrypoint {
		env.Stdout, env.Stderr = req.Err, req.Err
		if t.Kind == instruments.Exec {
			// Files, so the harness hands them to the rounds directly.
			env.Stdout, env.Stderr = os.Stderr, os.Stderr
		}
	} else {
		errTail = &tailBuffer{max: failureTail}
		env.Stderr = errTail
	}
	req.Progress.Start(t.Name, index+1, len(req.Targets))
	began := time.Now()
	benches, err := inst.Measure(ctx, t, env)
	took := time.Since(began)
	// What the instrument did not merge itself (every file in simulation
	// and memory mode, and files of integrations run by an exec target).
	left, cerr := integrations.Collect(pf)
	if cerr != nil {
		req.Progress.Warn(fmt.Sprintf("%s: %v", t.Name, cerr))
	}
	benches = mergeIntegration(benches, left, mode, t.Name, req.Progress)
	for _, b := range benches {
		if b.Error != "" {
			reportFailure(req, b.Name, b.Error, errTail)
		}
	}
	if err != nil && len(benches) == 0 && ctx.Err() == nil {
		reportFailure(req, t.Name, err.Error(), errTail)
	}
	usage := sb.Usage()
	// The target and how long it took: what `--shard-durations` reads
	// back from a results server to balance shards (docs/scaling.md).
	usage.Target, usage.TargetNs = t.Name, took.Nanoseconds()
	for i := range benches {
		if benches[i].Sandbox == nil {
			u := usage
			benches[i].Sandbox = &u
		}
	}
	for _, b := range benches {
		for _, w := range results.Warnings(inst.Mode(), b) {
			req.Progress.Warn(w)
		}
	}
	if ferr := renderFlamegraphs(pf, benches); ferr != nil {
		req.Progress.Warn(ferr.Error())
	}
	return benches, err
}

// failureTail is how much of a failed target's standard error is shown.
const failureTail = 2048

// reportFailure shows a failure in full where the table shows its first
// line: the error, then the end of the standard error the target wrote when
// it was not shown and the error does not already quote it.
func reportFailure(req Request, name, msg string, errTail *tailBuffer) {
	msg = strings.TrimSpace(msg)
	if errTail != nil {
		if tail := strings.TrimSpace(errTail.String()); tail != "" && !strings.Contains(msg, lastLine(tail)) {
			msg += "\n  its standard error ended with:\n" + indentLines(tail, "    | ")
		}
	}
	req.Progress.Fail(fmt.Sprintf("%s: %s", name, msg))
}

func lastLine(s string) string {
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func indentLines(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// tailBuffer keeps the last max bytes written to it, from a line start when
// it had to drop some.
type tailBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b, t.cut = b[len(b)-t.max:], true
	}
	if t.cut {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// mergeIntegration merges the benchmarks of integration results files the
// instrument did not take itself. The runner measured these benchmarks
// (callgrind, memory regions, the exec harness): an entry of an URI it
// measured lends its name (the integration's own, where the runner only had
// the URI); an entry of an URI it did not measure is not a measurement of
// this mode and is reported, not invented into the results. The files
// themselves stay in integration-results/.
func mergeIntegration(benches, fromFiles []results.Benchmark, mode, target string, p *Progress) []results.Benchmark {
	if len(fromFiles) == 0 {
		return benches
	}
	index := map[string]int{}
	for i, b := range benches {
		index[b.URI] = i
	}
	var unmeasured []string
	seen := map[string]bool{}
	for _, ib := range fromFiles {
		i, ok := index[ib.URI]
		if !ok {
			if !seen[ib.URI] {
				seen[ib.URI] = true
				unmeasured = append(unmeasured, ib.URI)
			}
			continue
		}
		if ib.Name != "" {
			benches[i].Name = ib.Name
		}
	}
	if len(unmeasured) > 0 {
		p.Warn(fmt.Sprintf("%s: the integration's own results file lists %d benchmark(s) that %s mode did not measure (%s); "+
			"the file is kept in %s/", target, len(unmeasured), mode, strings.Join(unmeasured, ", "), instruments.IntegrationResultsDir))
	}
	return benches
}

// newSandbox places a target: its own cgroup pinned to its CPUs when the host
// allows, affinity pinning otherwise (the sandbox package decides and says
// why). The OCI runtime-spec describing it is kept in the profile folder, so
// the run can be reproduced.
func newSandbox(req Request, t instruments.Target, pf string, index int) (sandbox.Sandbox, []string, error) {
	if req.NoSandbox {
		return sandbox.None{}, nil, nil
	}
	args := t.Argv()
	spec := sandbox.NewSpec(sandbox.Options{Args: args, Env: t.Env, Cwd: t.Dir, CPUs: t.CPUs, MemoryLimitBytes: t.MemoryLimit})
	sb, warnings, err := sandbox.New(spec, sandbox.LocalOptions{})
	if err != nil {
		return nil, warnings, err
	}
	path := filepath.Join(pf, "sandbox", fmt.Sprintf("%02d-%s.json", index+1, instruments.FileName(t.Name, "target")))
	if err := results.MkdirAll(filepath.Dir(path)); err == nil {
		if err := sandbox.WriteSpec(path, spec); err != nil {
			warnings = append(warnings, fmt.Sprintf("could not keep the sandbox spec: %v", err))
		}
	}
	return sb, warnings, nil
}

// renderFlamegraphs draws the SVG of every benchmark whose instrument wrote
// folded stacks, next to them, in one place for all instruments.
func renderFlamegraphs(pf string, benches []results.Benchmark) error {
	var errs []error
	for i := range benches {
		p := benches[i].Profile
		if p == nil || p.Folded == "" || p.Flamegraph != "" {
			continue
		}
		svg := strings.TrimSuffix(p.Folded, ".folded") + ".svg"
		if err := writeFlamegraph(filepath.Join(pf, p.Folded), filepath.Join(pf, svg), benches[i].Name, p.Event); err != nil {
			errs = append(errs, fmt.Errorf("flamegraph of %s: %w", benches[i].Name, err))
			continue
		}
		p.Flamegraph = svg
	}
	return errors.Join(errs...)
}

func writeFlamegraph(folded, svg, title, unit string) error {
	in, err := os.Open(folded)
	if err != nil {
		return err
	}
	defer in.Close()
	prof, err := flamegraph.ParseFolded(in)
	if err != nil {
		return err
	}
	out, err := os.Create(svg)
	if err != nil {
		return err
	}
	if err := flamegraph.WriteSVG(out, prof, flamegraph.Options{Title: title, Unit: unit}); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// BenchmarkEnv is the environment of the benchmark process (docs/protocol.md §1):
// the runner's own environment plus CodSpeed's variables.
func BenchmarkEnv(mode, profileFolder string) []string {
	runnerMode := mode
	if mode == results.Simulation {
		runnerMode = "instrumentation"
	}
	set := map[string]string{
		"CODSPEED_ENV":            "runner",
		"CODSPEED_RUNNER_MODE":    runnerMode,
		"CODSPEED_PROFILE_FOLDER": profileFolder,
		"PYTHONHASHSEED":          "0",
		"ARCH":                    host.Arch(),
	}
	// CI credentials and the upload token are for the runner, never the
	// benchmark (internal/ci/credentials.go, docs/security.md).
	base, _ := ci.WithoutCredentials(os.Environ())
	env := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok {
			continue
		}
		env = append(env, kv)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+set[k])
	}
	return env
}

func renderPart(req Request, mode string, f *results.File) {
	w := req.Out
	if req.JSONEvents {
		w = req.Err
	}
	if len(f.Benchmarks) == 0 {
		fmt.Fprintf(w, "%s: no benchmarks\n", mode)
		return
	}
	if len(req.Modes) > 1 {
		fmt.Fprintf(w, "\n%s\n", mode)
	}
	if err := results.RenderTable(w, mode, f.Benchmarks); err != nil {
		fmt.Fprintf(req.Err, "render: %v\n", err)
	}
}

func copyInto(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := results.MkdirAll(filepath.Dir(dst)); err != nil {
		return err
	}
	return results.WriteFileAtomic(dst, data)
}
