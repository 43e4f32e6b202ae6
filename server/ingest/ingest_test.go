package ingest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/upload"
	"github.com/codspeed-go/codspeed-go/server/store"
	"github.com/codspeed-go/codspeed-go/server/store/storetest"
)

type env struct {
	st    *store.Store
	srv   *httptest.Server
	token string
	p     *store.Project
	log   *bytes.Buffer
}

// newEnv serves a Handler on loopback over a fresh store of each dialect.
func newEnvs(t *testing.T, maxUpload int64) map[string]*env {
	t.Helper()
	ctx := context.Background()
	dbs := map[string]string{store.SQLite: "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite")}
	if url := storetest.PostgresURL(t); url != "" {
		dbs[store.Postgres] = url
	}
	out := map[string]*env{}
	for dialect, db := range dbs {
		st, err := store.Open(ctx, db, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		token, err := st.CreateToken(ctx, "acme", "widget")
		if err != nil {
			t.Fatal(err)
		}
		p, err := st.Project(ctx, "acme", "widget")
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		h := &Handler{Store: st, MaxUploadSize: maxUpload, Limits: Limits{MaxExpanded: 4 << 20, MaxEntries: 1000, MaxFile: 1 << 20}, Log: slog.New(slog.NewTextHandler(&log, nil))}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		out[dialect] = &env{st: st, srv: srv, token: token, p: p, log: &log}
	}
	return out
}

func profileFolder(t *testing.T, median float64) string {
	t.Helper()
	dir := t.TempDir()
	f := &results.File{
		Creator:    results.Creator{Name: "codspeed-go", Version: "test", Pid: 42},
		Instrument: results.Instrument{Type: results.Walltime},
		Run:        &results.RunInfo{ID: "r", Mode: results.Walltime, StartedAt: time.Now()},
		Benchmarks: []results.Benchmark{{Name: "sort", URI: "exec_harness::sort",
			Stats: &results.Stats{MedianNs: median, Rounds: 3}, Samples: []float64{median, median, median},
			Profile: &results.Profile{Event: "cpu-clock", Folded: "perf/sort.folded"}}},
	}
	if _, err := results.WriteResults(dir, f); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "perf"), 0o755)
	os.WriteFile(filepath.Join(dir, "perf", "sort.folded"), []byte("main;sort 7\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "perf", "ignored.data"), bytes.Repeat([]byte("x"), 10000), 0o644)
	return dir
}

func metadata(b *upload.Bundle, runID, partID string) upload.Metadata {
	md := upload.Metadata{Version: upload.MetadataVersion, ProfileMd5: b.MD5, Runner: upload.Runner{Name: "codspeed-go", Version: "test", Instruments: []string{}, Executor: "walltime"},
		RunEnvironment: "LOCAL", RepositoryProvider: "PROJECT", CommitHash: "0123456789abcdef0123456789abcdef01234567",
		Ref: "refs/heads/main", Owner: "acme", Repository: "widget", Event: "push"}
	if runID != "" {
		md.RunPart = &upload.RunPart{RunID: runID, RunPartID: partID, JobName: "bench", Metadata: map[string]string{"mode": "walltime"}}
	}
	if b.Encoding != "" {
		e := b.Encoding
		md.ProfileEncoding = &e
	}
	return md
}

func (e *env) upload(t *testing.T, token string, md upload.Metadata, b *upload.Bundle) (*upload.Response, error) {
	t.Helper()
	return upload.Upload(context.Background(), upload.Options{URL: e.srv.URL + "/upload", Token: token, Retries: -1}, md, b)
}

func (e *env) runCount(t *testing.T) int {
	t.Helper()
	runs, err := e.st.Runs(context.Background(), e.p, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(runs)
}

func TestUploadWithTheRunnersClient(t *testing.T) {
	for dialect, e := range newEnvs(t, 1<<20) {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			for _, gz := range []bool{false, true} {
				b, err := upload.Archive(profileFolder(t, 100), gz)
				if err != nil {
					t.Fatal(err)
				}
				runID := fmt.Sprintf("ci-%v", gz)
				resp, err := e.upload(t, e.token, metadata(b, runID, runID+"-walltime"), b)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != "ok" || len(resp.RunID) != 16 {
					t.Fatalf("answer %+v", resp)
				}
				// A retry of the same part (a new POST and PUT) is stored once.
				if _, err := e.upload(t, e.token, metadata(b, runID, runID+"-walltime"), b); err != nil {
					t.Fatal(err)
				}
				// A second part of the CI run joins the run.
				b2, _ := upload.Archive(profileFolder(t, 200), gz)
				resp2, err := e.upload(t, e.token, metadata(b2, runID, runID+"-walltime-1"), b2)
				if err != nil {
					t.Fatal(err)
				}
				run, err := e.st.Run(ctx, resp2.RunID)
				if err != nil || len(run.Parts) != 2 || run.Benchmarks != 2 || run.Branch != "main" || run.CIRunID != runID {
					t.Fatalf("run: %v %+v", err, run)
				}
				bs, _ := e.st.Benchmarks(ctx, run.ID)
				data, err := e.st.Artifact(ctx, run.ID, bs[0].PartID, "perf/sort.folded")
				if err != nil || string(data) != "main;sort 7\n" {
					t.Fatalf("folded stacks kept: %v %q", err, data)
				}
				if _, err := e.st.Artifact(ctx, run.ID, bs[0].PartID, "perf/ignored.data"); err == nil {
					t.Fatal("an unreferenced file was kept")
				}
			}
			if n := e.runCount(t); n != 2 {
				t.Fatalf("%d runs, want 2", n)
			}
			if strings.Contains(e.log.String(), e.token) || strings.Contains(e.log.String(), "/upload/archive/") && !strings.Contains(e.log.String(), "run part stored") {
				t.Fatalf("log: %s", e.log)
			}
		})
	}
}

func TestUploadRefused(t *testing.T) {
	for dialect, e := range newEnvs(t, 64<<10) {
		t.Run(dialect, func(t *testing.T) {
			b, err := upload.Archive(profileFolder(t, 100), true)
			if err != nil {
				t.Fatal(err)
			}
			md := metadata(b, "ci-1", "ci-1-walltime")
			check := func(what string, err error, status int, text string) {
				t.Helper()
				ue, ok := err.(*upload.Error)
				if !ok || ue.StatusCode != status || !strings.Contains(ue.Message, text) {
					t.Errorf("%s: got %v, want HTTP %d with %q", what, err, status, text)
				}
			}
			_, err = e.upload(t, "", md, b)
			check("no token", err, 401, "needs an upload token")
			_, err = e.upload(t, e.token+"x", md, b)
			check("wrong token", err, 401, "invalid token")
			_, err = e.upload(t, "cst_"+strings.Repeat("0", 12)+"_x", md, b)
			check("unknown token", err, 401, "invalid token")
			other := md
			other.Repository = "gadget"
			_, err = e.upload(t, e.token, other, b)
			check("other project", err, 403, "the token is for project acme/widget")
			bad := md
			bad.CommitHash = "not-a-commit"
			_, err = e.upload(t, e.token, bad, b)
			check("bad metadata", err, 400, "commitHash")
			if strings.Contains(e.log.String(), e.token) {
				t.Fatal("token logged")
			}

			// Archives, PUT by hand after a good POST.
			put := func(data []byte, md5sum string, gz bool) (int, string) {
				t.Helper()
				bb := &upload.Bundle{Data: data, MD5: md5sum}
				if gz {
					bb.Encoding = "gzip"
				}
				mdx := metadata(bb, "ci-x", "ci-x-part")
				body, _ := json.Marshal(mdx)
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/upload", bytes.NewReader(body))
				req.Header.Set("Authorization", e.token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var ans UploadAnswer
				json.NewDecoder(resp.Body).Decode(&ans)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("POST: %d", resp.StatusCode)
				}
				req, _ = http.NewRequest(http.MethodPut, ans.UploadURL, bytes.NewReader(data))
				resp, err = http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				msg, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(msg)
			}
			sum := func(d []byte) string { s := md5.Sum(d); return base64.StdEncoding.EncodeToString(s[:]) }
			expect := func(what string, status int, msg string, wantStatus int, text string) {
				t.Helper()
				if status != wantStatus || !strings.Contains(msg, text) {
					t.Errorf("%s: HTTP %d %s, want %d with %q", what, status, msg, wantStatus, text)
				}
			}
			s, m := put(b.Data, sum([]byte("other")), true)
			expect("wrong MD5", s, m, 400, "does not match the metadata's profileMd5")
			big := bytes.Repeat([]byte("y"), 100<<10)
			s, m = put(big, sum(big), false)
			expect("oversize", s, m, 413, "more than the server's limit")
			corrupt := append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{1}, 100)...)
			s, m = put(corrupt, sum(corrupt), true)
			expect("corrupt gzip", s, m, 400, "corrupt")
			trunc := b.Data[:len(b.Data)/2]
			s, m = put(trunc, sum(trunc), true)
			expect("truncated", s, m, 400, "archive")
			trav := tarOf(t, map[string]string{"../../etc/evil": "x", "results/1.json": resultsJSON})
			s, m = put(trav, sum(trav), false)
			expect("traversal", s, m, 400, "path traversal refused")
			abs := tarOf(t, map[string]string{"/etc/evil": "x"})
			s, m = put(abs, sum(abs), false)
			expect("absolute", s, m, 400, "path traversal refused")
			bomb := gzipOf(t, tarOf(t, map[string]string{"results/1.json": resultsJSON, "zeros": strings.Repeat("\x00", 8<<20)}))
			s, m = put(bomb, sum(bomb), true)
			expect("bomb", s, m, 413, "decompression bomb")
			empty := tarOf(t, map[string]string{"perf/x": "x"})
			s, m = put(empty, sum(empty), false)
			expect("no results", s, m, 400, "no results file")
			// CodSpeed's runner in simulation mode: callgrind profiles only.
			// Stored without figures, and the answer says so.
			cg := tarOf(t, map[string]string{"4242.out": "# callgrind format\nversion: 1\ncreator: callgrind-3.25.1.codspeed\n", "4242.log": "x"})
			s, m = put(cg, sum(cg), false)
			expect("callgrind only", s, m, 200, "stored without figures")
			if n := e.runCount(t); n != 1 {
				t.Fatalf("%d runs after a callgrind-only upload, want 1", n)
			}
			runs, _ := e.st.Runs(context.Background(), e.p, store.RunFilter{})
			if len(runs) != 1 || runs[0].Benchmarks != 0 {
				t.Fatalf("callgrind-only run: %+v", runs)
			}
			notResults := tarOf(t, map[string]string{"results/1.json": `{"benchmarks": [`})
			s, m = put(notResults, sum(notResults), false)
			expect("bad results", s, m, 400, "not a results file")

			if n := e.runCount(t); n != 1 {
				t.Fatalf("%d runs stored, want only the callgrind-only one", n)
			}
			// An unknown upload URL.
			req, _ := http.NewRequest(http.MethodPut, e.srv.URL+ArchivePath+"nope", strings.NewReader("x"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 404 {
				t.Fatalf("unknown upload URL: %v %v", err, resp.StatusCode)
			}
			resp.Body.Close()
		})
	}
}

const resultsJSON = `{"creator": {"name": "t", "version": "1", "pid": 1}, "instrument": {"type": "walltime"},
 "benchmarks": [{"name": "a", "uri": "a", "stats": {"median_ns": 5}}]}`

func tarOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	return buf.Bytes()
}

func gzipOf(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func TestReadArchiveLimits(t *testing.T) {
	lim := Limits{MaxExpanded: 1 << 20, MaxEntries: 3, MaxFile: 1 << 10}
	many := tarOf(t, map[string]string{"a": "", "b": "", "c": "", "d": ""})
	if _, err := ReadArchive(bytes.NewReader(many), false, lim); err == nil || !err.(*ArchiveError).TooLarge {
		t.Errorf("entries: %v", err)
	}
	bigResults := tarOf(t, map[string]string{"results/1.json": strings.Repeat(" ", 2<<10) + resultsJSON})
	if _, err := ReadArchive(bytes.NewReader(bigResults), false, lim); err == nil || !strings.Contains(err.Error(), "results file of") {
		t.Errorf("results file size: %v", err)
	}
	ok := tarOf(t, map[string]string{"results/1.json": resultsJSON})
	a, err := ReadArchive(bytes.NewReader(ok), false, lim)
	if err != nil || len(a.Files) != 1 || a.Benchmarks() != 1 {
		t.Fatalf("%v %+v", err, a)
	}
	if _, err := ReadArchive(bytes.NewReader(ok), true, lim); err == nil || !strings.Contains(err.Error(), "not gzip") {
		t.Errorf("declared gzip: %v", err)
	}
	// A hard link out of the folder.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeLink, Linkname: "../../x"})
	tw.Close()
	if _, err := ReadArchive(&buf, false, lim); err == nil || !strings.Contains(err.Error(), "path traversal") {
		t.Errorf("hard link: %v", err)
	}
}

func TestReadArchiveDropsEscapingProfilePaths(t *testing.T) {
	js := `{"creator": {"name": "t", "version": "1", "pid": 1}, "instrument": {"type": "walltime"}, "benchmarks": [
		{"name": "a", "uri": "a", "profile": {"folded": "/etc/passwd", "raw": "../../x", "flamegraph": "./perf/a.svg"}},
		{"name": "b", "uri": "b", "profile": {"folded": "./perf/b.folded"}}]}`
	a, err := ReadArchive(bytes.NewReader(tarOf(t, map[string]string{"results/1.json": js, "perf/b.folded": "b 1\n"})), false, DefaultLimits(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := a.Files[0].Benchmarks[0].Profile, a.Files[0].Benchmarks[1].Profile
	if pa.Folded != "" || pa.Raw != "" || pa.Flamegraph != "perf/a.svg" || pb.Folded != "perf/b.folded" {
		t.Fatalf("profile paths: %+v %+v", pa, pb)
	}
	if len(a.Artifacts) != 1 || string(a.Artifacts["perf/b.folded"]) != "b 1\n" {
		t.Fatalf("artifacts: %v", a.Artifacts)
	}
}

func TestMetadataBranch(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		md     Metadata
		branch string
		pr     int
	}{
		{Metadata{Ref: "refs/heads/main"}, "main", 0},
		{Metadata{Ref: "refs/heads/feat/x", HeadRef: str("feat/x")}, "feat/x", 0},
		{Metadata{Ref: "refs/pull/12/merge", HeadRef: str("fork:feat"), BaseRef: str("main")}, "fork:feat", 12},
		{Metadata{Ref: "refs/tags/v1"}, "", 0},
		{Metadata{Ref: "0123abcd"}, "", 0},
	} {
		if b, pr := c.md.Branch(), c.md.PullRequest(); b != c.branch || pr != c.pr {
			t.Errorf("%+v: branch %q pr %d, want %q %d", c.md, b, pr, c.branch, c.pr)
		}
	}
}

func TestMetadataFromCodSpeedsRunner(t *testing.T) {
	// CodSpeed's runner sends run-part metadata of any JSON (a GitHub
	// matrix), a sender id as a string, and fields this server ignores.
	md, err := ParseMetadata([]byte(`{"repositoryProvider": "GITHUB", "version": 10, "tokenless": false,
		"profileMd5": "1B2M2Y8AsgTpgAmY7PhCfg==", "profileEncoding": "gzip",
		"runner": {"name": "codspeed-runner", "version": "4.1.0", "instruments": [], "executor": "valgrind", "os": "ubuntu", "cpuCores": 4},
		"runEnvironment": "GITHUB_ACTIONS", "runPart": {"runId": "123", "runPartId": "bench-{\"os\":\"ubuntu\"}", "jobName": "bench",
		"metadata": {"matrix": {"os": "ubuntu", "n": 3}, "strategy": null}}, "commitHash": "abcdef0123456789abcdef0123456789abcdef01",
		"allowEmpty": false, "ref": "refs/pull/7/merge", "headRef": "fix", "baseRef": "main", "owner": "acme", "repository": "widget",
		"event": "pull_request", "sender": {"id": "42", "login": "alice"}, "ghData": {"runId": "123", "job": "bench"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if md.Mode() != "simulation" || md.Branch() != "fix" || md.PullRequest() != 7 || md.SenderLogin() != "alice" || !md.Gzipped() {
		t.Fatalf("%+v", md)
	}
	if _, err := ParseMetadata([]byte(`{"profileMd5": "1B2M2Y8AsgTpgAmY7PhCfg==", "commitHash": "abcd", "ref": "x", "runPart": {"runId": "1", "runPartId": "2", "metadata": {"mode": 3}}}`)); err == nil || !strings.Contains(err.Error(), "runPart.metadata.mode") {
		t.Fatalf("mode not a string: %v", err)
	}
}

func FuzzParseMetadata(f *testing.F) {
	for _, s := range []string{
		`{"version": 10, "profileMd5": "1B2M2Y8AsgTpgAmY7PhCfg==", "commitHash": "abcd1234", "ref": "refs/heads/main", "runPart": {"runId": "1", "runPartId": "1-a", "metadata": {"mode": "walltime"}}}`,
		`{"profileMd5": "x"}`, `[]`, `{"ref": "\u0000"}`, `{} {}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := ParseMetadata(data)
		if err != nil {
			if _, ok := err.(*MetadataError); !ok {
				t.Fatalf("error type %T: %v", err, err)
			}
			return
		}
		if md.ProfileMd5 == "" || md.CommitHash == "" || md.Ref == "" {
			t.Fatalf("accepted without required fields: %+v", md)
		}
		md.Branch()
		md.PullRequest()
		md.Mode()
	})
}

func FuzzReadArchive(f *testing.F) {
	f.Add(tarOf(f, map[string]string{"results/1.json": resultsJSON, "perf/a.folded": "a;b 1\n"}), false)
	f.Add(gzipOf(f, tarOf(f, map[string]string{"results/1.json": resultsJSON})), true)
	f.Add(tarOf(f, map[string]string{"../x": "x"}), false)
	f.Add([]byte{0x1f, 0x8b, 8, 0}, true)
	lim := Limits{MaxExpanded: 1 << 20, MaxEntries: 100, MaxFile: 64 << 10}
	f.Fuzz(func(t *testing.T, data []byte, gz bool) {
		a, err := ReadArchive(bytes.NewReader(data), gz, lim)
		if err != nil {
			if _, ok := err.(*ArchiveError); !ok {
				t.Fatalf("error type %T: %v", err, err)
			}
			return
		}
		for _, f := range a.Files {
			if f.Instrument.Type == "" {
				t.Fatal("results file without instrument accepted")
			}
		}
		for p := range a.Artifacts {
			if strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
				t.Fatalf("artifact path %q kept", p)
			}
		}
	})
}
