package server

import (
	"context"
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
// run for r now: always for an unsharded run and a complete sharded one; for
// an incomplete one, not yet: a timer (one per run and server process) calls
// them after the shard timeout, when the run is still incomplete then, with
// the missing parts logged and shown by the API and the run page.
func (s *Server) shardGate(p *store.Project, r *store.Run, hooks []RunHook) bool {
	st := store.Shards(r, s.shardTimeout(), time.Now())
	if st == nil || st.Complete {
		return true
	}
	if st.TimedOut {
		s.log.Warn("sharded run reported incomplete", "run", r.ID, "missing", st.Missing)
		return true
	}
	if _, loaded := s.shardTimers.LoadOrStore(r.ID, true); loaded {
		return false
	}
	wait := s.shardTimeout() - time.Since(r.CreatedAt)
	s.log.Info("sharded run waits for its other parts", "run", r.ID, "missing", st.Missing, "timeout", wait.Round(time.Second))
	time.AfterFunc(max(wait, 0), func() {
		s.shardTimers.Delete(r.ID)
		s.hooks.Add(1)
		defer s.hooks.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		now, err := s.store.Run(ctx, r.ID)
		if err != nil {
			s.log.Error("run hook", "run", r.ID, "err", err)
			return
		}
		st := store.Shards(now, s.shardTimeout(), time.Now())
		if st == nil || st.Complete {
			return // the last part's arrival ran the hooks
		}
		s.log.Warn("sharded run reported incomplete", "run", r.ID, "missing", st.Missing)
		for _, h := range hooks {
			h(ctx, p, now)
		}
	})
	return false
}
