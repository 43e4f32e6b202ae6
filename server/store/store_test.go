package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/server/store/storetest"
	"github.com/pressly/goose/v3"
)

// openTest opens a fresh database: SQLite in a temporary folder, and when
// CODSPEED_TEST_POSTGRES_URL is set (.ci/run sets it), a fresh PostgreSQL
// database too; each test runs on both.
func openTest(t *testing.T) map[string]*Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*Store{}
	s, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	out[SQLite] = s
	if url := storetest.PostgresURL(t); url != "" {
		pg, err := Open(ctx, url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		out[Postgres] = pg
	}
	return out
}

func wallFile(start time.Time, benches ...results.Benchmark) *results.File {
	return &results.File{
		Creator:    results.Creator{Name: "test", Version: "1", Pid: 1},
		Instrument: results.Instrument{Type: results.Walltime},
		Run:        &results.RunInfo{ID: "local", Mode: results.Walltime, StartedAt: start},
		Benchmarks: benches,
	}
}

func wallBench(name string, median float64) results.Benchmark {
	return results.Benchmark{Name: name, URI: "exec_harness::" + name, Stats: &results.Stats{MedianNs: median, Q1Ns: median * 0.9, Q3Ns: median * 1.1, Rounds: 10},
		Samples: []float64{median, median}, Profile: &results.Profile{Event: "cpu-clock", Folded: "perf/" + name + ".folded"}}
}

func TestStoreRoundTrip(t *testing.T) {
	for dialect, s := range openTest(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			s.Now = func() time.Time { clock = clock.Add(time.Second); return clock }

			token, err := s.CreateToken(ctx, "acme/tools", "widget")
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Authenticate(ctx, token)
			if err != nil || p.Slug() != "acme/tools/widget" {
				t.Fatalf("authenticate: %v %+v", err, p)
			}
			for _, bad := range []string{"", "x", token + "x", strings.Replace(token, token[len(token)-3:], "AAA", 1), "cst_000000000000_abc"} {
				if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrBadToken) {
					t.Errorf("token %q accepted: %v", bad, err)
				}
			}

			commit := func(ciRun, part, branch, sha string, median float64) *CommitResult {
				t.Helper()
				res, err := s.CommitPart(ctx, &NewPart{
					ProjectID: p.ID, CIRunID: ciRun, PartID: part, ProfileMD5: fmt.Sprintf("md5-%s-%v", sha, median),
					Mode: results.Walltime, Executor: "walltime", RunnerName: "codspeed-go", Metadata: []byte(`{}`),
					Commit: sha, Branch: branch, Ref: "refs/heads/" + branch, Event: "push", StartedAt: clock,
					Files:     []*results.File{wallFile(clock, wallBench("sort", median), wallBench("<script>", 2*median))},
					Artifacts: map[string][]byte{"perf/sort.folded": []byte("main;sort 10\n")},
				})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			r1 := commit("ci-1", "ci-1-walltime", "main", "aaaa1111", 100)
			r2 := commit("ci-2", "ci-2-walltime", "main", "bbbb2222", 101)
			r3 := commit("ci-3", "ci-3-walltime", "feature", "cccc3333", 150)
			if !r1.NewRun || r1.Duplicate || r1.RunID == r2.RunID {
				t.Fatalf("runs: %+v %+v", r1, r2)
			}
			// A retried part is stored once; a second part joins the run.
			if again := commit("ci-2", "ci-2-walltime", "main", "bbbb2222", 101); !again.Duplicate || again.RunID != r2.RunID {
				t.Fatalf("retry: %+v", again)
			}
			if joined := commit("ci-2", "ci-2-walltime-1", "main", "bbbb2222", 102); joined.NewRun || joined.RunID != r2.RunID {
				t.Fatalf("second part: %+v", joined)
			}
			// The same archive under another part id is a retry too.
			if again := commit("ci-2", "ci-2-walltime-9", "main", "bbbb2222", 101); !again.Duplicate {
				t.Fatalf("same archive, other part id: %+v", again)
			}
			// The same part id with other content is a conflict.
			_, err = s.CommitPart(ctx, &NewPart{ProjectID: p.ID, CIRunID: "ci-2", PartID: "ci-2-walltime", ProfileMD5: "other", Metadata: []byte(`{}`)})
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("conflict: %v", err)
			}

			ps, err := s.Projects(ctx)
			if err != nil || len(ps) != 1 || ps[0].Runs != 3 || ps[0].DefaultBranch != "main" {
				t.Fatalf("projects: %v %+v", err, ps)
			}
			runs, err := s.Runs(ctx, p, RunFilter{})
			if err != nil || len(runs) != 3 || runs[0].ID != r3.RunID || runs[2].ID != r1.RunID {
				t.Fatalf("runs newest first: %v %+v", err, runs)
			}
			runs, err = s.Runs(ctx, p, RunFilter{Branch: "main", Limit: 1})
			if err != nil || len(runs) != 1 || runs[0].ID != r2.RunID || runs[0].Benchmarks != 4 {
				t.Fatalf("main runs: %v %+v", err, runs)
			}
			older, err := s.Runs(ctx, p, RunFilter{Branch: "main", Before: r2.RunID})
			if err != nil || len(older) != 1 || older[0].ID != r1.RunID {
				t.Fatalf("paging: %v %+v", err, older)
			}
			run, err := s.Run(ctx, r2.RunID)
			if err != nil || len(run.Parts) != 2 || run.Commit != "bbbb2222" || run.Status != results.StatusComplete || strings.Join(run.Modes, ",") != "walltime" {
				t.Fatalf("run: %v %+v", err, run)
			}
			bs, err := s.Benchmarks(ctx, r1.RunID)
			if err != nil || len(bs) != 2 || bs[0].Name != "sort" || bs[0].Stats.MedianNs != 100 || bs[0].Instrument != results.Walltime || len(bs[0].Samples) != 2 {
				t.Fatalf("benchmarks: %v %+v", err, bs)
			}
			data, err := s.Artifact(ctx, r1.RunID, bs[0].PartID, bs[0].Profile.Folded)
			if err != nil || string(data) != "main;sort 10\n" {
				t.Fatalf("artifact: %v %q", err, data)
			}
			if _, err := s.Artifact(ctx, r1.RunID, bs[0].PartID, "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing artifact: %v", err)
			}

			for ref, want := range map[string]string{r1.RunID: r1.RunID, "main": r2.RunID, "refs/heads/feature": r3.RunID, "aaaa1111": r1.RunID, "cccc": r3.RunID} {
				got, err := s.ResolveRef(ctx, p, ref)
				if err != nil || got.ID != want {
					t.Errorf("resolve %s: %v %+v, want %s", ref, err, got, want)
				}
			}
			if _, err := s.ResolveRef(ctx, p, "nosuch"); !errors.Is(err, ErrNotFound) {
				t.Errorf("resolve nosuch: %v", err)
			}

			hist, err := s.History(ctx, p, "main", HistoryFilter{})
			if err != nil || len(hist) != 2 {
				t.Fatalf("history: %v %+v", err, hist)
			}
			h := hist[1] // by name: "<script>" sorts before "sort"
			if h.Name != "sort" || len(h.Points) != 2 || *h.Points[0].MedianNs != 100 || *h.Points[1].MedianNs != 102 || h.Points[0].Commit != "aaaa1111" || h.Points[0].Instructions != nil {
				t.Fatalf("sort history: %+v", h)
			}
			one, err := s.History(ctx, p, "main", HistoryFilter{Instrument: results.Walltime, URI: "exec_harness::sort", Limit: 1})
			if err != nil || len(one) != 1 || len(one[0].Points) != 1 || one[0].Points[0].RunID != r2.RunID {
				t.Fatalf("limited history: %v %+v", err, one)
			}

			if err := s.SetDefaultBranch(ctx, p, "feature"); err != nil {
				t.Fatal(err)
			}
			if b, err := s.DefaultBranch(ctx, p); err != nil || b != "feature" {
				t.Fatalf("default branch %q %v", b, err)
			}
			if err := s.SetSetting(ctx, p, "gitlab.token", "x"); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Setting(ctx, p, "gitlab.token"); err != nil || v != "x" {
				t.Fatalf("setting %q %v", v, err)
			}
		})
	}
}

func TestReopenKeepsRuns(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	token, err := s.CreateToken(ctx, "acme", "w")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, "sqlite:"+filepath.Join(dir, "codspeed.db"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Authenticate(ctx, token); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(ctx); err != nil || v < 1 {
		t.Fatalf("schema version %d %v", v, err)
	}
}

func TestLocation(t *testing.T) {
	for _, c := range []struct{ db, data, dialect, dsn string }{
		{"", "/d", SQLite, "/d/codspeed.db"},
		{"sqlite:///x/y.db", "", SQLite, "/x/y.db"},
		{"sqlite:y.db", "", SQLite, "y.db"},
		{"/x.db", "", SQLite, "/x.db"},
		{"postgres://u:p@h/db", "", Postgres, "postgres://u:p@h/db"},
	} {
		d, dsn, err := Location(c.db, c.data)
		if err != nil || d != c.dialect || dsn != c.dsn {
			t.Errorf("%q %q: %s %s %v", c.db, c.data, d, dsn, err)
		}
	}
	if _, _, err := Location("mysql://x", ""); err == nil {
		t.Error("mysql accepted")
	}
	if got := redactURL("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Error(got)
	}
}

func TestSplitProject(t *testing.T) {
	for slug, ok := range map[string]bool{"a/b": true, "g/sub/b": true, "a": false, "/b": false, "a/": false, "a//b": false, " a/b": false, "a/b\n": false} {
		_, _, err := SplitProject(slug)
		if (err == nil) != ok {
			t.Errorf("%q: %v", slug, err)
		}
	}
}

// TestShardColumnsMigration: a database stored before the shard columns
// (schema 1: shard numbers only in each part's upload metadata) gets them
// filled when it is opened again, and its sharded runs count as reported
// (the sweep must not comment on old runs); new parts fill them as they
// arrive, and ClaimShardReport succeeds once.
func TestShardColumnsMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateToken(ctx, "acme", "w"); err != nil {
		t.Fatal(err)
	}
	p, err := s.Project(ctx, "acme", "w")
	if err != nil {
		t.Fatal(err)
	}
	part := func(run string, i, n int) *NewPart {
		md := fmt.Sprintf(`{"runPart":{"runId":%q,"runPartId":"%s-%d","metadata":{"shard":"%d","shardTotal":"%d"}}}`, run, run, i, i, n)
		return &NewPart{ProjectID: p.ID, CIRunID: run, PartID: fmt.Sprintf("%s-%d", run, i), ProfileMD5: fmt.Sprintf("%s-%d", run, i),
			Mode: "walltime", Metadata: []byte(md)}
	}
	if _, err := s.CommitPart(ctx, part("old", 2, 3)); err != nil {
		t.Fatal(err)
	}
	// Back to schema 1, as a database of the previous release.
	prov, err := goose.NewProvider(goose.DialectSQLite3, s.write, mustSub(t), goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.DownTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Version(ctx); err != nil || v != 4 {
		t.Fatalf("schema version %d %v, want 4", v, err)
	}
	old, err := s.Run(ctx, RunID(p, "old"))
	if err != nil {
		t.Fatal(err)
	}
	if len(old.Parts) != 1 || old.Parts[0].Shard != 2 || old.Parts[0].ShardTotal != 3 {
		t.Fatalf("old part after the migration: %+v", old.Parts)
	}
	future := time.Now().Add(time.Hour)
	if ids, err := s.UnreportedShardRuns(ctx, future); err != nil || len(ids) != 0 {
		t.Fatalf("unreported after the migration: %v %v, want none (old runs count as reported)", ids, err)
	}

	if _, err := s.CommitPart(ctx, part("new", 1, 2)); err != nil {
		t.Fatal(err)
	}
	ids, err := s.UnreportedShardRuns(ctx, future)
	if err != nil || fmt.Sprint(ids) != fmt.Sprint([]string{RunID(p, "new")}) {
		t.Fatalf("unreported: %v %v, want the new run", ids, err)
	}
	if ids, _ := s.UnreportedShardRuns(ctx, time.Now().Add(-time.Hour)); len(ids) != 0 {
		t.Fatalf("unreported runs created an hour ago: %v, want none", ids)
	}
	for i, want := range []bool{true, false} {
		if got, err := s.ClaimShardReport(ctx, RunID(p, "new")); err != nil || got != want {
			t.Fatalf("claim %d: %v %v, want %v", i+1, got, err, want)
		}
	}
	if ids, _ := s.UnreportedShardRuns(ctx, future); len(ids) != 0 {
		t.Fatalf("unreported after the claim: %v", ids)
	}
}

// The two runs of one `codspeed ab` name each other in their parts'
// metadata: each knows the other's server id, and the head's paired
// verdicts name the base by it when the base names the head back. The sides
// (refs or commands of their own, not the branch they were uploaded from)
// stay out of the branch's history and of "newest run of" lookups.
func TestPairedRuns(t *testing.T) {
	for dialect, s := range openTest(t) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			s.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
			if _, err := s.CreateToken(ctx, "acme", "pair"); err != nil {
				t.Fatal(err)
			}
			p, err := s.Project(ctx, "acme", "pair")
			if err != nil {
				t.Fatal(err)
			}
			commit := func(key, sha, meta string, median float64, paired *results.PairedResult) string {
				t.Helper()
				b := wallBench("sort", median)
				b.Paired = paired
				res, err := s.CommitPart(ctx, &NewPart{ProjectID: p.ID, CIRunID: key, PartID: key + "-walltime-0", ProfileMD5: key,
					Mode: results.Walltime, Metadata: []byte(`{"runPart":{"runId":"` + key + `","metadata":` + meta + `}}`),
					Commit: sha, Branch: "feature", Ref: "refs/heads/feature", Event: "push", StartedAt: clock,
					Files: []*results.File{wallFile(clock, b)}})
				if err != nil {
					t.Fatal(err)
				}
				return res.RunID
			}
			// The client names the base by its local id; a stored verdict
			// must not keep it.
			verdict := &results.PairedResult{Verdict: results.PairedRegressed, Estimate: results.PairedEstimate{Pairs: 40, Ratio: 1.2, Lo: 1.18, Hi: 1.22},
				MinEffect: 0.01, Alpha: 0.01, BaseRun: "local-base"}
			plain := commit("plain", "1111", `{"mode":"walltime"}`, 90, nil)
			// Values that are not a pair are ignored.
			bad := commit("bad", "3333", `{"pairRole":"left","pairWith":"x"}`, 95, verdict)
			base := commit("local-base", "0000", `{"pairRole":"base","pairWith":"local-head","pairLabel":"origin/main"}`, 100, nil)
			head := commit("local-head", "2222", `{"pairRole":"head","pairWith":"local-base","pairLabel":"working tree"}`, 120, verdict)
			// A head naming a run that is no base, a base naming a head that
			// names another base: neither is a pair.
			stray := commit("stray", "4444", `{"pairRole":"head","pairWith":"plain"}`, 130, verdict)
			liar := commit("liar", "5555", `{"pairRole":"base","pairWith":"local-head"}`, 140, nil)

			for id, want := range map[string]*Pair{
				base:  {Role: PairBase, Run: head, Label: "origin/main"},
				head:  {Role: PairHead, Run: base, Label: "working tree"},
				plain: nil, bad: nil,
			} {
				r, err := s.Run(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(r.Pair) != fmt.Sprint(want) {
					t.Errorf("run %s: pair %+v, want %+v", id, r.Pair, want)
				}
				o, err := s.PairOf(ctx, r)
				switch {
				case want == nil && !errors.Is(err, ErrNotFound):
					t.Errorf("run %s is no side of a pair: PairOf %+v %v", id, o, err)
				case want != nil && (err != nil || o.ID != want.Run):
					t.Errorf("run %s: PairOf %+v %v, want %s", id, o, err, want.Run)
				}
			}
			for _, id := range []string{stray, liar} {
				r, err := s.Run(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if o, err := s.PairOf(ctx, r); !errors.Is(err, ErrNotFound) {
					t.Errorf("run %s claims a pair the other side does not: PairOf %+v %v", id, o, err)
				}
			}
			bs, err := s.Benchmarks(ctx, head)
			if err != nil || len(bs) != 1 || bs[0].Paired == nil || bs[0].Paired.BaseRun != base || bs[0].Paired.Estimate.Ratio != 1.2 {
				t.Fatalf("head benchmarks: %v %+v", err, bs)
			}
			for _, id := range []string{bad, stray} {
				if bs, err := s.Benchmarks(ctx, id); err != nil || len(bs) != 1 || bs[0].Paired == nil || bs[0].Paired.BaseRun != "" {
					t.Fatalf("a paired verdict outside a pair names a base: %v %+v", err, bs)
				}
			}

			hist, err := s.History(ctx, p, "feature", HistoryFilter{})
			if err != nil || len(hist) != 1 {
				t.Fatalf("history: %v %+v", err, hist)
			}
			var ids []string
			for _, pt := range hist[0].Points {
				ids = append(ids, pt.RunID)
			}
			if fmt.Sprint(ids) != fmt.Sprint([]string{plain, bad}) {
				t.Errorf("history runs %v, want %v (no side of a pair)", ids, []string{plain, bad})
			}
			for ref, want := range map[string]string{"feature": bad, "2222": "", "0000": "", base: base, head: head} {
				r, err := s.ResolveRef(ctx, p, ref)
				switch {
				case want == "" && !errors.Is(err, ErrNotFound):
					t.Errorf("resolve %s (a pair's commit): %+v %v, want not found", ref, r, err)
				case want != "" && (err != nil || r.ID != want):
					t.Errorf("resolve %s: %+v %v, want %s", ref, r, err, want)
				}
			}
			runs, err := s.Runs(ctx, p, RunFilter{})
			if err != nil || len(runs) != 6 {
				t.Fatalf("runs: %v %d, want all 6 listed", err, len(runs))
			}
		})
	}
}

func TestPartPair(t *testing.T) {
	long := strings.Repeat("é", 300)
	for _, c := range []struct{ md, role, with, label string }{
		{`{"runPart":{"metadata":{"pairRole":"head","pairWith":"r1","pairLabel":"v1.2"}}}`, "head", "r1", "v1.2"},
		{`{"runPart":{"metadata":{"pairRole":"base","pairWith":"r1"}}}`, "base", "r1", ""},
		{`{"runPart":{"metadata":{"pairRole":"base","pairWith":"r1","pairLabel":"` + long + `"}}}`, "base", "r1", strings.Repeat("é", 199) + "…"},
		{`{"runPart":{"metadata":{"pairRole":"base","pairWith":"r1","pairLabel":"a\u0007b"}}}`, "base", "r1", ""},
		{`{"runPart":{"metadata":{"pairRole":"base","pairWith":""}}}`, "", "", ""},
		{`{"runPart":{"metadata":{"pairRole":"base","pairWith":"a\nb"}}}`, "", "", ""},
		{`{"runPart":{"metadata":{"pairRole":"base","pairWith":"` + strings.Repeat("x", 257) + `"}}}`, "", "", ""},
		{`{"runPart":{"metadata":{"pairRole":"side","pairWith":"r1"}}}`, "", "", ""},
		{`{"runPart":{"metadata":{"pairRole":1,"pairWith":"r1"}}}`, "", "", ""},
		{`{}`, "", "", ""},
		{`not json`, "", "", ""},
	} {
		role, with, label := partPair(c.md)
		if role != c.role || with != c.with || label != c.label {
			t.Errorf("partPair(%.80s) = %q %q %q, want %q %q %q", c.md, role, with, label, c.role, c.with, c.label)
		}
	}
}

func mustSub(t *testing.T) fs.FS {
	t.Helper()
	f, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return f
}
