package mrcomment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/forge"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// comment is a forge's comment as the fake keeps it.
type comment struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"`
}

// forgeFake is a recording stand-in for the parts of GitHub's and GitLab's
// REST APIs that the Reporter uses (no such service runs here). It keeps
// comments per MR/PR, pages lists the way each forge does (GitHub: Link
// rel="next"; GitLab: X-Next-Page), refuses a wrong token with 401, and
// records every request.
type forgeFake struct {
	t     *testing.T
	token string

	mu       sync.Mutex
	requests []recorded
	comments map[string][]comment // by "<repo>#<n>"
	nextID   int64
}

type recorded struct {
	Method, Path, Query, Auth, Body string
}

var (
	ghList   = regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$`)
	ghUpdate = regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$`)
	glList   = regexp.MustCompile(`^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes$`)
	glUpdate = regexp.MustCompile(`^/api/v4/projects/([^/]+)/merge_requests/(\d+)/notes/(\d+)$`)
)

func newForgeFake(t *testing.T, token string) (*forgeFake, *httptest.Server) {
	f := &forgeFake{t: t, token: token, comments: map[string][]comment{}, nextID: 1000}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *forgeFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path := r.URL.EscapedPath()
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(path, "/api/v4/") {
		auth = r.Header.Get("PRIVATE-TOKEN")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, recorded{r.Method, path, r.URL.RawQuery, auth, string(body)})
	github := strings.HasPrefix(path, "/repos/")
	if (github && auth != "Bearer "+f.token) || (!github && auth != f.token) {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	var in struct{ Body string }
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil || in.Body == "" {
			http.Error(w, `{"message":"body is missing"}`, http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case ghList.MatchString(path) || glList.MatchString(path):
		m := ghList.FindStringSubmatch(path)
		if m == nil {
			m = glList.FindStringSubmatch(path)
		}
		key := m[1] + "#" + m[2]
		if r.Method == http.MethodPost {
			f.nextID++
			c := comment{ID: f.nextID, Body: in.Body}
			f.comments[key] = append(f.comments[key], c)
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(c)
			return
		}
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		if per <= 0 || per > 100 {
			per = 30
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		all := f.comments[key]
		lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
		if hi < len(all) {
			if github {
				q := r.URL.Query()
				q.Set("page", strconv.Itoa(page+1))
				w.Header().Set("Link", fmt.Sprintf(`<http://%s%s?%s>; rel="next", <http://%s%s?page=99>; rel="last"`, r.Host, path, q.Encode(), r.Host, path))
			} else {
				w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
			}
		}
		json.NewEncoder(w).Encode(all[lo:hi])
	case ghUpdate.MatchString(path) && r.Method == http.MethodPatch, glUpdate.MatchString(path) && r.Method == http.MethodPut:
		var key string
		var id int64
		if m := ghUpdate.FindStringSubmatch(path); m != nil && github {
			id, _ = strconv.ParseInt(m[2], 10, 64)
			for k, cs := range f.comments {
				for _, c := range cs {
					if c.ID == id && strings.HasPrefix(k, m[1]+"#") {
						key = k
					}
				}
			}
		} else {
			m := glUpdate.FindStringSubmatch(path)
			key = m[1] + "#" + m[2]
			id, _ = strconv.ParseInt(m[3], 10, 64)
		}
		for i, c := range f.comments[key] {
			if c.ID == id {
				f.comments[key][i].Body = in.Body
				json.NewEncoder(w).Encode(f.comments[key][i])
				return
			}
		}
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
	default:
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
	}
}

func (f *forgeFake) snapshot() ([]recorded, map[string][]comment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cs := map[string][]comment{}
	for k, v := range f.comments {
		cs[k] = append([]comment(nil), v...)
	}
	return append([]recorded(nil), f.requests...), cs
}

func testStore(t *testing.T) *store.Store {
	st, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { now = now.Add(time.Minute); return now }
	return st
}

const evil = `<script>alert(1)</script>`

var seq int

// addRun stores a walltime run of two benchmarks ("fast" around center ns,
// and one with a hostile name) through the store's write API.
func addRun(t *testing.T, st *store.Store, p *store.Project, branch string, pr int, provider string, center float64) *store.Run {
	return addRunWith(t, st, p, branch, pr, provider, center, fmt.Sprintf("ci-%d", seq+1), "{}", nil)
}

// addRunWith is addRun with the client's run id, the upload metadata and a
// paired verdict on "fast".
func addRunWith(t *testing.T, st *store.Store, p *store.Project, branch string, pr int, provider string, center float64,
	key, metadata string, paired *results.PairedResult) *store.Run {
	seq++
	f := &results.File{Instrument: results.Instrument{Type: results.Walltime}}
	for _, b := range []struct {
		name string
		c    float64
	}{{"fast", center}, {evil, 200}} {
		samples := make([]float64, 30)
		for i := range samples {
			samples[i] = b.c * (1 + 0.01*float64(i%5-2))
		}
		s := results.ComputeStats(samples, 1, 0)
		f.Benchmarks = append(f.Benchmarks, results.Benchmark{Name: b.name, URI: "x.go::" + b.name, Stats: &s, Samples: samples})
	}
	f.Benchmarks[0].Paired = paired
	base := ""
	if pr != 0 {
		base = "main"
	}
	res, err := st.CommitPart(context.Background(), &store.NewPart{
		ProjectID: p.ID, CIRunID: key, PartID: "p", ProfileMD5: fmt.Sprint(seq),
		Mode: results.Walltime, Metadata: []byte(metadata), Commit: fmt.Sprintf("%040d", seq), Branch: branch,
		BaseRef: base, PullRequest: pr, RepositoryProvider: provider, Event: "pull_request",
		Files: []*results.File{f},
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.Run(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// githubProject is project acme/NAME with a run of main (fast around 1000
// ns) and the GitHub settings of a forge fake that takes token gh-secret.
func githubProject(t *testing.T, name string) (*forgeFake, *store.Store, *store.Project) {
	t.Helper()
	fake, srv := newForgeFake(t, "gh-secret")
	st := testStore(t)
	p, err := st.EnsureProject(context.Background(), "acme", name)
	if err != nil {
		t.Fatal(err)
	}
	addRun(t, st, p, "main", 0, "github", 1000)
	for k, v := range map[string]string{SettingGitHubToken: "gh-secret", SettingGitHubURL: srv.URL} {
		if err := st.SetSetting(context.Background(), p, k, v); err != nil {
			t.Fatal(err)
		}
	}
	return fake, st, p
}

func TestGitHubComment(t *testing.T) {
	ctx := context.Background()
	fake, st, p := githubProject(t, "widgets")
	// 120 comments by people, so the report lands on the list's second page.
	for i := range 120 {
		fake.comments["acme/widgets#7"] = append(fake.comments["acme/widgets#7"], comment{ID: int64(i + 1), Body: fmt.Sprintf("LGTM %d", i)})
	}
	rep := &Reporter{Store: st, PublicURL: "http://bench.example/"}

	res, err := rep.Report(ctx, p, addRun(t, st, p, "feature", 7, "github", 1500))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Forge != "github" {
		t.Fatalf("first run: %+v", res)
	}
	reqs, cs := fake.snapshot()
	var methods []string
	for _, r := range reqs {
		methods = append(methods, r.Method+" "+r.Path+"?"+r.Query)
		if r.Auth != "Bearer gh-secret" {
			t.Errorf("%s %s: authorization %q", r.Method, r.Path, r.Auth)
		}
	}
	want := []string{
		"GET /repos/acme/widgets/issues/7/comments?per_page=100",
		"GET /repos/acme/widgets/issues/7/comments?page=2&per_page=100",
		"POST /repos/acme/widgets/issues/7/comments?",
	}
	if strings.Join(methods, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(methods, "\n"), strings.Join(want, "\n"))
	}
	list := cs["acme/widgets#7"]
	if len(list) != 121 {
		t.Fatalf("%d comments, want 121", len(list))
	}
	body := list[120].Body
	for _, s := range []string{Marker, "## Regression", "| fast |", "**regressed", "&lt;script&gt;alert(1)&lt;/script&gt;",
		"http://bench.example/projects/acme/widgets/compare?base="} {
		if !strings.Contains(body, s) {
			t.Errorf("comment lacks %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, evil) {
		t.Error("a benchmark name reached the comment unescaped")
	}

	// A later run of the same pull request, fixed: the same comment is
	// updated, no new one.
	res2, err := rep.Report(ctx, p, addRun(t, st, p, "feature", 7, "github", 1000))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Created || res2.CommentID != res.CommentID {
		t.Fatalf("second run: %+v, first %+v", res2, res)
	}
	reqs, cs = fake.snapshot()
	last := reqs[len(reqs)-1]
	if last.Method != http.MethodPatch || last.Path != fmt.Sprintf("/repos/acme/widgets/issues/comments/%d", res.CommentID) {
		t.Errorf("last request %s %s, want PATCH of comment %d", last.Method, last.Path, res.CommentID)
	}
	if n := len(cs["acme/widgets#7"]); n != 121 {
		t.Errorf("%d comments after the second run, want 121", n)
	}
	if b := cs["acme/widgets#7"][120].Body; !strings.Contains(b, "## No regression") || !strings.HasPrefix(b, Marker) {
		t.Errorf("updated comment:\n%s", b)
	}
}

func TestGitLabComment(t *testing.T) {
	ctx := context.Background()
	fake, srv := newForgeFake(t, "gl-secret")
	st := testStore(t)
	p, err := st.EnsureProject(ctx, "group/sub", "lib")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{SettingGitLabToken: "gl-secret", SettingGitLabURL: srv.URL + "/api/v4/"} {
		if err := st.SetSetting(ctx, p, k, v); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 101 {
		fake.comments["group%2Fsub%2Flib#3"] = append(fake.comments["group%2Fsub%2Flib#3"], comment{ID: int64(i + 1), Body: "note"})
	}
	rep := &Reporter{Store: st}

	// No run of main yet: the comment is the run's own figures.
	first := addRun(t, st, p, "topic", 3, "gitlab", 1500)
	res, err := rep.Report(ctx, p, first)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Forge != "gitlab" {
		t.Fatalf("first run: %+v", res)
	}
	_, cs := fake.snapshot()
	if b := cs["group%2Fsub%2Flib#3"][101].Body; !strings.Contains(b, "No run of `main` is on the server yet") || !strings.Contains(b, "## Benchmarks") {
		t.Errorf("comment without a base:\n%s", b)
	}

	addRun(t, st, p, "main", 0, "gitlab", 1000)
	res2, err := rep.Report(ctx, p, addRun(t, st, p, "topic", 3, "gitlab", 1600))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Created || res2.CommentID != res.CommentID {
		t.Fatalf("second run: %+v, first %+v", res2, res)
	}
	reqs, cs := fake.snapshot()
	var got []string
	for _, r := range reqs {
		got = append(got, r.Method+" "+r.Path+"?"+r.Query)
		if r.Auth != "gl-secret" {
			t.Errorf("%s %s: PRIVATE-TOKEN %q", r.Method, r.Path, r.Auth)
		}
	}
	list := "/api/v4/projects/group%2Fsub%2Flib/merge_requests/3/notes"
	want := []string{
		"GET " + list + "?per_page=100&sort=asc&order_by=created_at",
		"GET " + list + "?order_by=created_at&page=2&per_page=100&sort=asc",
		"POST " + list + "?",
		"GET " + list + "?per_page=100&sort=asc&order_by=created_at",
		"GET " + list + "?order_by=created_at&page=2&per_page=100&sort=asc",
		fmt.Sprintf("PUT %s/%d?", list, res.CommentID),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	notes := cs["group%2Fsub%2Flib#3"]
	if len(notes) != 102 || !strings.Contains(notes[101].Body, "## Regression") {
		t.Errorf("%d notes; report:\n%s", len(notes), notes[len(notes)-1].Body)
	}
}

// The two runs of one `codspeed ab` arrive one after the other. The head,
// alone, is compared with the target branch; once its base arrives, the
// comment compares the head with that base and gives the paired verdicts.
func TestPairedComment(t *testing.T) {
	ctx := context.Background()
	fake, st, p := githubProject(t, "ab")
	rep := &Reporter{Store: st, PublicURL: "http://bench.example"}
	// The merge request's ordinary run has its comment.
	if _, err := rep.Report(ctx, p, addRun(t, st, p, "feature", 7, "github", 1005)); err != nil {
		t.Fatal(err)
	}
	paired := &results.PairedResult{Verdict: results.PairedRegressed, Look: 2, MinEffect: 0.01, Alpha: 0.01,
		Estimate: results.PairedEstimate{Pairs: 24, Ratio: 1.0312, Lo: 1.0201, Hi: 1.0420, Confidence: 0.998}, BaseRun: "local-base"}
	// Unpaired, head (1010) and main (1000) are within noise.
	head := addRunWith(t, st, p, "feature", 7, "github", 1010, "local-head",
		`{"runPart":{"metadata":{"pairRole":"head","pairWith":"local-base","pairLabel":"working tree"}}}`, paired)
	if _, err := rep.Report(ctx, p, head); err != nil {
		t.Fatal(err)
	}
	_, cs := fake.snapshot()
	// The pair has a comment of its own.
	if c := cs["acme/ab#7"]; len(c) != 2 || !strings.HasPrefix(c[0].Body, Marker+"\n") || !strings.HasPrefix(c[1].Body, forge.KeyedMarker(ABKey)+"\n") ||
		strings.Contains(c[1].Body, "interleaved") || !strings.Contains(c[1].Body, "main") {
		t.Fatalf("head alone: want a comment of its own comparing with main, got %+v", c)
	}
	first := cs["acme/ab#7"][0].Body
	base := addRunWith(t, st, p, "feature", 7, "github", 1000, "local-base",
		`{"runPart":{"metadata":{"pairRole":"base","pairWith":"local-head","pairLabel":"origin/main"}}}`, nil)
	res, err := rep.Report(ctx, p, base)
	if err != nil || res.Forge != "github" || res.Created {
		t.Fatalf("base arrived: %+v %v, want the head's comment updated", res, err)
	}
	_, cs = fake.snapshot()
	c := cs["acme/ab#7"]
	if len(c) != 2 || c[0].Body != first {
		t.Fatalf("comments: %+v", c)
	}
	for _, want := range []string{"interleaved", "origin/main", "1.0312", "regressed", "base=" + base.ID + "&head=" + head.ID} {
		if !strings.Contains(c[1].Body, want) {
			t.Errorf("paired comment lacks %q:\n%s", want, c[1].Body)
		}
	}
}

func TestNothingToPost(t *testing.T) {
	ctx := context.Background()
	fake, srv := newForgeFake(t, "tok")
	st := testStore(t)
	p, err := st.EnsureProject(ctx, "acme", "quiet")
	if err != nil {
		t.Fatal(err)
	}
	rep := &Reporter{Store: st}
	// No token configured: nothing is sent.
	if res, err := rep.Report(ctx, p, addRun(t, st, p, "feature", 5, "github", 1000)); err != nil || res.Forge != "" {
		t.Errorf("without a token: %+v, %v", res, err)
	}
	st.SetSetting(ctx, p, SettingGitHubToken, "wrong")
	st.SetSetting(ctx, p, SettingGitHubURL, srv.URL)
	// A run of a branch, not of a pull request: nothing is sent.
	if res, err := rep.Report(ctx, p, addRun(t, st, p, "main", 0, "github", 1000)); err != nil || res.Forge != "" {
		t.Errorf("push run: %+v, %v", res, err)
	}
	if reqs, _ := fake.snapshot(); len(reqs) != 0 {
		t.Errorf("requests sent: %+v", reqs)
	}
	// A wrong token: the forge's refusal is the error, without the token.
	_, err = rep.Report(ctx, p, addRun(t, st, p, "feature", 5, "github", 1000))
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong token: %v", err)
	}
}

// TestConcurrentParts: the parts of one run arrive together and each calls
// the hook; the MR still gets one comment.
func TestConcurrentParts(t *testing.T) {
	ctx := context.Background()
	fake, srv := newForgeFake(t, "tok")
	st := testStore(t)
	p, err := st.EnsureProject(ctx, "acme", "busy")
	if err != nil {
		t.Fatal(err)
	}
	st.SetSetting(ctx, p, SettingGitHubToken, "tok")
	st.SetSetting(ctx, p, SettingGitHubURL, srv.URL)
	addRun(t, st, p, "main", 0, "github", 1000)
	run := addRun(t, st, p, "feature", 9, "github", 1100)
	rep := &Reporter{Store: st}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Hook(ctx, p, run)
		}()
	}
	wg.Wait()
	_, cs := fake.snapshot()
	if n := len(cs["acme/busy#9"]); n != 1 {
		t.Errorf("%d comments, want 1", n)
	}
}

func TestTruncate(t *testing.T) {
	body := Marker + "\n" + strings.Repeat("| a | b |\n", 10000)
	got := truncate(body, 65000)
	if len(got) > 65000 || !strings.HasPrefix(got, Marker) || !strings.Contains(got, "truncated") {
		t.Errorf("truncated to %d bytes: %.80q", len(got), got[len(got)-80:])
	}
	if !strings.Contains(got, "| a | b |\n\n…") {
		t.Error("not cut at a line end")
	}
	if truncate("short", 100) != "short" {
		t.Error("a short body changed")
	}
}
