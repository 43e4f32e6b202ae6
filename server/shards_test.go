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

// TestShardedRunHooks: the hooks (the MR comment) run once every shard is
// there, not before; a run still missing a part after the shard timeout
// runs them then, with what arrived.
func TestShardedRunHooks(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	token, err := st.CreateToken(context.Background(), "acme", "widget")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: st, ShardTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := map[string][]int{} // CI run -> benchmarks seen per call
	srv.OnRun(func(_ context.Context, _ *store.Project, r *store.Run) {
		mu.Lock()
		defer mu.Unlock()
		calls[r.CIRunID] = append(calls[r.CIRunID], r.Benchmarks)
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	seen := func(run string) []int {
		srv.WaitHooks(context.Background())
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), calls[run]...)
	}

	uploadShard(t, hs.URL, token, "p1", 1, 3)
	uploadShard(t, hs.URL, token, "p1", 3, 3)
	if c := seen("p1"); len(c) != 0 {
		t.Fatalf("hooks ran with 2 of 3 shards: %v", c)
	}
	uploadShard(t, hs.URL, token, "p1", 2, 3)
	if c := seen("p1"); fmt.Sprint(c) != "[3]" {
		t.Fatalf("hooks after the last shard: %v, want one call with 3 benchmarks", c)
	}

	uploadShard(t, hs.URL, token, "p2", 1, 2)
	deadline := time.Now().Add(10 * time.Second)
	for len(seen("p2")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if c := seen("p2"); fmt.Sprint(c) != "[1]" {
		t.Fatalf("hooks after the shard timeout: %v, want one call with what arrived", c)
	}
	// The timer fires once, not again.
	time.Sleep(700 * time.Millisecond)
	if c := seen("p2"); len(c) != 1 {
		t.Fatalf("hooks ran %d times after the timeout", len(c))
	}
}
