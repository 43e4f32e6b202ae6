package store

import (
	"fmt"
	"slices"
	"time"
)

// ShardStatus is how far a sharded run has arrived: every shard 1..Total is
// expected once per mode the run measured.
type ShardStatus struct {
	Total int `json:"total"`
	// Arrived are the shards with at least one part, ascending.
	Arrived []int `json:"arrived"`
	// Missing names each expected part not yet here: "shard 2/3" when
	// nothing of that shard arrived, "shard 2/3 (simulation)" for one of
	// its modes.
	Missing  []string `json:"missing"`
	Complete bool     `json:"complete"`
	// TimedOut is true when parts are missing and the run's first part
	// arrived longer than the server's shard timeout ago.
	TimedOut bool `json:"timed_out"`
}

// Shards is the run's shard status, nil when no part is a shard.
func Shards(r *Run, timeout time.Duration, now time.Time) *ShardStatus {
	total := 0
	for _, p := range r.Parts {
		total = max(total, p.ShardTotal)
	}
	if total == 0 {
		return nil
	}
	var modes []string
	have := map[int]map[string]bool{}
	for _, p := range r.Parts {
		if p.Shard == 0 {
			continue
		}
		if have[p.Shard] == nil {
			have[p.Shard] = map[string]bool{}
		}
		have[p.Shard][p.Mode] = true
		if !slices.Contains(modes, p.Mode) {
			modes = append(modes, p.Mode)
		}
	}
	st := &ShardStatus{Total: total, Arrived: []int{}, Missing: []string{}}
	for i := 1; i <= total; i++ {
		if have[i] == nil {
			st.Missing = append(st.Missing, fmt.Sprintf("shard %d/%d", i, total))
			continue
		}
		st.Arrived = append(st.Arrived, i)
		for _, m := range modes {
			if !have[i][m] {
				st.Missing = append(st.Missing, fmt.Sprintf("shard %d/%d (%s)", i, total, m))
			}
		}
	}
	st.Complete = len(st.Missing) == 0
	first := r.CreatedAt
	for _, p := range r.Parts {
		if first.IsZero() || (!p.ReceivedAt.IsZero() && p.ReceivedAt.Before(first)) {
			first = p.ReceivedAt
		}
	}
	st.TimedOut = !st.Complete && !first.IsZero() && now.Sub(first) >= timeout
	return st
}
