package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/server/store"
	"github.com/codspeed-go/codspeed-go/server/store/storetest"
)

// testStore opens a real SQLite store in a temporary folder, with a clock
// that moves a minute per call so that runs are ordered.
func testStore(t testing.TB) *store.Store {
	t.Helper()
	return openStore(t, "", t.TempDir())
}

func openStore(t testing.TB, database, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), database, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { now = now.Add(time.Minute); return now }
	return st
}

// forEachDatabase runs test on SQLite and on a throwaway PostgreSQL
// database of the test cluster (storetest: skipped on a machine without
// one, required in CI).
func forEachDatabase(t *testing.T, test func(t *testing.T, st *store.Store)) {
	t.Run("sqlite", func(t *testing.T) { test(t, testStore(t)) })
	t.Run("postgres", func(t *testing.T) {
		u := storetest.PostgresURL(t)
		if u == "" {
			t.Skip("no PostgreSQL test cluster (CODSPEED_TEST_POSTGRES_URL; scripts/test-postgres.sh start)")
		}
		test(t, openStore(t, u, ""))
	})
}

// runSpec is one run to store through the store's write API.
type runSpec struct {
	branch, commit string
	pr             int
	baseRef        string
	files          []*results.File
	artifacts      map[string][]byte
}

var runSeq int

func addRun(t testing.TB, st *store.Store, p *store.Project, rs runSpec) string {
	t.Helper()
	runSeq++
	res, err := st.CommitPart(context.Background(), &store.NewPart{
		ProjectID: p.ID, CIRunID: fmt.Sprintf("ci-%d", runSeq), PartID: "part-1",
		ProfileMD5: fmt.Sprintf("md5-%d", runSeq), Mode: rs.files[0].Instrument.Type,
		RunnerName: "codspeed-go", RunnerVersion: "test", Metadata: []byte("{}"),
		Commit: rs.commit, Branch: rs.branch, Ref: "refs/heads/" + rs.branch, BaseRef: rs.baseRef,
		Event: "push", PullRequest: rs.pr, RepositoryProvider: "github",
		Files: rs.files, Artifacts: rs.artifacts,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.RunID
}

// walltimeFile is a results file with one walltime benchmark per name,
// measured as the given per-iteration samples (real statistics computed by
// results.ComputeStats).
func walltimeFile(samples map[string][]float64, order ...string) *results.File {
	f := &results.File{Instrument: results.Instrument{Type: results.Walltime}}
	for _, name := range order {
		s := results.ComputeStats(samples[name], 1, 0)
		f.Benchmarks = append(f.Benchmarks, results.Benchmark{Name: name, URI: "bench.go::" + name, Stats: &s, Samples: samples[name]})
	}
	return f
}

func around(center float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = center * (1 + 0.01*float64(i%5-2))
	}
	return out
}

func get(t testing.TB, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

const evil = `<script>alert(1)</script>`

func TestPages(t *testing.T) { forEachDatabase(t, testPages) }

func testPages(t *testing.T, st *store.Store) {
	p, err := st.EnsureProject(context.Background(), "acme", "widgets")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 12 {
		center := 1000.0
		if i >= 6 {
			center = 1500 // a 50% regression from the seventh run on
		}
		f := walltimeFile(map[string][]float64{"fast": around(center, 30), evil: around(200, 30)}, "fast", evil)
		// Memory: a steady peak, allocation calls that double at run 9.
		calls := 100.0
		if i >= 8 {
			calls = 200
		}
		mem := &results.File{Instrument: results.Instrument{Type: results.Memory}, Benchmarks: []results.Benchmark{{
			Name: "fast", URI: "bench.go::fast",
			Memory: &results.MemoryStats{PeakBytes: 4096 + float64(i%3), TotalAllocatedBytes: 8192, AllocCalls: calls + float64(i%2), FreeCalls: calls},
		}}}
		ids = append(ids, addRun(t, st, p, runSpec{branch: "main", commit: fmt.Sprintf("%040x", i+1), files: []*results.File{f, mem}}))
	}
	slow := walltimeFile(map[string][]float64{"fast": around(3000, 30), evil: around(200, 30)}, "fast", evil)
	feature := addRun(t, st, p, runSpec{branch: "feature", commit: strings.Repeat("f", 40), pr: 7, baseRef: "main", files: []*results.File{slow}})

	h := New(st, nil)

	code, body := get(t, h, "/")
	if code != 200 || !strings.Contains(body, `href="/projects/acme/widgets"`) {
		t.Fatalf("home %d: %s", code, body)
	}

	code, body = get(t, h, "/projects/acme/widgets")
	if code != 200 {
		t.Fatalf("project %d: %s", code, body)
	}
	if strings.Contains(body, evil) || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the benchmark name is not escaped on the project page")
	}
	if n := strings.Count(body, `<section class="bench"`); n != 3 {
		t.Errorf("%d benchmark sections, want 3 (2 walltime, 1 memory)", n)
	}
	// One point per run of main (12), per chart: two walltime charts, the
	// memory benchmark's peak and allocation calls; the feature run is not
	// on the default branch's charts.
	if n := strings.Count(body, `<circle class="pt"`); n != 4*12 {
		t.Errorf("%d points, want 48", n)
	}
	// The step of "fast" is detected at the seventh run and its allocation
	// calls' at the ninth, marked on the charts and listed.
	if n := strings.Count(body, `<line class="change up"`); n != 2 {
		t.Errorf("%d change markers, want 2", n)
	}
	table := body[strings.Index(body, `<table class="changes">`):]
	table = table[:strings.Index(table, "</table>")]
	if !strings.Contains(table, `href="/runs/`+ids[6]+`"`) {
		t.Errorf("the change does not link the seventh run %s", ids[6])
	}
	if !strings.Contains(table, `href="/runs/`+ids[8]+`"`) {
		t.Errorf("the memory change does not link the ninth run %s", ids[8])
	}
	// Every point links its run.
	if n := strings.Count(body, `<a href="/runs/`+ids[0]+`"><circle class="pt"`); n != 4 {
		t.Errorf("the first run's points link it %d times, want 4 (one per chart)", n)
	}

	if !strings.Contains(body, `<a href="/projects/acme/widgets?branch=feature">feature</a>`) {
		t.Error("the project page does not link the feature branch's history")
	}
	code, body = get(t, h, "/projects/acme/widgets?branch=feature")
	if code != 200 || strings.Count(body, `<circle class="pt"`) != 2 || !strings.Contains(body, "<strong>feature</strong>") {
		t.Errorf("feature history %d: %d points", code, strings.Count(body, `<circle class="pt"`))
	}

	code, body = get(t, h, "/api/v1/projects/acme/widgets/changes")
	if code != 404 { // the pages handler does not serve the API itself
		t.Errorf("pages answered the API path: %d", code)
	}
	rec := httptest.NewRecorder()
	h.ServeChanges(rec, httptest.NewRequest("GET", "/api/v1/projects/acme/widgets/changes", nil), p)
	var cr ChangesResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &cr); err != nil {
		t.Fatalf("changes JSON: %v: %s", err, rec.Body)
	}
	// Newest first: the memory change (run 9), then walltime's (run 7).
	if cr.Branch != "main" || len(cr.Changes) != 2 {
		t.Fatalf("changes: %s", rec.Body)
	}
	wc, mc := cr.Changes[1], cr.Changes[0]
	if wc.RunID != ids[6] || wc.Name != "fast" || wc.Instrument != "walltime" || wc.Metric != "fastest round" ||
		wc.PreviousRunID != ids[5] || !wc.Regression || wc.Method != "e-divisive" || wc.P == nil {
		t.Errorf("walltime change: %+v", wc)
	}
	if c := *wc.Change; c < 0.45 || c > 0.55 {
		t.Errorf("change %.3f, want about +50%%", c)
	}
	if mc.RunID != ids[8] || mc.Instrument != "memory" || mc.Metric != "alloc calls" || *mc.Change < 0.9 || *mc.Change > 1.1 {
		t.Errorf("memory change: %+v", mc)
	}

	code, body = get(t, h, "/runs/"+feature)
	if code != 200 || strings.Contains(body, evil) || !strings.Contains(body, "&lt;script&gt;") ||
		!strings.Contains(body, "Compare with main") {
		t.Errorf("run page %d: %s", code, body)
	}

	code, body = get(t, h, "/projects/acme/widgets/compare?"+url.Values{"base": {"main"}, "head": {feature}}.Encode())
	if code != 200 {
		t.Fatalf("compare %d: %s", code, body)
	}
	if strings.Contains(body, evil) || !strings.Contains(body, "regressed") || !strings.Contains(body, "<h1>Regression") {
		t.Errorf("compare page: %s", body)
	}

	code, _ = get(t, h, "/projects/acme/widgets/compare?base=nope&head=main")
	if code != 404 {
		t.Errorf("compare with an unknown base: %d, want 404", code)
	}
	code, _ = get(t, h, "/projects/acme/nothing")
	if code != 404 {
		t.Errorf("unknown project: %d, want 404", code)
	}
	code, _ = get(t, h, "/runs/nope")
	if code != 404 {
		t.Errorf("unknown run: %d, want 404", code)
	}
}

func TestRunFlameGraph(t *testing.T) { forEachDatabase(t, testRunFlameGraph) }

func testRunFlameGraph(t *testing.T, st *store.Store) {
	p, err := st.EnsureProject(context.Background(), "group/sub", "lib")
	if err != nil {
		t.Fatal(err)
	}
	f := walltimeFile(map[string][]float64{"parse": around(5000, 20)}, "parse")
	f.Benchmarks[0].Profile = &results.Profile{Event: "cpu-clock", Folded: filepath.Join("perf", "parse.folded")}
	folded := "main;parse;" + evil + " 40\nmain;parse;lex 60\n"
	id := addRun(t, st, p, runSpec{branch: "main", commit: strings.Repeat("a", 40), files: []*results.File{f},
		artifacts: map[string][]byte{"perf/parse.folded": []byte(folded)}})
	h := New(st, nil)
	code, body := get(t, h, "/runs/"+id)
	if code != 200 {
		t.Fatalf("run %d: %s", code, body)
	}
	if !strings.Contains(body, `class="fg"`) || !strings.Contains(body, "lex") {
		t.Errorf("no flame graph: %s", body)
	}
	if strings.Contains(body, evil) {
		t.Error("a frame name is not escaped")
	}
	// A nested-group project's page and compare action resolve.
	if code, body := get(t, h, "/projects/group/sub/lib"); code != 200 || !strings.Contains(body, "group/sub/lib") {
		t.Errorf("nested project %d", code)
	}
	if code, body := get(t, h, "/projects/group/sub/lib/compare?base=main&head="+id); code != 200 || !strings.Contains(body, "class=\"fg\"") {
		t.Errorf("nested compare %d: %.500s", code, body)
	}
}

// TestCompareNeverOpensUploadedPaths: a results file naming folded stacks
// outside its profile folder cannot make the compare page read the
// server's files.
func TestCompareNeverOpensUploadedPaths(t *testing.T) {
	st := testStore(t)
	p, err := st.EnsureProject(context.Background(), "acme", "bad")
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret.folded")
	if err := os.WriteFile(secret, []byte("top;secret 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, folded := range []string{secret, "../../../../../../../.." + secret} {
		f := walltimeFile(map[string][]float64{"x": around(float64(1000*(i+1)), 30)}, "x")
		f.Benchmarks[0].Profile = &results.Profile{Event: "cpu-clock", Folded: folded}
		ids = append(ids, addRun(t, st, p, runSpec{branch: "main", commit: strings.Repeat(fmt.Sprint(i+1), 40), files: []*results.File{f}}))
	}
	h := New(st, nil)
	code, body := get(t, h, "/projects/acme/bad/compare?base="+ids[0]+"&head="+ids[1])
	if code != 200 || !strings.Contains(body, "regressed") {
		t.Fatalf("compare %d: %.300s", code, body)
	}
	if strings.Contains(body, "secret") {
		t.Error("the compare page read a file named by an upload")
	}
}
