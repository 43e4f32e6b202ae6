package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/upload"
	"github.com/codspeed-go/codspeed-go/server/store"
	"github.com/codspeed-go/codspeed-go/server/store/storetest"
)

type testServer struct {
	*Server
	http  *httptest.Server
	token string
}

func newTestServers(t *testing.T, private bool) map[string]*testServer {
	t.Helper()
	dbs := map[string]string{store.SQLite: "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite")}
	if url := storetest.PostgresURL(t); url != "" {
		dbs[store.Postgres] = url
	}
	out := map[string]*testServer{}
	for dialect, db := range dbs {
		st, err := store.Open(context.Background(), db, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		token, err := st.CreateToken(context.Background(), "acme", "widget")
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(Config{Store: st, Private: private})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(hs.Close)
		out[dialect] = &testServer{srv, hs, token}
	}
	return out
}

// uploadSim uploads a simulation run part of one benchmark with the
// runner's own upload client.
func (ts *testServer) uploadSim(t *testing.T, ciRun, branch, commit string, instructions float64, edit ...func(*results.Benchmark)) string {
	t.Helper()
	dir := t.TempDir()
	f := &results.File{
		Creator:    results.Creator{Name: "codspeed-go", Version: "test", Pid: 1},
		Instrument: results.Instrument{Type: results.Simulation},
		Benchmarks: []results.Benchmark{{Name: "parse", URI: "bench::parse", Simulation: &results.SimulationStats{
			Instructions: instructions, EstimatedCycles: instructions, TimeNs: instructions / 3,
		}, Profile: &results.Profile{Event: "Ir", Folded: "callgrind/parse.folded"}}},
	}
	for _, e := range edit {
		e(&f.Benchmarks[0])
	}
	if _, err := results.WriteResults(dir, f); err != nil {
		t.Fatal(err)
	}
	b, err := upload.Archive(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	enc := "gzip"
	md := upload.Metadata{Version: upload.MetadataVersion, ProfileMd5: b.MD5, ProfileEncoding: &enc,
		Runner:         upload.Runner{Name: "codspeed-go", Version: "test", Instruments: []string{}, Executor: "valgrind"},
		RunEnvironment: "GITLAB_CI", RepositoryProvider: "GITLAB", CommitHash: commit, Ref: "refs/heads/" + branch,
		Owner: "acme", Repository: "widget", Event: "push",
		RunPart: &upload.RunPart{RunID: ciRun, RunPartID: ciRun + "-simulation", Metadata: map[string]string{"mode": "simulation"}}}
	resp, err := upload.Upload(context.Background(), upload.Options{URL: ts.http.URL + "/upload", Token: ts.token, Retries: -1}, md, b)
	if err != nil {
		t.Fatal(err)
	}
	return resp.RunID
}

func (ts *testServer) get(t *testing.T, path, token string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.http.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (ts *testServer) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	code, body, _ := ts.get(t, path, "")
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

func TestAPI(t *testing.T) {
	for dialect, ts := range newTestServers(t, false) {
		t.Run(dialect, func(t *testing.T) {
			var mu sync.Mutex
			var hooked []string
			done := make(chan struct{}, 10)
			ts.OnRun(func(ctx context.Context, p *store.Project, r *store.Run) {
				mu.Lock()
				hooked = append(hooked, p.Slug()+" "+r.ID)
				mu.Unlock()
				done <- struct{}{}
			})
			ts.HandleProject("echo", func(w http.ResponseWriter, r *http.Request, p *store.Project) {
				fmt.Fprint(w, "echo "+p.Slug())
			})
			ts.Pages = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page "+r.URL.Path) })

			r1 := ts.uploadSim(t, "p1", "main", "aaaa000000000000000000000000000000000001", 1000)
			r2 := ts.uploadSim(t, "p2", "main", "aaaa000000000000000000000000000000000002", 1001)
			r3 := ts.uploadSim(t, "p3", "feature/slow", "bbbb000000000000000000000000000000000003", 1500)
			for range 3 {
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("run hook not called")
				}
			}
			mu.Lock()
			if len(hooked) != 3 || !strings.HasPrefix(hooked[0], "acme/widget ") {
				t.Fatalf("hooks: %v", hooked)
			}
			mu.Unlock()

			if code, body, _ := ts.get(t, "/healthz", ""); code != 200 || body != "ok\n" {
				t.Fatalf("healthz %d %q", code, body)
			}
			var ps struct{ Projects []store.Project }
			ts.getJSON(t, "/api/v1/projects", &ps)
			if len(ps.Projects) != 1 || ps.Projects[0].Owner != "acme" || ps.Projects[0].Runs != 3 || ps.Projects[0].DefaultBranch != "main" {
				t.Fatalf("projects %+v", ps)
			}
			var runs struct{ Runs []store.Run }
			ts.getJSON(t, "/api/v1/projects/acme/widget/runs", &runs)
			if len(runs.Runs) != 3 || runs.Runs[0].ID != r3 || runs.Runs[0].Branch != "feature/slow" || runs.Runs[0].Modes[0] != "simulation" {
				t.Fatalf("runs %+v", runs)
			}
			ts.getJSON(t, "/api/v1/projects/acme/widget/runs?branch=main", &runs)
			if len(runs.Runs) != 2 || runs.Runs[0].ID != r2 || runs.Runs[1].ID != r1 {
				t.Fatalf("main runs %+v", runs)
			}
			var run RunWithBenchmarks
			ts.getJSON(t, "/api/v1/runs/"+r1, &run)
			if run.ID != r1 || len(run.Benchmarks) != 1 || run.Benchmarks[0].Simulation.Instructions != 1000 || run.Benchmarks[0].Instrument != "simulation" {
				t.Fatalf("run %+v", run)
			}
			ts.getJSON(t, "/api/v1/projects/acme/widget/run?ref=feature/slow", &run)
			if run.ID != r3 {
				t.Fatalf("resolved %s", run.ID)
			}

			var cmp struct {
				Regressed  bool
				Counts     map[string]int
				Benchmarks []struct {
					Name, Verdict string
					Change        float64
				}
			}
			ts.getJSON(t, "/api/v1/projects/acme/widget/compare?base=main&head=feature/slow", &cmp)
			if !cmp.Regressed || len(cmp.Benchmarks) != 1 || cmp.Benchmarks[0].Verdict != "regressed" || cmp.Benchmarks[0].Change < 0.49 {
				t.Fatalf("compare %+v", cmp)
			}
			ts.getJSON(t, "/api/v1/projects/acme/widget/compare?base="+r1+"&head=aaaa000000000000000000000000000000000002", &cmp)
			if cmp.Regressed || cmp.Benchmarks[0].Verdict != "unchanged" {
				t.Fatalf("compare by id and commit %+v", cmp)
			}
			code, md, hdr := ts.get(t, "/api/v1/projects/acme/widget/compare?base=main&head=feature/slow&format=markdown", "")
			if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/markdown") || !strings.Contains(md, "parse") || !strings.Contains(strings.ToLower(md), "regress") {
				t.Fatalf("markdown %d %s", code, md)
			}
			var hist struct {
				Branch string
				Series []store.Series
			}
			ts.getJSON(t, "/api/v1/projects/acme/widget/history", &hist)
			if hist.Branch != "main" || len(hist.Series) != 1 || len(hist.Series[0].Points) != 2 || *hist.Series[0].Points[1].Instructions != 1001 {
				t.Fatalf("history %+v", hist)
			}

			for path, want := range map[string]int{
				"/api/v1/runs/nope": 404, "/api/v1/projects/acme/nope/runs": 404, "/api/v1/projects/acme": 404,
				"/api/v1/projects/acme/widget/compare?base=main": 400, "/api/v1/projects/acme/widget/compare?base=nope&head=main": 404,
				"/api/v1/nothing": 404, "/api/v1/projects/acme/widget/runs?limit=0": 400,
			} {
				if code, body, _ := ts.get(t, path, ""); code != want {
					t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
				}
			}
			if code, body, _ := ts.get(t, "/api/v1/projects/acme/widget/echo", ""); code != 200 || body != "echo acme/widget" {
				t.Errorf("plug-in action: %d %s", code, body)
			}
			if code, body, _ := ts.get(t, "/projects/acme/widget", ""); code != 200 || body != "page /projects/acme/widget" {
				t.Errorf("pages: %d %s", code, body)
			}
			resp, err := http.Post(ts.http.URL+"/projects/x", "text/plain", nil)
			if err != nil || resp.StatusCode != 405 {
				t.Errorf("POST to a page: %v %v", err, resp.StatusCode)
			}
		})
	}
}

func TestPrivate(t *testing.T) {
	for dialect, ts := range newTestServers(t, true) {
		t.Run(dialect, func(t *testing.T) {
			ts.Pages = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page") })
			for _, path := range []string{"/api/v1/projects", "/api/v1/runs/x", "/"} {
				code, _, hdr := ts.get(t, path, "")
				if code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("%s without token: %d", path, code)
				}
				if code, _, _ := ts.get(t, path, ts.token+"x"); code != 401 {
					t.Errorf("%s with a wrong token: %d", path, code)
				}
			}
			if code, _, _ := ts.get(t, "/api/v1/projects", ts.token); code != 200 {
				t.Errorf("with token: %d", code)
			}
			if code, _, _ := ts.get(t, "/api/v1/projects", "Bearer "+ts.token); code != 200 {
				t.Errorf("with bearer token: %d", code)
			}
			req, _ := http.NewRequest(http.MethodGet, ts.http.URL+"/", nil)
			req.SetBasicAuth("me", ts.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("basic auth: %v %v", err, resp.StatusCode)
			}
			if code, _, _ := ts.get(t, "/healthz", ""); code != 200 {
				t.Errorf("healthz is open: %d", code)
			}
			ts.Drain()
			if code, _, _ := ts.get(t, "/healthz", ""); code != 503 {
				t.Errorf("healthz while draining: %d", code)
			}
		})
	}
}

func TestClientSide(t *testing.T) {
	ts := newTestServers(t, false)[store.SQLite]
	ts.uploadSim(t, "p1", "main", "aaaa000000000000000000000000000000000001", 1000)
	c := &Client{URL: ts.http.URL}
	side, err := c.Side(context.Background(), "acme/widget", "main")
	if err != nil || len(side.Parts) != 1 || side.Parts[0].File.Benchmarks[0].Simulation.Instructions != 1000 || side.Ref.Label != "main" {
		t.Fatalf("%v %+v", err, side)
	}
	if pr := side.Parts[0].File.Benchmarks[0].Profile; pr != nil {
		t.Fatalf("a server's profile paths reach local renderers: %+v", pr)
	}
	_, err = c.Side(context.Background(), "acme/widget", "nope")
	if ae, ok := err.(*APIError); !ok || ae.StatusCode != 404 || !strings.Contains(ae.Message, "no run id, branch or commit") {
		t.Fatalf("unknown ref: %v", err)
	}
}

// TestProjectThresholds: a project's threshold settings decide the
// verdicts of the API's compare (and, through Store.CompareOptions, the
// compare page and merge-request comments): 1.5% more instructions is
// unchanged at simulation's default 2% and regressed at a 1% setting; a
// bad value is refused.
func TestProjectThresholds(t *testing.T) {
	for dialect, ts := range newTestServers(t, false) {
		t.Run(dialect, func(t *testing.T) {
			ts.uploadSim(t, "t1", "main", "bbbb000000000000000000000000000000000001", 100000)
			ts.uploadSim(t, "t2", "feature", "bbbb000000000000000000000000000000000002", 101500)
			var cmp struct {
				Regressed  bool
				Benchmarks []struct{ Verdict string }
			}
			path := "/api/v1/projects/acme/widget/compare?base=main&head=feature"
			ts.getJSON(t, path, &cmp)
			if cmp.Regressed || len(cmp.Benchmarks) != 1 || cmp.Benchmarks[0].Verdict != "unchanged" {
				t.Fatalf("default thresholds: %+v", cmp)
			}
			ctx := context.Background()
			p, err := ts.store.Project(ctx, "acme", "widget")
			if err != nil {
				t.Fatal(err)
			}
			if err := ts.store.SetSetting(ctx, p, store.SettingThresholdSimulation, "1%"); err != nil {
				t.Fatal(err)
			}
			ts.getJSON(t, path, &cmp)
			if !cmp.Regressed || cmp.Benchmarks[0].Verdict != "regressed" {
				t.Fatalf("simulation threshold 1%%: %+v", cmp)
			}
			// A mode's threshold wins over regression, as in codspeed.yml.
			if err := ts.store.SetSetting(ctx, p, store.SettingThresholdRegression, "10%"); err != nil {
				t.Fatal(err)
			}
			ts.getJSON(t, path, &cmp)
			if !cmp.Regressed {
				t.Fatalf("regression 10%% over simulation 1%%: %+v", cmp)
			}
			if err := ts.store.SetSetting(ctx, p, store.SettingThresholdSimulation, ""); err != nil {
				t.Fatal(err)
			}
			ts.getJSON(t, path, &cmp)
			if cmp.Regressed {
				t.Fatalf("regression 10%%: %+v", cmp)
			}
			// A head run that recorded its codspeed.yml's thresholds is
			// judged with them, over the project's settings.
			ts.uploadSim(t, "t3", "strict", "bbbb000000000000000000000000000000000003", 101500, func(b *results.Benchmark) {
				b.Thresholds = &results.Thresholds{Regression: 0.01, Improvement: 0.01}
			})
			ts.getJSON(t, "/api/v1/projects/acme/widget/compare?base=main&head=strict", &cmp)
			if !cmp.Regressed {
				t.Fatalf("recorded threshold 1%% over the 10%% setting: %+v", cmp)
			}
		})
	}
	for v, want := range map[string]float64{"5%": 0.05, "0.05": 0.05, " 2.5 % ": 0.025, "0": 0} {
		if got, err := store.ParseThreshold(v); err != nil || got != want {
			t.Errorf("ParseThreshold(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "x", "-1%", "2000%", "NaN"} {
		if _, err := store.ParseThreshold(v); err == nil {
			t.Errorf("ParseThreshold(%q) accepted", v)
		}
	}
}
