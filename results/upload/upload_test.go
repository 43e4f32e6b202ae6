package upload

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "cs_tok_7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e"

// profileFolder makes a profile folder like a simulation run leaves behind.
func profileFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"results/4242.json": `{"creator":{"name":"codspeed-go","version":"1.2.3","pid":4242},"instrument":{"type":"simulation"},"benchmarks":[]}`,
		"4242.out":          "# callgrind format\nversion: 1\nevents: Ir\n",
		"perf/4243.map":     "7f00 10 main.hot\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func prInfo() *Source {
	return &Source{
		Provider: "GITHUB_ACTIONS", RepositoryProvider: "GITHUB", Owner: "codspeed-go", Repository: "codspeed-go",
		Ref: "refs/pull/42/merge", HeadRef: "feat/faster-parser", BaseRef: "main", Event: "pull_request",
		CommitHash:         "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807",
		Sender:             &Sender{ID: "583231", Login: "octocat"},
		GhData:             &GhData{RunID: "11893460077", Job: "benchmarks"},
		RepositoryRootPath: "/home/runner/work/codspeed-go/codspeed-go/",
	}
}

func testRunner() Runner {
	return Runner{Name: "codspeed-go", Version: "1.2.3", Executor: ExecutorValgrind, System: System{
		OS: "debian", OSVersion: "12", Arch: "x86_64", Host: "ci-1", User: "runner", CPUBrand: "AMD EPYC",
		CPUName: "cpu0", CPUVendorID: "AuthenticAMD", CPUCores: 2, TotalMemoryGb: 24,
	}}
}

// tarNames lists a (possibly gzipped) tar stream's entries and file contents.
func tarNames(t *testing.T, data []byte, gzipped bool) map[string]string {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("archive is not gzip: %v", err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("archive is not a tar: %v", err)
		}
		body, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeSymlink {
			body = []byte("-> " + h.Linkname)
		}
		out[h.Name] = string(body)
	}
}

// fakeServer speaks the CodSpeed upload protocol and records what it saw.
type fakeServer struct {
	t *testing.T
	*httptest.Server
	mu        sync.Mutex
	posts     int
	puts      int
	failPuts  int // answer 503 to this many PUTs first
	metadata  map[string]any
	putBody   []byte
	putHeader http.Header
	// postStatus, when non-zero, answers every POST with it and postBody.
	postStatus int
	postBody   string
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/upload":
		f.posts++
		if f.postStatus != 0 {
			w.WriteHeader(f.postStatus)
			io.WriteString(w, f.postBody)
			return
		}
		if got := r.Header.Get("Authorization"); got != testToken {
			f.t.Errorf("POST Authorization = %q, want the raw token", got)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			f.t.Errorf("POST Content-Type = %q", got)
		}
		if got := r.Header.Get("User-Agent"); got != "codspeed-go/1.2.3" {
			f.t.Errorf("POST User-Agent = %q", got)
		}
		f.metadata = nil
		if err := json.Unmarshal(body, &f.metadata); err != nil {
			f.t.Errorf("POST body is not JSON: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","uploadUrl":"`+f.URL+`/storage/run-77.tar?X-Amz-Signature=s3cr3tsig&X-Amz-Expires=600","runId":"run-77"}`)
	case r.Method == http.MethodPut && r.URL.Path == "/storage/run-77.tar":
		f.puts++
		if r.URL.Query().Get("X-Amz-Signature") != "s3cr3tsig" {
			f.t.Errorf("PUT lost the pre-signed query: %s", r.URL)
		}
		if f.puts <= f.failPuts {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "<Error><Code>SlowDown</Code></Error>")
			return
		}
		f.putBody = body
		f.putHeader = r.Header.Clone()
		f.putHeader.Set("X-Content-Length", func() string { b, _ := json.Marshal(r.ContentLength); return string(b) }())
		w.WriteHeader(http.StatusOK)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestUploadProtocol(t *testing.T) {
	for _, gz := range []bool{true, false} {
		name := map[bool]string{true: "simulation-tar.gz", false: "walltime-tar"}[gz]
		t.Run(name, func(t *testing.T) {
			srv := newFakeServer(t)
			srv.failPuts = 1
			b, err := Archive(profileFolder(t), gz)
			if err != nil {
				t.Fatal(err)
			}
			part := &RunPart{RunID: "11893460077", RunPartID: PartID("benchmarks", 1), JobName: "benchmarks"}
			md := NewMetadata(prInfo(), testRunner(), b, part, false, false)
			var log bytes.Buffer
			resp, err := Upload(context.Background(), Options{
				URL: srv.URL + "/upload", Token: testToken, UserAgent: "codspeed-go/1.2.3",
				Backoff: time.Millisecond, Log: &log,
			}, md, b)
			if err != nil {
				t.Fatalf("upload: %v\nlog:\n%s", err, log.String())
			}
			if resp.RunID != "run-77" || resp.Status != "success" {
				t.Errorf("response %+v", resp)
			}
			if srv.posts != 1 || srv.puts != 2 {
				t.Errorf("POSTs %d, PUTs %d; want 1 and 2 (one 503 then success)", srv.posts, srv.puts)
			}
			if !strings.Contains(log.String(), "retrying in 1ms") {
				t.Errorf("log does not mention the retry:\n%s", log.String())
			}

			// Every header of the PUT.
			h := srv.putHeader
			sum := md5.Sum(srv.putBody)
			serverMD5 := base64.StdEncoding.EncodeToString(sum[:])
			if h.Get("Content-MD5") != serverMD5 || serverMD5 != b.MD5 {
				t.Errorf("Content-MD5 %q, body's MD5 %q, bundle %q", h.Get("Content-MD5"), serverMD5, b.MD5)
			}
			if h.Get("Content-Type") != "application/x-tar" {
				t.Errorf("PUT Content-Type %q", h.Get("Content-Type"))
			}
			if h.Get("X-Content-Length") != itoa(len(b.Data)) || len(srv.putBody) != len(b.Data) {
				t.Errorf("PUT Content-Length %s, body %d bytes, archive %d", h.Get("X-Content-Length"), len(srv.putBody), len(b.Data))
			}
			wantEnc := map[bool]string{true: "gzip", false: ""}[gz]
			if h.Get("Content-Encoding") != wantEnc {
				t.Errorf("PUT Content-Encoding %q, want %q", h.Get("Content-Encoding"), wantEnc)
			}
			if h.Get("User-Agent") != "codspeed-go/1.2.3" {
				t.Errorf("PUT User-Agent %q", h.Get("User-Agent"))
			}
			if h.Get("Authorization") != "" {
				t.Errorf("the token was sent to the storage URL")
			}
			files := tarNames(t, srv.putBody, gz)
			if files["results/4242.json"] == "" || files["4242.out"] == "" || files["perf/4243.map"] != "7f00 10 main.hot\n" {
				t.Errorf("archive entries: %v", keys(files))
			}

			// Every field of the metadata, by name and value.
			want := map[string]any{
				"version": float64(MetadataVersion), "tokenless": false, "profileMd5": b.MD5,
				"profileEncoding": map[bool]any{true: "gzip", false: nil}[gz],
				"runner": map[string]any{
					"name": "codspeed-go", "version": "1.2.3", "instruments": []any{}, "executor": "valgrind",
					"os": "debian", "osVersion": "12", "arch": "x86_64", "host": "ci-1", "user": "runner",
					"cpuBrand": "AMD EPYC", "cpuName": "cpu0", "cpuVendorId": "AuthenticAMD", "cpuCores": float64(2), "totalMemoryGb": float64(24),
				},
				"runEnvironment": "GITHUB_ACTIONS", "repositoryProvider": "GITHUB",
				"commitHash": "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807", "allowEmpty": false,
				"ref": "refs/pull/42/merge", "headRef": "feat/faster-parser", "baseRef": "main",
				"owner": "codspeed-go", "repository": "codspeed-go", "event": "pull_request",
				"sender":             map[string]any{"id": "583231", "login": "octocat"},
				"ghData":             map[string]any{"runId": "11893460077", "job": "benchmarks"},
				"glData":             nil,
				"repositoryRootPath": "/home/runner/work/codspeed-go/codspeed-go/",
				"runPart":            map[string]any{"runId": "11893460077", "runPartId": "benchmarks-1", "jobName": "benchmarks", "metadata": map[string]any{}},
			}
			gotJSON, _ := json.MarshalIndent(srv.metadata, "", " ")
			wantJSON, _ := json.MarshalIndent(want, "", " ")
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Errorf("metadata sent:\n%s\nwant:\n%s", gotJSON, wantJSON)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestUploadClientErrorNotRetried(t *testing.T) {
	srv := newFakeServer(t)
	srv.postStatus = http.StatusUnauthorized
	srv.postBody = `{"error":"Repository codspeed-go/codspeed-go not found or token invalid"}`
	b, err := Archive(profileFolder(t), false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Upload(context.Background(), Options{URL: srv.URL + "/upload", Token: testToken, Backoff: time.Millisecond},
		NewMetadata(prInfo(), testRunner(), b, nil, false, false), b)
	var ue *Error
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want *Error", err)
	}
	if ue.StatusCode != 401 || ue.Retryable() || srv.posts != 1 {
		t.Errorf("status %d retryable %v after %d POSTs; want 401, not retryable, 1 POST", ue.StatusCode, ue.Retryable(), srv.posts)
	}
	if !strings.Contains(err.Error(), "not found or token invalid") || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("error does not carry the server's text: %v", err)
	}
}

func TestUploadServerErrorRetriedThenFails(t *testing.T) {
	srv := newFakeServer(t)
	srv.postStatus = http.StatusBadGateway
	srv.postBody = "bad gateway"
	b, _ := Archive(profileFolder(t), false)
	start := time.Now()
	_, err := Upload(context.Background(), Options{URL: srv.URL + "/upload", Token: testToken, Backoff: 5 * time.Millisecond},
		NewMetadata(prInfo(), testRunner(), b, nil, false, false), b)
	var ue *Error
	if !errors.As(err, &ue) || ue.StatusCode != 502 || !ue.Retryable() || ue.Attempts != 4 || srv.posts != 4 {
		t.Fatalf("got %v (%d POSTs), want HTTP 502 after 4 attempts", err, srv.posts)
	}
	// Backoff 5+10+20 ms.
	if d := time.Since(start); d < 35*time.Millisecond {
		t.Errorf("3 retries took %v, want at least 35ms of exponential backoff", d)
	}
}

func TestUploadNetworkErrorAndCancel(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more
	b, _ := Archive(profileFolder(t), false)
	md := NewMetadata(prInfo(), testRunner(), b, nil, false, false)
	_, err := Upload(context.Background(), Options{URL: addr + "/upload", Token: testToken, Backoff: time.Millisecond, Retries: 2}, md, b)
	var ue *Error
	if !errors.As(err, &ue) || ue.StatusCode != 0 || ue.Attempts != 3 || !ue.Retryable() {
		t.Fatalf("got %v, want a network error after 3 attempts", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Upload(ctx, Options{URL: addr + "/upload", Token: testToken, Backoff: time.Hour}, md, b)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled upload: got %v, want context.Canceled", err)
	}
}

// TestTokenNeverLeaks captures everything a failing upload produces (log,
// error, files) while the servers echo the token back in every answer, and
// checks the token appears nowhere.
func TestTokenNeverLeaks(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request, status int) {
		w.WriteHeader(status)
		io.WriteString(w, `{"error":"bad credentials: `+r.Header.Get("Authorization")+` for `+r.URL.String()+`"}`)
	}
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		echo(w, r, http.StatusForbidden)
	}))
	defer storage.Close()
	scenarios := map[string]http.HandlerFunc{
		"POST 401 echoes the token": func(w http.ResponseWriter, r *http.Request) { echo(w, r, 401) },
		"POST 500 echoes the token": func(w http.ResponseWriter, r *http.Request) { echo(w, r, 500) },
		"POST 200 with error":       func(w http.ResponseWriter, r *http.Request) { echo(w, r, 200) },
		"PUT 403 echoes the URL": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"status":"ok","runId":"r","uploadUrl":"`+storage.URL+`/put?sig=`+testToken+`"}`)
		},
		"uploadUrl not http": func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"status":"ok","runId":"r","uploadUrl":"ftp://x/`+testToken+`"}`)
		},
	}
	for name, h := range scenarios {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			dir := profileFolder(t)
			stateDir := filepath.Join(t.TempDir(), RunStateDir)
			idx, err := NextRunPart(stateDir, "run-"+name)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Archive(dir, true)
			var log bytes.Buffer
			md := NewMetadata(prInfo(), testRunner(), b, &RunPart{RunID: "x", RunPartID: PartID("j", idx)}, false, false)
			// The token also sits in the upload URL's query, as a careless
			// user might put it there.
			_, err = Upload(context.Background(), Options{
				URL: srv.URL + "/upload?token=" + testToken, Token: testToken, Backoff: time.Millisecond, Log: &log,
			}, md, b)
			if err == nil {
				t.Fatal("upload succeeded against a failing server")
			}
			output := log.String() + "\n" + err.Error() + "\n" + errorChain(err)
			if strings.Contains(output, testToken) {
				t.Errorf("token leaked:\n%s", output)
			}
			if !strings.Contains(output, redacted) && name != "uploadUrl not http" && name != "PUT 403 echoes the URL" {
				t.Errorf("expected the echoed token to be shown redacted:\n%s", output)
			}
			for _, root := range []string{dir, filepath.Dir(stateDir)} {
				filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
					if err == nil && fi.Mode().IsRegular() {
						data, _ := os.ReadFile(p)
						if bytes.Contains(data, []byte(testToken)) {
							t.Errorf("token written to %s", p)
						}
					}
					return nil
				})
			}
			if bytes.Contains(b.Data, []byte(testToken)) {
				t.Error("token inside the archive")
			}
		})
	}
}

func errorChain(err error) string {
	var s []string
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		s = append(s, e.Error())
	}
	return strings.Join(s, "\n")
}

func TestMetadataMismatch(t *testing.T) {
	b, _ := Archive(profileFolder(t), false)
	md := NewMetadata(prInfo(), testRunner(), b, nil, true, false)
	md.ProfileMd5 = "AAAA"
	if _, err := Upload(context.Background(), Options{URL: "http://127.0.0.1:1/upload"}, md, b); err == nil {
		t.Error("metadata with another archive's MD5 accepted")
	}
}
