package shard

import (
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
func Apply(targets []instruments.Target, flag string, total int, getenv func(string) string, durations func() (map[string]time.Duration, error), w io.Writer) ([]instruments.Target, *results.ShardInfo, error) {
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
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	plan := Split(spec, names, recorded)
	keys := Keys(names)
	info := &results.ShardInfo{Index: spec.Index, Total: spec.Total, Source: spec.Source, Balanced: plan.Balanced,
		Ran: []string{}, Skipped: []string{}}
	kept := make([]instruments.Target, 0, len(plan.Run))
	for _, i := range plan.Run {
		kept = append(kept, targets[i])
		info.Ran = append(info.Ran, keys[i])
	}
	for _, i := range plan.Skipped {
		info.Skipped = append(info.Skipped, keys[i])
	}
	how := "by name hash"
	if plan.Balanced {
		how = "balanced on recorded durations"
	}
	fmt.Fprintf(w, "shard %s (%s, %s): runs %d of %d targets: %s\n", spec, spec.Source, how, len(kept), len(targets), list(info.Ran))
	fmt.Fprintf(w, "shard %s: skips %d (run by the other shards): %s\n", spec, len(info.Skipped), list(info.Skipped))
	return kept, info, nil
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
