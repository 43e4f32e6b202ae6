package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
)

// fakeCodSpeed is a CodSpeed-compatible upload endpoint on loopback that
// records what it received; it refuses everything while down is set.
type fakeCodSpeed struct {
	mu       sync.Mutex
	down     bool
	metadata []map[string]any
	auth     []string
	puts     int
}

func (f *fakeCodSpeed) handler(srv **httptest.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.down {
			http.Error(w, `{"error": "service unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/upload":
			var md map[string]any
			json.NewDecoder(r.Body).Decode(&md)
			f.metadata = append(f.metadata, md)
			f.auth = append(f.auth, r.Header.Get("Authorization"))
			fmt.Fprintf(w, `{"status": "ok", "uploadUrl": "%s/put/%d", "runId": "remote-1"}`, (*srv).URL, len(f.metadata))
		case r.Method == http.MethodPut:
			io.Copy(io.Discard, r.Body)
			if r.Header.Get("Content-MD5") == "" || r.Header.Get("Content-Type") != "application/x-tar" {
				http.Error(w, "bad headers", http.StatusBadRequest)
				return
			}
			f.puts++
		default:
			http.NotFound(w, r)
		}
	})
}

func TestUploadAfterRunAndRetry(t *testing.T) {
	fake := &fakeCodSpeed{down: true}
	var srv *httptest.Server
	srv = httptest.NewServer(fake.handler(&srv))
	defer srv.Close()
	const token = "tok-very-secret-123"

	dir := t.TempDir()
	// Upload metadata names the commit: make the directory a checkout.
	for _, args := range [][]string{{"init", "-q"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "c"}} {
		git := exec.Command("git", args...)
		git.Dir = dir
		if out, err := git.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	// The endpoint is down: the run is kept, the exit status says so, and
	// the message tells how to retry; the token is never printed.
	r := codspeed(t, dir, "", "exec", "--upload-url", srv.URL+"/upload", "--token", token,
		"--warmup-time", "0", "--max-rounds", "2", "--", primes, "1000")
	if r.code != 1 || !strings.Contains(r.stderr, "retry with `codspeed upload ") {
		t.Fatalf("failed upload: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Fatal("token printed")
	}
	runs := storeRuns(t, dir)
	if len(runs) != 1 || runs[0].Parts[0].Benchmarks != 1 {
		t.Fatalf("run not kept: %+v", runs)
	}

	// Retry through `codspeed upload RUN` once the endpoint is back, with the
	// token from the environment this time.
	fake.mu.Lock()
	fake.down = false
	fake.mu.Unlock()
	cmd := newCmd(dir, "upload", "--upload-url", srv.URL+"/upload", runs[0].ID)
	cmd.Env = append(cmd.Env, "CODSPEED_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if strings.Contains(string(out), token) {
		t.Fatal("token printed")
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.metadata) != 1 || fake.puts != 1 || fake.auth[0] != token {
		t.Fatalf("server saw %d posts, %d puts, auth %q", len(fake.metadata), fake.puts, fake.auth)
	}
	md := fake.metadata[0]
	runner := md["runner"].(map[string]any)
	if md["tokenless"] != false || md["profileMd5"] == "" || runner["name"] != "codspeed-go" || runner["executor"] != "walltime" {
		t.Fatalf("metadata: %v", md)
	}
	if rp := md["runPart"].(map[string]any); !strings.HasPrefix(rp["runPartId"].(string), runs[0].ID) {
		t.Fatalf("run part: %v", rp)
	}
	// Nothing the run wrote contains the token.
	filepath.Walk(filepath.Join(dir, "store"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), token) {
				t.Errorf("token written to %s", p)
			}
		}
		return nil
	})
}

func TestRedactArgs(t *testing.T) {
	got := strings.Join(redactArgs([]string{"codspeed", "run", "--token", "s1", "--token=s2", "--", "prog", "--token", "x"}), " ")
	if got != "codspeed run --token [redacted] --token=[redacted] -- prog --token x" {
		t.Fatal(got)
	}
}

func TestUploadEmptyRun(t *testing.T) {
	err := uploadRun(context.Background(), uploadFlags{url: "http://127.0.0.1:1/upload"}, &results.RunMeta{ID: "r1", Status: results.StatusRunning}, t.TempDir(), false)
	if err == nil || !strings.Contains(err.Error(), "has no results to upload") {
		t.Fatalf("err %v", err)
	}
}
