package server

import (
	"context"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/server/store"
)

// DefaultShardTimeout is how long the server waits for the other shards of a
// sharded run (runner `--shard I/N`) before reporting on what arrived.
const DefaultShardTimeout = 2 * time.Hour

func (s *Server) shardTimeout() time.Duration {
	if s.cfg.ShardTimeout > 0 {
		return s.cfg.ShardTimeout
	}
	return DefaultShardTimeout
}

// shardGate says whether the run hooks (the MR comment, the comparison) may
// run for r now: always for an unsharded run, and for a sharded one that is
// complete or past the shard timeout (a part arriving late updates what
// was reported); both are recorded in the database (ClaimShardReport) so
// that the shard sweep leaves the run alone. An incomplete run waits for
// its other parts, or for the sweep to report it after the timeout.
func (s *Server) shardGate(ctx context.Context, r *store.Run) bool {
	st := store.Shards(r, s.shardTimeout(), time.Now())
	if st == nil {
		return true
	}
	if !st.Complete && !st.TimedOut {
		s.log.Info("sharded run waits for its other parts", "run", r.ID, "missing", st.Missing,
			"timeout", (s.shardTimeout() - time.Since(r.CreatedAt)).Round(time.Second))
		return false
	}
	if st.TimedOut {
		s.log.Warn("sharded run reported incomplete", "run", r.ID, "missing", st.Missing)
	}
	if _, err := s.store.ClaimShardReport(ctx, r.ID); err != nil {
		s.log.Error("run hook", "run", r.ID, "err", err)
	}
	return true
}

// SweepShards runs the hooks of the sharded runs whose missing parts did
// not arrive within the shard timeout, every interval (and once at once)
// until ctx ends. The deadline and the report are in the database, not in
// this process: a restarted server reports the runs that timed out while
// it was down, and of several processes sharing a PostgreSQL database one
// reports each run.
func (s *Server) SweepShards(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.sweepShardsOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ShardSweepInterval is how often `codspeed serve` sweeps for timed-out
// sharded runs: a tenth of the timeout, between a second and a minute.
func ShardSweepInterval(timeout time.Duration) time.Duration {
	return min(max(timeout/10, time.Second), time.Minute)
}

func (s *Server) sweepShardsOnce(ctx context.Context) {
	ids, err := s.store.UnreportedShardRuns(ctx, time.Now().Add(-s.shardTimeout()))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("shard sweep", "err", err)
		}
		return
	}
	s.mu.RLock()
	hooks := append([]RunHook(nil), s.runHooks...)
	s.mu.RUnlock()
	for _, id := range ids {
		r, err := s.store.Run(ctx, id)
		if err != nil {
			s.log.Error("shard sweep", "run", id, "err", err)
			continue
		}
		st := store.Shards(r, s.shardTimeout(), time.Now())
		if st == nil || !(st.Complete || st.TimedOut) {
			continue
		}
		claimed, err := s.store.ClaimShardReport(ctx, id)
		if err != nil {
			s.log.Error("shard sweep", "run", id, "err", err)
			continue
		}
		if !claimed {
			continue // another process, or the last part's arrival, reported it
		}
		owner, name, _ := cutLast(r.Project, "/")
		p, err := s.store.Project(ctx, owner, name)
		if err != nil {
			s.log.Error("shard sweep", "run", id, "err", err)
			continue
		}
		if !st.Complete {
			s.log.Warn("sharded run reported incomplete", "run", id, "missing", st.Missing)
		}
		s.hooks.Add(1)
		func() {
			defer s.hooks.Done()
			hctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for _, h := range hooks {
				h(hctx, p, r)
			}
		}()
	}
}

// cutLast is strings.Cut at the last sep: a project's owner may hold
// slashes (GitLab groups), its name does not.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
