package store

import (
	"context"
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

// UnreportedShardRuns lists the sharded runs (any project) whose hooks have
// not been run for them (ClaimShardReport) and that were created at or
// before created: the ones a shard sweep looks at.
func (s *Store) UnreportedShardRuns(ctx context.Context, created time.Time) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id FROM runs WHERE shard_reported_at = 0 AND shard_total > 0 AND created_at <= $1 ORDER BY created_at, id`, micros(created))
	if err != nil {
		return nil, fmt.Errorf("unreported sharded runs: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("unreported sharded runs: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unreported sharded runs: %w", err)
	}
	return ids, nil
}

// ClaimShardReport records that the hooks run now for the sharded run id
// (complete, or past the shard timeout). It returns true for the first
// claim only: of several server processes sharing a database, and across
// restarts, one runs the hooks of a timed-out run.
func (s *Store) ClaimShardReport(ctx context.Context, id string) (bool, error) {
	r, err := s.write.ExecContext(ctx, `UPDATE runs SET shard_reported_at = $1 WHERE id = $2 AND shard_reported_at = 0`, micros(s.Now()), id)
	if err != nil {
		return false, fmt.Errorf("claim the shard report of run %s: %w", id, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim the shard report of run %s: %w", id, err)
	}
	return n == 1, nil
}
