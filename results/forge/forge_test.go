package forge

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractDir(t *testing.T) {
	data := zipOf(t, map[string]string{
		"codspeed-profile/results/1.json": "{}",
		"codspeed-profile/run.json":       "run",
		"codspeed-report.md":              "report",
		"codspeed-profile-other/x":        "not this folder",
	})
	dest := filepath.Join(t.TempDir(), "baseline")
	n, err := ExtractDir(data, "codspeed-profile", dest)
	if err != nil || n != 2 {
		t.Fatalf("ExtractDir: %d files, %v; want 2", n, err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "results", "1.json")); err != nil || string(b) != "{}" {
		t.Fatalf("results/1.json: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "x")); err == nil {
		t.Fatal("a file of another folder was extracted")
	}
	if n, err := ExtractDir(data, "missing", filepath.Join(t.TempDir(), "none")); err != nil || n != 0 {
		t.Fatalf("absent folder: %d %v", n, err)
	}
	if _, err := ExtractDir([]byte("not a zip"), "codspeed-profile", dest); err == nil {
		t.Fatal("a non-zip was accepted")
	}
}

// FuzzExtractDir: whatever the archive's names, nothing is written outside
// the destination.
func FuzzExtractDir(f *testing.F) {
	f.Add("codspeed-profile/a/b.json", "codspeed-profile/../../escape")
	f.Add("codspeed-profile//x", "/codspeed-profile/y")
	f.Fuzz(func(t *testing.T, a, b string) {
		root := t.TempDir()
		dest := filepath.Join(root, "dest")
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range []string{a, b} {
			w, err := zw.Create(name)
			if err != nil {
				return
			}
			w.Write([]byte("x"))
		}
		if zw.Close() != nil {
			return
		}
		ExtractDir(buf.Bytes(), "codspeed-profile", dest)
		filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && !strings.HasPrefix(p, dest+string(filepath.Separator)) {
				t.Fatalf("%q written outside %s (names %q, %q)", p, dest, a, b)
			}
			return nil
		})
	})
}

// gitlabFake is GitLab's API for one project: job artifacts by ref and job
// name (answering only the JOB-TOKEN it was given) and merge request notes
// (answering only the PRIVATE-TOKEN).
type gitlabFake struct {
	mu        sync.Mutex
	notes     []comment
	requests  []string
	artifacts map[string][]byte // "ref job" -> zip
}

func (g *gitlabFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, r.Method+" "+r.URL.Path)
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v4/projects/42/jobs/artifacts/"):
		if r.Header.Get("JOB-TOKEN") != "job-secret" {
			http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		ref := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v4/projects/42/jobs/artifacts/"), "/download")
		data, ok := g.artifacts[ref+" "+r.URL.Query().Get("job")]
		if !ok {
			http.Error(w, `{"message":"404 Not found"}`, http.StatusNotFound)
			return
		}
		w.Write(data)
	case strings.HasPrefix(r.URL.Path, "/api/v4/projects/42/merge_requests/7/notes"):
		if r.Header.Get("PRIVATE-TOKEN") != "api-secret" {
			http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		switch r.Method {
		case http.MethodGet:
			json.NewEncoder(w).Encode(g.notes)
		case http.MethodPost:
			var in comment
			json.NewDecoder(r.Body).Decode(&in)
			in.ID = int64(100 + len(g.notes))
			g.notes = append(g.notes, in)
			json.NewEncoder(w).Encode(in)
		case http.MethodPut:
			var in comment
			json.NewDecoder(r.Body).Decode(&in)
			for i := range g.notes {
				if strings.HasSuffix(r.URL.Path, "/"+jsonID(g.notes[i].ID)) {
					g.notes[i].Body = in.Body
					json.NewEncoder(w).Encode(g.notes[i])
					return
				}
			}
			http.NotFound(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

func jsonID(id int64) string { b, _ := json.Marshal(id); return string(b) }

func TestArtifacts(t *testing.T) {
	fake := &gitlabFake{artifacts: map[string][]byte{"main benchmarks": zipOf(t, map[string]string{"codspeed-profile/run.json": "x"})}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := &Client{Kind: GitLab, API: srv.URL + "/api/v4", Repo: "42", JobToken: "job-secret"}
	data, err := c.Artifacts(context.Background(), "main", "benchmarks")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := ExtractDir(data, "codspeed-profile", t.TempDir()); err != nil || n != 1 {
		t.Fatalf("extracted %d, %v", n, err)
	}
	if _, err := c.Artifacts(context.Background(), "feature", "benchmarks"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no artifacts on feature: %v, want ErrNotFound", err)
	}
	bad := *c
	bad.JobToken = "wrong"
	_, err = bad.Artifacts(context.Background(), "main", "benchmarks")
	if err == nil || errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong token: %v (must fail, not as not-found, and not show the token)", err)
	}
}

func TestUpsertOneComment(t *testing.T) {
	fake := &gitlabFake{notes: []comment{{ID: 1, Body: "LGTM"}, {ID: 2, Body: Marker + " by GitLab", System: true}}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := &Client{Kind: GitLab, API: srv.URL + "/api/v4", Repo: "42", Token: "api-secret"}
	id, created, err := c.Upsert(context.Background(), 7, Marker+"\nfirst")
	if err != nil || !created {
		t.Fatalf("first: %d %v %v", id, created, err)
	}
	id2, created, err := c.Upsert(context.Background(), 7, Marker+"\nsecond")
	if err != nil || created || id2 != id {
		t.Fatalf("second: %d %v %v, want an update of %d", id2, created, err, id)
	}
	var ours []string
	for _, n := range fake.notes {
		if strings.HasPrefix(n.Body, Marker) && !n.System {
			ours = append(ours, n.Body)
		}
	}
	if len(ours) != 1 || ours[0] != Marker+"\nsecond" {
		t.Fatalf("notes %q, want one, updated", ours)
	}
	// A report of another kind keeps a comment of its own.
	ab := *c
	ab.Marker = KeyedMarker("ab")
	if _, created, err := ab.Upsert(context.Background(), 7, ab.Marker+"\nab"); err != nil || !created {
		t.Fatalf("keyed report: created %v, %v", created, err)
	}
	if _, created, err := c.Upsert(context.Background(), 7, Marker+"\nthird"); err != nil || created {
		t.Fatalf("default report after a keyed one: created %v, %v", created, err)
	}
	if _, created, err := ab.Upsert(context.Background(), 7, ab.Marker+"\nab 2"); err != nil || created {
		t.Fatalf("keyed report again: created %v, %v", created, err)
	}
	if len(fake.notes) != 4 { // two of GitLab's own, ours, the keyed one
		t.Fatalf("%d notes, want 4: %+v", len(fake.notes), fake.notes)
	}
}

func TestTruncate(t *testing.T) {
	body := strings.Repeat("line of a report\n", 1000)
	got := Truncate(body, 1000, "\n(more elsewhere)\n")
	if len(got) > 1000 || !strings.HasSuffix(got, "(more elsewhere)\n") {
		t.Fatalf("truncated to %d bytes: %q", len(got), got[len(got)-40:])
	}
	if Truncate("short", 100, "x") != "short" {
		t.Fatal("a short body was changed")
	}
}
