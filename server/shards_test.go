package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/upload"
	"github.com/codspeed-go/codspeed-go/server/store"
	"github.com/codspeed-go/codspeed-go/server/store/storetest"
)

// uploadShard uploads shard i of n of CI run ciRun: one walltime benchmark
// of its own, with the runner's own upload client.
func uploadShard(t *testing.T, url, token, ciRun string, i, n int) {
	t.Helper()
	dir := t.TempDir()
	f := &results.File{
		Creator:    results.Creator{Name: "codspeed-go", Version: "test", Pid: 1},
		Instrument: results.Instrument{Type: results.Walltime},
		Benchmarks: []results.Benchmark{{Name: fmt.Sprintf("b%d", i), URI: fmt.Sprintf("bench::b%d", i),
			Stats: &results.Stats{MinNs: 1, MaxNs: 3, MeanNs: 2, MedianNs: 2, Q1Ns: 1.5, Q3Ns: 2.5, Rounds: 3, IterPerRound: 1}}},
	}
	if _, err := results.WriteResults(dir, f); err != nil {
		t.Fatal(err)
	}
	b, err := upload.Archive(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	md := upload.Metadata{Version: upload.MetadataVersion, ProfileMd5: b.MD5,
		Runner:         upload.Runner{Name: "codspeed-go", Version: "test", Instruments: []string{}, Executor: "walltime"},
		RunEnvironment: "GITLAB_CI", RepositoryProvider: "GITLAB", CommitHash: "0123456789abcdef0123456789abcdef01234567",
		Ref: "refs/heads/main", Owner: "acme", Repository: "widget", Event: "push",
		RunPart: &upload.RunPart{RunID: ciRun, RunPartID: fmt.Sprintf("%s-walltime-shard-%d-of-%d", ciRun, i, n), JobName: fmt.Sprintf("bench %d/%d", i, n),
			Metadata: map[string]string{"mode": "walltime", "shard": fmt.Sprint(i), "shardTotal": fmt.Sprint(n)}}}
	if _, err := upload.Upload(context.Background(), upload.Options{URL: url + "/upload", Token: token, Retries: -1}, md, b); err != nil {
		t.Fatal(err)
	}
}

// shardServer is a server on db with a hook recording, per CI run, the
// benchmarks the run held at each call; sweep starts its shard sweep
// (stopped with the test).
type shardServer struct {
	srv   *Server
	url   string
	mu    sync.Mutex
	calls map[string][]int
}

func newShardServer(t *testing.T, st *store.Store, timeout time.Duration, sweep bool) *shardServer {
	t.Helper()
	srv, err := New(Config{Store: st, ShardTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	ss := &shardServer{srv: srv, calls: map[string][]int{}}
	srv.OnRun(func(_ context.Context, _ *store.Project, r *store.Run) {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		ss.calls[r.CIRunID] = append(ss.calls[r.CIRunID], r.Benchmarks)
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	ss.url = hs.URL
	if sweep {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { srv.SweepShards(ctx, 50*time.Millisecond); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return ss
}

func (ss *shardServer) seen(run string) []int {
	ss.srv.WaitHooks(context.Background())
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return append([]int(nil), ss.calls[run]...)
}

// waitSeen polls until run's hooks were called or 10 s pass.
func (ss *shardServer) waitSeen(run string) []int {
	deadline := time.Now().Add(10 * time.Second)
	for len(ss.seen(run)) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	return ss.seen(run)
}

// shardStores runs f on a fresh SQLite store and, when the test cluster is
// there (always in CI), a fresh PostgreSQL one; open opens the same
// database again (another process, or the same one restarted).
func shardStores(t *testing.T, f func(t *testing.T, open func() *store.Store)) {
	dbs := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite")}
	if u := storetest.PostgresURL(t); u != "" {
		dbs["postgres"] = u
	}
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) {
			f(t, func() *store.Store {
				st, err := store.Open(context.Background(), db, "")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			})
		})
	}
}

// TestShardedRunHooks: the hooks (the MR comment) run once every shard is
// there, not before; a run still missing a part after the shard timeout
// has them run by the shard sweep, once, with what arrived.
func TestShardedRunHooks(t *testing.T) {
	shardStores(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		token, err := st.CreateToken(context.Background(), "acme", "widget")
		if err != nil {
			t.Fatal(err)
		}
		ss := newShardServer(t, st, 500*time.Millisecond, true)
		uploadShard(t, ss.url, token, "p1", 1, 3)
		uploadShard(t, ss.url, token, "p1", 3, 3)
		if c := ss.seen("p1"); len(c) != 0 {
			t.Fatalf("hooks ran with 2 of 3 shards: %v", c)
		}
		uploadShard(t, ss.url, token, "p1", 2, 3)
		if c := ss.seen("p1"); fmt.Sprint(c) != "[3]" {
			t.Fatalf("hooks after the last shard: %v, want one call with 3 benchmarks", c)
		}

		uploadShard(t, ss.url, token, "p2", 1, 2)
		if c := ss.waitSeen("p2"); fmt.Sprint(c) != "[1]" {
			t.Fatalf("hooks after the shard timeout: %v, want one call with what arrived", c)
		}
		// The sweep reports once, not at every pass; p1, complete, never.
		time.Sleep(700 * time.Millisecond)
		if c := ss.seen("p2"); len(c) != 1 {
			t.Fatalf("hooks ran %d times after the timeout", len(c))
		}
		if c := ss.seen("p1"); len(c) != 1 {
			t.Fatalf("the sweep ran the hooks of a complete run again: %v", c)
		}
		// A part arriving late updates what was reported.
		uploadShard(t, ss.url, token, "p2", 2, 2)
		if c := ss.seen("p2"); fmt.Sprint(c) != "[1 2]" {
			t.Fatalf("hooks after the late part: %v, want [1 2]", c)
		}
	})
}

// TestShardTimeoutSurvivesRestart: the deadline is in the database. A
// server that stops while a sharded run waits (no sweep ran it) is
// replaced by another on the same database: its sweep reports the run once
// the timeout is past, and of two servers sweeping one database, one does.
func TestShardTimeoutSurvivesRestart(t *testing.T) {
	shardStores(t, func(t *testing.T, open func() *store.Store) {
		st := open()
		token, err := st.CreateToken(context.Background(), "acme", "widget")
		if err != nil {
			t.Fatal(err)
		}
		first := newShardServer(t, st, 300*time.Millisecond, false)
		uploadShard(t, first.url, token, "r1", 1, 3)
		uploadShard(t, first.url, token, "r1", 2, 3)
		if c := first.seen("r1"); len(c) != 0 {
			t.Fatalf("hooks ran with 2 of 3 shards: %v", c)
		}
		time.Sleep(400 * time.Millisecond) // past the timeout, with no sweep running

		// Two processes (two stores, as two servers open the database)
		// start sweeping at once.
		a := newShardServer(t, open(), 300*time.Millisecond, true)
		b := newShardServer(t, open(), 300*time.Millisecond, true)
		deadline := time.Now().Add(10 * time.Second)
		for len(a.seen("r1"))+len(b.seen("r1")) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // several more sweeps of both
		got := append(a.seen("r1"), b.seen("r1")...)
		if fmt.Sprint(got) != "[2]" {
			t.Fatalf("after the restart: hook calls %v (a %v, b %v), want one call with the 2 benchmarks that arrived", got, a.seen("r1"), b.seen("r1"))
		}
		run, err := st.Run(context.Background(), store.RunID(mustProject(t, st), "r1"))
		if err != nil {
			t.Fatal(err)
		}
		if sh := store.Shards(run, 300*time.Millisecond, time.Now()); sh == nil || !sh.TimedOut || fmt.Sprint(sh.Missing) != "[shard 3/3]" {
			t.Fatalf("shard status %+v", sh)
		}
	})
}

func mustProject(t *testing.T, st *store.Store) *store.Project {
	t.Helper()
	p, err := st.Project(context.Background(), "acme", "widget")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
