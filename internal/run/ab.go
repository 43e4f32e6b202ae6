package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/walltime"
	"github.com/codspeed-go/codspeed-go/internal/host"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/sandbox"
	"github.com/codspeed-go/codspeed-go/version"
)

// ABPair is one benchmark measured on both sides of `codspeed ab`: an exec
// target's command (Base, Head), a leaf benchmark of each tree's Go test
// binary (BaseGo, HeadGo), or an entrypoint with its own harness, whose
// benchmarks are paired by URI (BaseSuite, HeadSuite). A nil side is a
// benchmark that exists on one side only (reported new or missing, not
// measured).
type ABPair struct {
	Name                 string
	Base, Head           *instruments.Target
	BaseGo, HeadGo       *walltime.GoLeaf
	BaseSuite, HeadSuite *instruments.Target
}

func (p ABPair) hasBase() bool { return p.Base != nil || p.BaseGo != nil || p.BaseSuite != nil }
func (p ABPair) hasHead() bool { return p.Head != nil || p.HeadGo != nil || p.HeadSuite != nil }

// ABRequest is one `codspeed ab`: every pair is measured by interleaving the
// rounds of its two commands in one sandbox, in ABBA order, until the paired
// rule decides or Budget is spent.
type ABRequest struct {
	Pairs []ABPair
	Rule  results.PairedRule
	// Budget bounds the measuring time of each benchmark (warmup included).
	Budget time.Duration
	// Warmup is spent running both commands alternately before the first
	// measured block (at least one block runs).
	Warmup    time.Duration
	NoSandbox bool
	// CPUs pins the Go benchmarks' pairs (exec targets carry their own).
	CPUs string
	// Profiler, when set, takes each side's profile in a pass of its own
	// after the pair is decided (the timed rounds are never sampled).
	Profiler *walltime.Instrument
	// BaseLabel and HeadLabel say what each side is (commands, git refs).
	BaseLabel, HeadLabel string
	BaseGit, HeadGit     results.GitInfo
	Store                *results.Store
	Args                 []string
	CI                   *results.CIRun
	Err                  io.Writer // progress and warnings
	Progress             *Progress
}

// ABOutcome is what `codspeed ab` produced: two stored runs linked as a pair
// and their comparison.
type ABOutcome struct {
	Base, Head *results.RunMeta
	Comparison *results.Comparison
}

// ErrABSetup marks an error in what the user asked for (a command that does
// not exist): nothing was measured.
var ErrABSetup = errors.New("ab")

// ExecuteAB measures every pair and stores both sides.
func ExecuteAB(ctx context.Context, req ABRequest) (*ABOutcome, error) {
	if err := req.Rule.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrABSetup, err)
	}
	if req.Budget <= 0 {
		return nil, fmt.Errorf("%w: the time budget must be positive", ErrABSetup)
	}
	now := time.Now()
	hostInfo := host.Info()
	newMeta := func(role, label string, git results.GitInfo) *results.RunMeta {
		return &results.RunMeta{ID: results.NewRunID(now), Status: results.StatusRunning, StartedAt: now,
			Args: req.Args, Modes: []string{results.Walltime}, Git: git, Host: hostInfo, CI: req.CI,
			Pair: &results.PairLink{Role: role, Label: label}}
	}
	base, head := newMeta("base", req.BaseLabel, req.BaseGit), newMeta("head", req.HeadLabel, req.HeadGit)
	base.Pair.With, head.Pair.With = head.ID, base.ID
	for _, m := range []*results.RunMeta{base, head} {
		if err := req.Store.Create(m); err != nil {
			return nil, err
		}
	}
	out := &ABOutcome{Base: base, Head: head}
	file := func(m *results.RunMeta) *results.File {
		return &results.File{
			Creator:    results.Creator{Name: version.Name, Version: version.String(), Pid: os.Getpid()},
			Instrument: results.Instrument{Type: results.Walltime},
			Run: &results.RunInfo{ID: m.ID, Mode: results.Walltime, StartedAt: now,
				Git: m.Git, Host: hostInfo},
		}
	}
	baseFile, headFile := file(base), file(head)
	basePF := filepath.Join(req.Store.Dir(base.ID), results.Walltime)
	headPF := filepath.Join(req.Store.Dir(head.ID), results.Walltime)
	for _, pf := range []string{basePF, headPF} {
		if err := os.MkdirAll(pf, 0o755); err != nil {
			return out, errors.Join(fmt.Errorf("profile folder: %w", err), abFinish(req, base, head, results.StatusFailed))
		}
	}

	var changes []results.BenchmarkChange
	interrupted := false
	var setupErr error
	for i, p := range req.Pairs {
		if ctx.Err() != nil {
			interrupted = true
			base.Missing = append(base.Missing, "walltime: "+p.Name)
			head.Missing = append(head.Missing, "walltime: "+p.Name)
			continue
		}
		if !p.hasBase() || !p.hasHead() {
			changes = append(changes, oneSided(p))
			continue
		}
		req.Progress.Start(p.Name, i+1, len(req.Pairs))
		bbs, hbs, cs, err := measureAny(ctx, req, p, basePF, headPF, i)
		for j := range hbs {
			if hbs[j].Paired != nil {
				hbs[j].Paired.BaseRun = base.ID
			}
		}
		if err != nil && errors.Is(err, ErrABSetup) {
			setupErr = errors.Join(setupErr, err)
			continue
		}
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			interrupted = true
		}
		baseFile.Benchmarks = append(baseFile.Benchmarks, bbs...)
		headFile.Benchmarks = append(headFile.Benchmarks, hbs...)
		changes = append(changes, cs...)
	}
	req.Progress.Done()

	for _, side := range []struct {
		m  *results.RunMeta
		f  *results.File
		pf string
	}{{base, baseFile, basePF}, {head, headFile, headPF}} {
		part := results.Part{Mode: results.Walltime, ProfileFolder: side.pf, Benchmarks: len(side.f.Benchmarks)}
		for _, b := range side.f.Benchmarks {
			if b.Error != "" {
				part.Failed++
			}
		}
		if len(side.f.Benchmarks) > 0 {
			path, err := results.WriteResults(side.pf, side.f)
			if err != nil {
				return out, errors.Join(err, abFinish(req, base, head, results.StatusFailed))
			}
			part.Results, _ = filepath.Rel(req.Store.Dir(side.m.ID), path)
		}
		side.m.Parts = append(side.m.Parts, part)
	}

	out.Comparison = &results.Comparison{
		Base:       &results.RunRef{Label: req.BaseLabel, RunID: base.ID, Git: base.Git, Source: req.Store.Dir(base.ID)},
		Head:       results.RunRef{Label: req.HeadLabel, RunID: head.ID, Git: head.Git, Source: req.Store.Dir(head.ID)},
		Alpha:      req.Rule.Alpha,
		Confidence: req.Rule.LookConfidence(),
		Benchmarks: changes,
	}
	sortChanges(out.Comparison)

	status := results.StatusComplete
	var runErr error
	switch {
	case interrupted:
		status, runErr = results.StatusPartial, ctx.Err()
	case setupErr != nil:
		status, runErr = results.StatusFailed, setupErr
	case out.Comparison.Count(results.VerdictFailed) > 0:
		status = results.StatusFailed
	}
	return out, errors.Join(runErr, abFinish(req, base, head, status))
}

// measureAny measures one pair: a suite's benchmarks, or one benchmark.
func measureAny(ctx context.Context, req ABRequest, p ABPair, basePF, headPF string, index int) (bbs, hbs []results.Benchmark, changes []results.BenchmarkChange, err error) {
	if p.BaseSuite != nil {
		return measureSuitePair(ctx, req, p, basePF, headPF, index)
	}
	bb, hb, res, err := measurePair(ctx, req, p, basePF, headPF, index)
	if errors.Is(err, ErrABSetup) {
		return nil, nil, nil, err
	}
	bc := pairedChange(p.Name, &bb, &hb, res, err)
	attachFolded(&bc, &bb, &hb, basePF, headPF)
	return []results.Benchmark{bb}, []results.Benchmark{hb}, []results.BenchmarkChange{bc}, err
}

// attachFolded names each side's folded stacks in the comparison entry,
// for the reports' flame graphs.
func attachFolded(bc *results.BenchmarkChange, bb, hb *results.Benchmark, basePF, headPF string) {
	for _, side := range []struct {
		b      *results.Benchmark
		pf     string
		folded *string
	}{{bb, basePF, &bc.BaseFolded}, {hb, headPF, &bc.HeadFolded}} {
		if side.b.Profile != nil && side.b.Profile.Folded != "" {
			*side.folded, bc.ProfileUnit = filepath.Join(side.pf, side.b.Profile.Folded), side.b.Profile.Event
		}
	}
}

func abFinish(req ABRequest, base, head *results.RunMeta, status string) error {
	var errs []error
	for _, m := range []*results.RunMeta{base, head} {
		m.Status = status
		m.FinishedAt = time.Now()
		errs = append(errs, req.Store.Save(m))
	}
	return errors.Join(errs...)
}

// sortChanges orders benchmarks worst verdict first, then by name.
func sortChanges(c *results.Comparison) {
	bs := c.Benchmarks
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0; j-- {
			a, b := bs[j-1], bs[j]
			if results.VerdictLess(b.Verdict, a.Verdict) || (a.Verdict == b.Verdict && b.Name < a.Name) {
				bs[j-1], bs[j] = b, a
			}
		}
	}
}

// measurePair runs one benchmark's two commands alternately in ABBA order in
// one sandbox and returns each side's benchmark (per-round samples in the
// order measured) and the paired rule's result.
func measurePair(ctx context.Context, req ABRequest, p ABPair, basePF, headPF string, index int) (bb, hb results.Benchmark, res results.PairedResult, err error) {
	seq, err := results.NewSequential(req.Rule)
	if err != nil {
		return bb, hb, res, fmt.Errorf("%w: %v", ErrABSetup, err)
	}
	// What the sandbox is made for: the base's command, or its test binary.
	sbTarget := p.Base
	if p.BaseGo != nil {
		bb = results.Benchmark{Name: p.BaseGo.Name, URI: p.BaseGo.URI, Command: &results.Command{Line: p.BaseGo.Bin, Args: []string{p.BaseGo.Bin}, Dir: p.BaseGo.Dir}}
		hb = results.Benchmark{Name: p.HeadGo.Name, URI: p.HeadGo.URI, Command: &results.Command{Line: p.HeadGo.Bin, Args: []string{p.HeadGo.Bin}, Dir: p.HeadGo.Dir}}
		for _, side := range []struct {
			name string
			leaf *walltime.GoLeaf
			b    *results.Benchmark
		}{{"base", p.BaseGo, &bb}, {"head", p.HeadGo, &hb}} {
			if side.leaf.Failed != "" {
				side.b.Error = side.name + ": " + side.leaf.Failed
				return bb, hb, undecided(seq, nil), errors.New(side.b.Error)
			}
		}
		sbTarget = &instruments.Target{Name: p.Name, Kind: instruments.Exec, Command: p.BaseGo.Bin, Args: []string{p.BaseGo.Bin}, Dir: p.BaseGo.Dir, CPUs: req.CPUs}
	} else {
		bb = results.Benchmark{Name: p.Name, URI: walltime.ExecURI(p.Name),
			Command: &results.Command{Line: p.Base.Command, Args: p.Base.Args, Dir: p.Base.Dir}}
		hb = results.Benchmark{Name: p.Name, URI: walltime.ExecURI(p.Name),
			Command: &results.Command{Line: p.Head.Command, Args: p.Head.Args, Dir: p.Head.Dir}}
	}

	sb, closeSB, err := pairSandbox(req, p.Name, *sbTarget, basePF, index)
	if err != nil {
		return bb, hb, res, err
	}
	defer closeSB()
	env := func(pf string) instruments.Env {
		return instruments.Env{ProfileFolder: pf, Launcher: sb, BaseEnv: BenchmarkEnv(results.Walltime, pf),
			Stdout: io.Discard, Stderr: io.Discard, Progress: req.Progress}
	}
	baseRounds, headRounds, iters, err := pairRounds(ctx, p, env(basePF), env(headPF))
	if err != nil {
		if !errors.Is(err, ErrABSetup) {
			bb.Error = err.Error() // the base's calibration run failed
		}
		return bb, hb, undecided(seq, nil), err
	}
	defer baseRounds.Close()
	defer headRounds.Close()

	var baseNs, headNs, d []float64
	warmupBlocks := 0
	// block runs base, head, head, base and returns the two pairs.
	block := func() (b1, h1, b2, h2 float64, err error) {
		if b1, err = baseRounds.Round(ctx); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("base: %w", err)
		}
		if h1, err = headRounds.Round(ctx); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("head: %w", err)
		}
		if h2, err = headRounds.Round(ctx); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("head: %w", err)
		}
		if b2, err = baseRounds.Round(ctx); err != nil {
			return 0, 0, 0, 0, fmt.Errorf("base: %w", err)
		}
		return
	}

	start := time.Now()
	req.Progress.Phase(p.Name, "warmup")
	for warmupBlocks == 0 || (time.Since(start) < req.Warmup && time.Since(start) < req.Budget/10) {
		if _, _, _, _, err = block(); err != nil {
			break
		}
		warmupBlocks++
	}
	req.Progress.Phase(p.Name, "measuring")
	done := false
	for err == nil && !done {
		var b1, h1, b2, h2 float64
		b1, h1, b2, h2, err = block()
		if err != nil {
			break
		}
		for _, pair := range [][2]float64{{b1, h1}, {b2, h2}} {
			b, h := pair[0], pair[1]
			baseNs, headNs = append(baseNs, b), append(headNs, h)
			d = append(d, math.Log(max(h, 1)/max(b, 1)))
		}
		req.Progress.Step(len(d), seq.MaxPairs())
		if seq.Due(len(d)) {
			res, done = seq.Look(d)
		}
		if !done && time.Since(start) >= req.Budget {
			res, done = seq.Final(d), true
		}
	}
	if err != nil {
		// An interrupted or failing measurement decides nothing.
		res = undecided(seq, d)
	}
	bb.Samples, hb.Samples = baseNs, headNs
	bs := results.ComputeStats(baseNs, iters, 2*warmupBlocks)
	hs := results.ComputeStats(headNs, iters, 2*warmupBlocks)
	bb.Stats, hb.Stats = &bs, &hs
	if req.Profiler != nil && err == nil {
		req.Progress.Phase(p.Name, "profiling")
		baseT, headT := p.Base, p.Head
		if p.BaseGo != nil {
			bt, ht := p.BaseGo.Target(int64(iters)), p.HeadGo.Target(int64(iters))
			baseT, headT = &bt, &ht
		}
		req.Profiler.Profile(ctx, *baseT, env(basePF), &bb)
		req.Profiler.Profile(ctx, *headT, env(headPF), &hb)
	}
	u := sb.Usage()
	bb.Sandbox, hb.Sandbox = &u, &u
	r := res
	hb.Paired = &r
	if err != nil && ctx.Err() == nil {
		var re *walltime.RoundError
		side := "base"
		if strings.HasPrefix(err.Error(), "head:") {
			side = "head"
		}
		msg := err.Error()
		if errors.As(err, &re) {
			msg = side + ": " + re.Error()
		}
		if side == "base" {
			bb.Error = msg
		} else {
			hb.Error = msg
		}
	}
	return bb, hb, res, err
}

// pairSandbox makes the one sandbox both sides of a pair run in (same
// cgroup, same CPU), made for t; closeSB removes it.
func pairSandbox(req ABRequest, name string, t instruments.Target, pf string, index int) (sb sandbox.Sandbox, closeSB func(), err error) {
	sb, warnings, err := newSandbox(Request{NoSandbox: req.NoSandbox, Targets: []instruments.Target{t}}, t, pf, index)
	for _, w := range warnings {
		req.Progress.Warn(w)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox: %w", err)
	}
	return sb, func() {
		if cerr := sb.Close(); cerr != nil {
			req.Progress.Warn(fmt.Sprintf("%s: sandbox cleanup: %v", name, cerr))
		}
	}, nil
}

// undecided is the result of a pair whose measurement failed or was
// interrupted after the pairs d: inconclusive, with what d estimates.
func undecided(seq *results.Sequential, d []float64) results.PairedResult {
	res := seq.Final(nil)
	res.Verdict = results.PairedInconclusive
	res.Estimate = results.EstimatePaired(d, seq.Rule.LookConfidence())
	return res
}

// rounder runs one round of one side and returns its time per iteration
// in nanoseconds.
type rounder interface {
	Round(ctx context.Context) (float64, error)
	Close()
}

// execRounds times an exec target's command: one iteration per round.
type execRounds struct{ *walltime.Rounds }

func (r execRounds) Round(ctx context.Context) (float64, error) {
	d, err := r.Rounds.Round(ctx)
	return float64(d.Nanoseconds()), err
}

// goRounds runs a Go leaf benchmark a fixed number of iterations a round.
type goRounds struct{ *walltime.GoRounds }

func (goRounds) Close() {}

// goRoundTime is about how long a Go benchmark's round lasts: the base's
// iteration count for it is used on both sides.
const goRoundTime = 50 * time.Millisecond

// pairRounds prepares both sides' rounds, and says how many iterations
// each round runs.
func pairRounds(ctx context.Context, p ABPair, baseEnv, headEnv instruments.Env) (base, head rounder, iters int, err error) {
	if p.BaseGo != nil {
		n, err := walltime.CalibrateGo(ctx, *p.BaseGo, goRoundTime, baseEnv)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("base: %w", err)
		}
		return goRounds{walltime.NewGoRounds(*p.BaseGo, n, baseEnv)}, goRounds{walltime.NewGoRounds(*p.HeadGo, n, headEnv)}, int(n), nil
	}
	br, err := walltime.NewRounds(ctx, *p.Base, baseEnv)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %s: base: %v", ErrABSetup, p.Name, err)
	}
	hr, err := walltime.NewRounds(ctx, *p.Head, headEnv)
	if err != nil {
		br.Close()
		return nil, nil, 0, fmt.Errorf("%w: %s: head: %v", ErrABSetup, p.Name, err)
	}
	return execRounds{br}, execRounds{hr}, 1, nil
}

// pairedChange turns one measured pair into the comparison's entry.
func pairedChange(name string, bb, hb *results.Benchmark, res results.PairedResult, err error) results.BenchmarkChange {
	bc := results.BenchmarkChange{
		Instrument: results.Walltime, Name: name, URI: hb.URI, Metric: "median", Unit: "ns",
		Threshold: res.MinEffect, ImprovementThreshold: res.MinEffect,
		BaseRounds: len(bb.Samples), HeadRounds: len(hb.Samples),
		Change: results.Fraction(res.Estimate.Ratio - 1), Paired: &res,
		BaseBenchmark: bb, HeadBenchmark: hb,
	}
	if bb.Stats != nil {
		bc.Base = bb.Stats.MedianNs
	}
	if hb.Stats != nil {
		bc.Head = hb.Stats.MedianNs
	}
	bc.Verdict = res.Verdict.ComparisonVerdict()
	bc.Notes = append(bc.Notes, res.Note())
	if err != nil {
		bc.Verdict = results.VerdictFailed
		if bb.Error != "" {
			bc.Notes = append([]string{bb.Error}, bc.Notes...)
		} else if hb.Error != "" {
			bc.Notes = append([]string{hb.Error}, bc.Notes...)
		} else {
			bc.Notes = append([]string{err.Error()}, bc.Notes...)
		}
	}
	return bc
}

// oneSided reports a benchmark that exists on one side only.
func oneSided(p ABPair) results.BenchmarkChange {
	bc := results.BenchmarkChange{Instrument: results.Walltime, Name: p.Name, Metric: "median", Unit: "ns",
		Change: results.Fraction(math.NaN())}
	if !p.hasBase() {
		bc.Verdict = results.VerdictNew
		bc.Notes = []string{"only in the head: not measured"}
	} else {
		bc.Verdict = results.VerdictMissing
		bc.Notes = []string{"only in the base: not measured"}
	}
	return bc
}
