package shard

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// Apply keeps this shard's share of targets. flag is --shard ("" when not
// given: the CI engine's variables are read through getenv; the flag wins
// over them), total is --shard-total (0 when not given). durations, when not
// nil, is called once the suite is known to be sharded, for the recorded
// durations by target name (nil: partition by hash). It says on w what the
// shard runs and skips. Without a shard it returns targets and nil.
//
// A `go test -bench` target is split into its top-level Benchmark functions
// (found by `go list` and the test files, as the instruments find them), each
// placed on its own: the shard runs the target narrowed to its share, one
// target per package (-bench '^(BenchmarkA|BenchmarkB)$' and the pattern's
// deeper levels).
func Apply(ctx context.Context, targets []instruments.Target, flag string, total int, getenv func(string) string, durations func() (map[string]time.Duration, error), w io.Writer) ([]instruments.Target, *results.ShardInfo, error) {
	var spec Spec
	var err error
	switch {
	case flag != "":
		if spec, err = Parse(flag); err != nil {
			return nil, nil, fmt.Errorf("--shard: %w", err)
		}
		if total != 0 && total != spec.Total {
			return nil, nil, fmt.Errorf("--shard %s and --shard-total %d disagree", spec, total)
		}
	default:
		var ok bool
		spec, ok, err = Detect(getenv, total)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			if total != 0 {
				return nil, nil, fmt.Errorf("--shard-total %d without a shard index: give --shard I/N, or run in a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)", total)
			}
			return targets, nil, nil
		}
	}
	var recorded map[string]time.Duration
	if durations != nil {
		if recorded, err = durations(); err != nil {
			return nil, nil, err
		}
	}
	var units []unit
	for i, t := range targets {
		var us []unit
		if spec.Total > 1 { // one shard runs the targets as they are
			if us, err = goUnits(ctx, i, t); err != nil {
				return nil, nil, err
			}
		}
		if len(us) == 0 {
			us = []unit{{key: t.Name, target: i}}
		}
		units = append(units, us...)
	}
	names := make([]string, len(units))
	for i, u := range units {
		names[i] = u.key
	}
	plan := Split(spec, names, recorded)
	keys := plan.Keys
	info := &results.ShardInfo{Index: spec.Index, Total: spec.Total, Source: spec.Source, Balanced: plan.Balanced,
		Ran: []string{}, Skipped: []string{}}
	run := map[int]bool{}
	for _, i := range plan.Run {
		run[i] = true
		info.Ran = append(info.Ran, keys[i])
	}
	for _, i := range plan.Skipped {
		info.Skipped = append(info.Skipped, keys[i])
	}
	// The kept targets, in config order; a Go target's share, one target
	// per package in `go list` order.
	var kept []instruments.Target
	for ti, t := range targets {
		var pkgs []string
		byPkg := map[string][]string{}
		whole := false
		for ui, u := range units {
			if u.target != ti || !run[ui] {
				continue
			}
			if u.pkg == "" {
				whole = true
				continue
			}
			if byPkg[u.pkg] == nil {
				pkgs = append(pkgs, u.pkg)
			}
			byPkg[u.pkg] = append(byPkg[u.pkg], u.bench)
		}
		if whole {
			kept = append(kept, t)
		}
		for _, p := range pkgs {
			kept = append(kept, goTarget(t, p, byPkg[p], len(pkgs) > 1))
		}
	}
	how := "by name hash"
	if plan.Balanced {
		how = "balanced on recorded durations"
	}
	fmt.Fprintf(w, "shard %s (%s, %s): runs %d of %d targets and Go benchmarks: %s\n", spec, spec.Source, how, len(info.Ran), len(units), list(info.Ran))
	fmt.Fprintf(w, "shard %s: skips %d (run by the other shards): %s\n", spec, len(info.Skipped), list(info.Skipped))
	return kept, info, nil
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
