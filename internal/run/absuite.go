package run

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/walltime"
	"github.com/codspeed-go/codspeed-go/results"
)

// PairSuites pairs the entrypoints with their own harness (CodSpeed
// integrations) of two trees by target name, as PairTargets pairs exec
// targets.
func PairSuites(base, head []instruments.Target) []ABPair {
	return pairBy(base, head, func(t *instruments.Target) string { return t.Name },
		func(name string, b, h *instruments.Target) ABPair {
			return ABPair{Name: name, BaseSuite: b, HeadSuite: h}
		})
}

// suiteBench is one benchmark of a suite pair: its per-run figures on each
// side and its own sequential rule.
type suiteBench struct {
	name, uri    string
	seq          *results.Sequential
	base, head   []float64
	d            []float64
	res          results.PairedResult
	done         bool
	inBase, inHd bool
}

// measureSuitePair interleaves the runs of two entrypoints with their own
// harness in ABBA order in one sandbox. A round is one whole run of a suite,
// and each benchmark's figure in it is what its integration measured (the
// median time per iteration); every benchmark has its own sequential rule,
// and runs go on until each is decided or the budget, Budget per benchmark,
// is spent. A benchmark reported by one side only is new or missing.
func measureSuitePair(ctx context.Context, req ABRequest, p ABPair, basePF, headPF string, index int) (bbs, hbs []results.Benchmark, changes []results.BenchmarkChange, err error) {
	if err := req.Rule.Check(); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrABSetup, err)
	}
	sb, closeSB, err := pairSandbox(req, p.Name, *p.BaseSuite, basePF, index)
	if err != nil {
		return nil, nil, []results.BenchmarkChange{suiteFailed(p, err)}, err
	}
	defer closeSB()
	// The node stand-in gives CodSpeed's Node integrations the V8 flags
	// they ask for, as in a run.
	nodeDir, err := prepareNodeWrapper()
	if err != nil {
		req.Progress.Warn(err.Error())
	}
	defer func() {
		if nodeDir != "" {
			os.RemoveAll(nodeDir)
		}
	}()
	env := func(pf string) instruments.Env {
		return instruments.Env{ProfileFolder: pf, Launcher: sb,
			BaseEnv: withRuntimes(BenchmarkEnv(results.Walltime, pf), results.Walltime, instruments.Entrypoint, nodeDir),
			Stdout:  io.Discard, Stderr: io.Discard, Progress: req.Progress}
	}
	baseRounds := walltime.NewSuiteRounds(*p.BaseSuite, env(basePF))
	headRounds := walltime.NewSuiteRounds(*p.HeadSuite, env(headPF))

	var order []*suiteBench
	byURI := map[string]*suiteBench{}
	bench := func(b results.Benchmark) *suiteBench {
		sbn := byURI[b.URI]
		if sbn == nil {
			seq, _ := results.NewSequential(req.Rule) // the rule was checked above
			sbn = &suiteBench{name: b.Name, uri: b.URI, seq: seq}
			byURI[b.URI] = sbn
			order = append(order, sbn)
		}
		return sbn
	}
	figures := func(bs []results.Benchmark) map[string]float64 {
		m := map[string]float64{}
		for _, b := range bs {
			m[b.URI] = b.Stats.MedianNs // Round returns measured benchmarks only
		}
		return m
	}
	// block runs base, head, head, base and adds two pairs to every
	// benchmark both sides reported in all four runs.
	block := func(record bool) error {
		var runs [4]map[string]float64
		for i, r := range []*walltime.SuiteRounds{baseRounds, headRounds, headRounds, baseRounds} {
			bs, err := r.Round(ctx)
			side := "base"
			if i == 1 || i == 2 {
				side = "head"
			}
			if err != nil {
				return fmt.Errorf("%s: %w", side, err)
			}
			runs[i] = figures(bs)
			for _, b := range bs {
				sbn := bench(b)
				sbn.inBase = sbn.inBase || side == "base"
				sbn.inHd = sbn.inHd || side == "head"
			}
		}
		if !record {
			return nil
		}
		for _, sbn := range order {
			if sbn.done {
				continue
			}
			b1, ok1 := runs[0][sbn.uri]
			h1, ok2 := runs[1][sbn.uri]
			h2, ok3 := runs[2][sbn.uri]
			b2, ok4 := runs[3][sbn.uri]
			if !ok1 || !ok2 || !ok3 || !ok4 {
				continue
			}
			for _, pair := range [][2]float64{{b1, h1}, {b2, h2}} {
				sbn.base, sbn.head = append(sbn.base, pair[0]), append(sbn.head, pair[1])
				sbn.d = append(sbn.d, math.Log(pair[1]/pair[0]))
			}
			if sbn.seq.Due(len(sbn.d)) {
				sbn.res, sbn.done = sbn.seq.Look(sbn.d)
			}
		}
		return nil
	}
	open := func() []*suiteBench {
		var u []*suiteBench
		for _, sbn := range order {
			if !sbn.done && sbn.inBase && sbn.inHd {
				u = append(u, sbn)
			}
		}
		return u
	}

	start := time.Now()
	req.Progress.Phase(p.Name, "warmup")
	warmupBlocks := 0
	for warmupBlocks == 0 || (time.Since(start) < req.Warmup && time.Since(start) < req.Budget/10) {
		if err = block(false); err != nil {
			break
		}
		warmupBlocks++
	}
	// The budget is per benchmark: a suite's benchmarks are measured
	// together, so the suite gets it once for each.
	budget := req.Budget * time.Duration(max(1, len(open())))
	req.Progress.Phase(p.Name, "measuring")
	for err == nil && len(open()) > 0 {
		if err = block(true); err != nil {
			break
		}
		u := open()
		least := math.MaxInt
		for _, sbn := range u {
			least = min(least, len(sbn.d))
		}
		if len(u) > 0 {
			req.Progress.Step(least, u[0].seq.MaxPairs())
		}
		if len(u) > 0 && time.Since(start) >= budget {
			for _, sbn := range u {
				sbn.res, sbn.done = sbn.seq.Final(sbn.d), true
			}
		}
	}

	for _, sbn := range order {
		if !sbn.inBase || !sbn.inHd {
			one := ABPair{Name: sbn.name}
			if sbn.inBase {
				one.BaseSuite = p.BaseSuite
			} else {
				one.HeadSuite = p.HeadSuite
			}
			changes = append(changes, oneSided(one))
			continue
		}
		if !sbn.done {
			// A failing or interrupted suite decides nothing more.
			sbn.res = undecided(sbn.seq, sbn.d)
		}
		bb := results.Benchmark{Name: sbn.name, URI: sbn.uri, Samples: sbn.base,
			Command: &results.Command{Line: p.BaseSuite.Command, Args: p.BaseSuite.Args, Dir: p.BaseSuite.Dir}}
		hb := results.Benchmark{Name: sbn.name, URI: sbn.uri, Samples: sbn.head,
			Command: &results.Command{Line: p.HeadSuite.Command, Args: p.HeadSuite.Args, Dir: p.HeadSuite.Dir}}
		bs, hs := results.ComputeStats(sbn.base, 1, 0), results.ComputeStats(sbn.head, 1, 0)
		bb.Stats, hb.Stats = &bs, &hs
		u := sb.Usage()
		bb.Sandbox, hb.Sandbox = &u, &u
		r := sbn.res
		hb.Paired = &r
		if err != nil && ctx.Err() == nil {
			if strings.HasPrefix(err.Error(), "head:") {
				hb.Error = err.Error()
			} else {
				bb.Error = err.Error()
			}
		}
		bbs, hbs = append(bbs, bb), append(hbs, hb)
	}
	if req.Profiler != nil && err == nil && len(bbs) > 0 {
		req.Progress.Phase(p.Name, "profiling")
		req.Profiler.ProfileSuite(ctx, *p.BaseSuite, env(basePF), bbs)
		req.Profiler.ProfileSuite(ctx, *p.HeadSuite, env(headPF), hbs)
	}
	if err != nil && len(order) == 0 && ctx.Err() == nil {
		changes = append(changes, suiteFailed(p, err))
	}
	for i := range bbs {
		bc := pairedChange(bbs[i].Name, &bbs[i], &hbs[i], *hbs[i].Paired, err)
		attachFolded(&bc, &bbs[i], &hbs[i], basePF, headPF)
		changes = append(changes, bc)
	}
	return bbs, hbs, changes, err
}

// suiteFailed is the entry of a suite that failed before any of its
// benchmarks was reported.
func suiteFailed(p ABPair, err error) results.BenchmarkChange {
	return results.BenchmarkChange{Instrument: results.Walltime, Name: p.Name, Metric: "median", Unit: "ns",
		Change: results.Fraction(math.NaN()), Verdict: results.VerdictFailed, Notes: []string{err.Error()}}
}
