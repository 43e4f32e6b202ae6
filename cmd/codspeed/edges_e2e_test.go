package main

// End-to-end tests of the rough edges a new user hits first: the version
// every output reports, the output of a failing benchmark, the suggestions
// of messages.

import (
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

// TestVersionEverywhere: the version the binary is linked with is the one
// `codspeed version` prints, the results file's creator names, the JSON
// events carry, and the upload sends (metadata and User-Agent).
func TestVersionEverywhere(t *testing.T) {
	dir := t.TempDir()
	r := codspeed(t, dir, "", "version")
	if r.code != 0 || r.stdout != "codspeed-go "+e2eVersion+"\n" {
		t.Fatalf("codspeed version: exit %d, %q", r.code, r.stdout)
	}

	var mu sync.Mutex
	var agents []string
	var runner map[string]any
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		agents = append(agents, r.Header.Get("User-Agent"))
		if r.Method == http.MethodPost {
			var md struct {
				Runner map[string]any `json:"runner"`
			}
			json.NewDecoder(r.Body).Decode(&md)
			runner = md.Runner
			fmt.Fprintf(w, `{"status": "ok", "uploadUrl": "%s/put", "runId": "r1"}`, srv.URL)
			return
		}
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	for _, args := range [][]string{{"init", "-q"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "c"}} {
		git := exec.Command("git", args...)
		git.Dir = dir
		if out, err := git.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	r = codspeed(t, dir, "", "exec", "--message-format", "json", "--upload-url", srv.URL+"/upload", "--token", "t0k",
		"--warmup-time", "0", "--max-rounds", "2", "--", primes, "1000")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var finished map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stdout line is not JSON: %q", line)
		}
		if ev["event"] == "run_finished" {
			finished = ev
		}
	}
	if finished == nil || finished["version"] != e2eVersion {
		t.Fatalf("run_finished event: %v", finished)
	}
	f, err := results.ReadResults(finished["results"].([]any)[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	if f.Creator.Name != "codspeed-go" || f.Creator.Version != e2eVersion {
		t.Fatalf("results creator %+v, want version %q", f.Creator, e2eVersion)
	}
	mu.Lock()
	defer mu.Unlock()
	if runner == nil || runner["name"] != "codspeed-go" || runner["version"] != e2eVersion {
		t.Fatalf("upload metadata runner: %v", runner)
	}
	if len(agents) != 2 || agents[0] != "codspeed-go/"+e2eVersion || agents[1] != agents[0] {
		t.Fatalf("User-Agent of the POST and the PUT: %q", agents)
	}
}

// TestExecFailureOutput: a failing exec benchmark shows the end of its
// standard error in the terminal; --show-output shows every round's
// standard error as well as its standard output; and a command that writes
// to its (unshown) standard output is not failed by the write.
func TestExecFailureOutput(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "broken.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nset -e\necho 'to stdout'\necho 'fatal: no input file' >&2\nexit 3\n"), 0o755)
	r := codspeed(t, dir, "", "exec", "--warmup-time", "0", "--max-rounds", "3", "--", script)
	if r.code != 1 || !strings.Contains(r.stderr, "exit status 3") || !strings.Contains(r.stderr, "| fatal: no input file") {
		t.Fatalf("failure without its stderr: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "I/O error") || strings.Contains(r.stderr, "to stdout") {
		t.Fatalf("stdout not discarded cleanly:\n%s", r.stderr)
	}

	chatty := filepath.Join(dir, "chatty.sh")
	os.WriteFile(chatty, []byte("#!/bin/sh\nset -e\necho 'out-line'\necho 'err-line' >&2\n"), 0o755)
	r = codspeed(t, dir, "", "exec", "--warmup-time", "0", "--max-rounds", "3", "--", chatty)
	if r.code != 0 || strings.Contains(r.stderr, "err-line") {
		t.Fatalf("without --show-output: exit %d\n%s", r.code, r.stderr)
	}
	r = codspeed(t, dir, "", "exec", "--show-output", "--warmup-time", "0", "--max-rounds", "3", "--", chatty)
	if r.code != 0 || strings.Count(r.stderr, "err-line") != 3 || strings.Count(r.stderr, "out-line") != 3 {
		t.Fatalf("--show-output should show 3 rounds of both streams: exit %d\n%s", r.code, r.stderr)
	}
}

// TestSameGoBenchmarkNameInTwoPackages: real `go test -bench` over two
// packages that both have BenchmarkSum; the table tells the rows apart by
// their files, and the URIs differ.
func TestSameGoBenchmarkNameInTwoPackages(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/twins\n\ngo 1.22\n"), 0o644)
	for _, pkg := range []string{"left", "right"} {
		os.MkdirAll(filepath.Join(dir, pkg), 0o755)
		src := "package " + pkg + "\n\nimport \"testing\"\n\nvar sink int\n\nfunc BenchmarkSum(b *testing.B) {\n\tfor i := 0; i < b.N; i++ {\n\t\tsink += i\n\t}\n}\n"
		os.WriteFile(filepath.Join(dir, pkg, pkg+"_test.go"), []byte(src), 0o644)
	}
	git := exec.Command("git", "init", "-q")
	git.Dir = dir
	if out, err := git.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	r := codspeed(t, dir, "", "run", "--min-rounds", "2", "--", "go", "test", "-run=^$", "-bench=.", "-benchtime=1000x", "./...")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"left/left_test.go::BenchmarkSum ", "right/right_test.go::BenchmarkSum "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestRunPlainProgramSuggestsExec: `codspeed run` on a program with no
// benchmark harness measures nothing; the message points to `codspeed exec`,
// which times it, not to --allow-empty, which would hide the mistake.
func TestRunPlainProgramSuggestsExec(t *testing.T) {
	dir := t.TempDir()
	r := codspeed(t, dir, "", "run", "--", primes, "1000")
	want := "use `codspeed exec -- " + primes + " 1000`"
	if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "--allow-empty") {
		t.Fatalf("exit %d, want a message with %q and no --allow-empty:\n%s", r.code, want, r.stderr)
	}
	// What the message says works.
	r = codspeed(t, dir, "", "exec", "--warmup-time", "0", "--max-rounds", "2", "--", primes, "1000")
	if r.code != 0 {
		t.Fatalf("codspeed exec: exit %d\n%s", r.code, r.stderr)
	}
	// A go test matching no benchmark is another matter: an empty run may
	// be meant, and --allow-empty is the advice.
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/none\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "none_test.go"), []byte("package none\n\nimport \"testing\"\n\nfunc BenchmarkA(b *testing.B) {}\n"), 0o644)
	r = codspeed(t, dir, "", "run", "--", "go", "test", "-run=^$", "-bench=NoSuchBenchmark", ".")
	if r.code != 1 || !strings.Contains(r.stderr, "use --allow-empty to accept that") || strings.Contains(r.stderr, "codspeed exec") {
		t.Fatalf("go test matching nothing: exit %d\n%s", r.code, r.stderr)
	}
}
