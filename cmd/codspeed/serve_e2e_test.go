package main

// End-to-end tests of `codspeed serve` on the built binary: runs made by
// `codspeed exec` in a real git repository upload to it, and the API, the
// CLI's compare --server, restarts and kills are checked, on SQLite and on
// a real PostgreSQL (CODSPEED_TEST_POSTGRES_URL, started by .ci/run).
// Simulation mode (valgrind) makes the figures exact: run these under
// `flock /tmp/codspeed-dev.lock`.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/upload"
	"github.com/codspeed-go/codspeed-go/server"
	"github.com/codspeed-go/codspeed-go/server/store"
	"github.com/codspeed-go/codspeed-go/server/store/storetest"
)

// serveProc is a running `codspeed serve`.
type serveProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	done   chan error
}

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

func startServe(t *testing.T, dbArgs []string, extra ...string) *serveProc {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0"}, dbArgs...)
	cmd := newCmd(t.TempDir(), append(args, extra...)...)
	p := &serveProc{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(p.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case p.url = <-found:
	case err := <-p.done:
		t.Fatalf("serve exited: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not start\n%s", p.stderr)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop sends sig and waits for the exit.
func (p *serveProc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		return err
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("serve did not stop on %v\n%s", sig, p.stderr)
	}
	return nil
}

func (p *serveProc) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	body := httpGet(t, p.url+path)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

func (p *serveProc) runs(t *testing.T, query string) []store.Run {
	t.Helper()
	var out struct{ Runs []store.Run }
	p.getJSON(t, "/api/v1/projects/acme/widget/runs"+query, &out)
	return out.Runs
}

// serveBackends are the databases the server is tested on: SQLite in a
// folder, and PostgreSQL when the test cluster is there (required in CI).
func serveBackends(t *testing.T) map[string][]string {
	out := map[string][]string{"sqlite": {"--data", t.TempDir()}}
	if url := storetest.PostgresURL(t); url != "" {
		out["postgres"] = []string{"--database", url}
	}
	return out
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func createToken(t *testing.T, dbArgs []string, project string) string {
	t.Helper()
	r := codspeed(t, t.TempDir(), "", append([]string{"serve", "token", "create", project}, dbArgs...)...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	token := lines[len(lines)-1]
	if r.code != 0 || !regexp.MustCompile(`^cst_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$`).MatchString(token) {
		t.Fatalf("token create: exit %d\nstdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	return token
}

func TestServeEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("valgrind missing: .ci/run installs it")
		}
		t.Skip("valgrind not installed")
	}
	for name, dbArgs := range serveBackends(t) {
		t.Run(name, func(t *testing.T) { testServeEndToEnd(t, dbArgs) })
	}
}

// serveAndRepo starts `codspeed serve` on dbArgs with a project acme/widget
// and its upload token, and makes a git repository of that project (origin
// on gitlab.example.com) with one commit on main.
func serveAndRepo(t *testing.T, dbArgs []string) (srv *serveProc, token, repo string) {
	t.Helper()
	token = createToken(t, dbArgs, "acme/widget")
	srv = startServe(t, dbArgs)
	repo = t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "remote", "add", "origin", "https://gitlab.example.com/acme/widget.git")
	git(t, repo, "commit", "-q", "--allow-empty", "-m", "first")
	return srv, token, repo
}

func testServeEndToEnd(t *testing.T, dbArgs []string) {
	// A project with a main branch and a feature branch that makes the
	// benchmark twice as slow.
	srv, token, repo := serveAndRepo(t, dbArgs)
	measure := func(n string, modes string, tok string) result {
		t.Helper()
		return codspeed(t, repo, "", "exec", "--mode", modes, "--name", "primes", "--upload-url", srv.url+"/upload", "--token", tok,
			"--warmup-time", "0", "--max-rounds", "3", "--enable-perf=false", "--", primes, n)
	}
	if r := measure("3000", "simulation", token); r.code != 0 {
		t.Fatalf("run 1: exit %d\n%s", r.code, r.stderr)
	}
	git(t, repo, "commit", "-q", "--allow-empty", "-m", "second")
	// Two modes: two run parts of one run.
	if r := measure("3000", "simulation,walltime", token); r.code != 0 {
		t.Fatalf("run 2: exit %d\n%s", r.code, r.stderr)
	}
	git(t, repo, "checkout", "-q", "-b", "feature")
	git(t, repo, "commit", "-q", "--allow-empty", "-m", "slower")
	if r := measure("6000", "simulation", token); r.code != 0 {
		t.Fatalf("run 3: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(srv.stderr.String(), token) {
		t.Fatal("the server logged the token")
	}

	runs := srv.runs(t, "")
	if len(runs) != 3 || runs[0].Branch != "feature" || runs[1].Branch != "main" || runs[2].Branch != "main" {
		t.Fatalf("runs: %+v", runs)
	}
	if len(runs[1].Modes) != 2 || runs[1].Benchmarks != 2 {
		t.Fatalf("run parts not merged: %+v", runs[1])
	}
	main := srv.runs(t, "?branch=main")
	if len(main) != 2 || main[0].ID != runs[1].ID {
		t.Fatalf("main runs: %+v", main)
	}
	var run server.RunWithBenchmarks
	srv.getJSON(t, "/api/v1/runs/"+runs[1].ID, &run)
	if len(run.Parts) != 2 || len(run.Benchmarks) != 2 || run.Benchmarks[0].Name != "primes" {
		t.Fatalf("run: %+v", run)
	}
	var ins []float64
	for _, r := range []string{runs[2].ID, runs[1].ID} {
		srv.getJSON(t, "/api/v1/runs/"+r, &run)
		for _, b := range run.Benchmarks {
			if b.Instrument == results.Simulation {
				ins = append(ins, b.Simulation.Instructions)
			}
		}
	}
	if len(ins) != 2 || ins[0] != ins[1] {
		t.Fatalf("simulation figures of the same commit differ: %v", ins)
	}

	var cmp struct {
		Regressed  bool
		Benchmarks []struct{ Instrument, Verdict string }
	}
	srv.getJSON(t, "/api/v1/projects/acme/widget/compare?base=main&head=feature", &cmp)
	// main's newest run measured walltime too, which the feature run did
	// not: that benchmark is missing, the simulated one regressed.
	verdicts := map[string]string{}
	for _, b := range cmp.Benchmarks {
		verdicts[b.Instrument] = b.Verdict
	}
	if !cmp.Regressed || verdicts["simulation"] != "regressed" || verdicts["walltime"] != "missing" {
		t.Fatalf("compare: %+v", cmp)
	}
	// The CLI: the local newest run (feature) against the server's main.
	r := codspeed(t, repo, "", "compare", "--server", srv.url, "--base", "main", "--format", "json")
	if r.code != 1 || !strings.Contains(r.stdout, `"regressed": true`) || !strings.Contains(r.stdout, `"verdict": "regressed"`) {
		t.Fatalf("compare --server: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	cmd := newCmd(repo, "compare", "--base", runs[2].ID)
	cmd.Env = append(cmd.Env, "CODSPEED_SERVER_URL="+srv.url)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "regressed") {
		t.Fatalf("compare with CODSPEED_SERVER_URL: %v\n%s", err, out)
	}
	if r := codspeed(t, repo, "", "compare", "--server", srv.url, "--base", "nosuch"); r.code != 2 || !strings.Contains(r.stderr, "no run id, branch or commit") {
		t.Fatalf("unknown base: exit %d\n%s", r.code, r.stderr)
	}

	// A wrong token is refused and stores nothing.
	bad := token[:len(token)-4] + "AAAA"
	if r := measure("3000", "simulation", bad); r.code != 1 || !strings.Contains(r.stderr, "HTTP 401") || strings.Contains(r.stderr+srv.stderr.String(), bad) {
		t.Fatalf("wrong token: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(srv.runs(t, "")); n != 3 {
		t.Fatalf("%d runs after a refused upload", n)
	}

	// Uploading a stored run again (codspeed upload RUN takes the next part
	// index) stores nothing new: the same archive is a retry.
	local := storeRuns(t, repo)
	if r := codspeed(t, repo, "", "upload", "--upload-url", srv.url+"/upload", "--token", token, local[len(local)-1].ID); r.code != 0 {
		t.Fatalf("re-upload: exit %d\n%s", r.code, r.stderr)
	}
	if again := srv.runs(t, ""); len(again) != 3 || again[2].Benchmarks != 1 {
		t.Fatalf("after a re-upload: %+v", again)
	}

	// SIGTERM drains and exits 0; a restart keeps every run.
	if err := srv.stop(t, syscall.SIGTERM); err != nil || !strings.Contains(srv.stderr.String(), "stopped") {
		t.Fatalf("SIGTERM: %v\n%s", err, srv.stderr)
	}
	srv = startServe(t, dbArgs)
	if again := srv.runs(t, ""); len(again) != 3 || again[0].ID != runs[0].ID {
		t.Fatalf("after restart: %+v", again)
	}
	srv.stop(t, syscall.SIGTERM)
}

// TestServeKilledDuringUploads kills the server with SIGKILL while 16
// clients upload, restarts it, and checks that every upload it answered
// 200 is there and that no run is half stored.
func TestServeKilledDuringUploads(t *testing.T) {
	for name, dbArgs := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			token := createToken(t, dbArgs, "acme/widget")
			srv := startServe(t, dbArgs)
			const perPart = 50
			var ok atomic.Int64
			var okRuns sync.Map
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for c := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ctx.Err() == nil; i++ {
						runID := fmt.Sprintf("ci-%d-%d", c, i)
						b, md := bigUpload(t, runID, perPart)
						resp, err := upload.Upload(ctx, upload.Options{URL: srv.url + "/upload", Token: token, Retries: -1}, md, b)
						if err == nil {
							ok.Add(1)
							okRuns.Store(resp.RunID, true)
						}
					}
				}()
			}
			deadline := time.Now().Add(30 * time.Second)
			for ok.Load() < 20 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			srv.stop(t, syscall.SIGKILL)
			cancel()
			wg.Wait()
			if ok.Load() < 20 {
				t.Fatalf("only %d uploads before the kill\n%s", ok.Load(), srv.stderr)
			}

			srv = startServe(t, dbArgs)
			runs := srv.runs(t, "?limit=1000")
			seen := map[string]bool{}
			for _, r := range runs {
				seen[r.ID] = true
				var full server.RunWithBenchmarks
				srv.getJSON(t, "/api/v1/runs/"+r.ID, &full)
				if len(full.Parts) != 1 || r.Benchmarks != perPart || len(full.Benchmarks) != perPart {
					t.Errorf("half run %s: %d parts, %d benchmarks", r.ID, len(full.Parts), len(full.Benchmarks))
				}
			}
			okRuns.Range(func(k, _ any) bool {
				if !seen[k.(string)] {
					t.Errorf("run %s was answered 200 but is lost", k)
				}
				return true
			})
			t.Logf("%d uploads answered before SIGKILL, %d runs after restart", ok.Load(), len(runs))
			srv.stop(t, syscall.SIGTERM)
		})
	}
}

// bigUpload is an archive of about 1 MB: a results file of n simulation
// benchmarks and an incompressible profile.
func bigUpload(t *testing.T, runID string, n int) (*upload.Bundle, upload.Metadata) {
	f := results.File{Creator: results.Creator{Name: "codspeed-go", Version: "test", Pid: 1}, Instrument: results.Instrument{Type: results.Simulation},
		Run: &results.RunInfo{ID: runID, Mode: results.Simulation}}
	for i := range n {
		f.Benchmarks = append(f.Benchmarks, results.Benchmark{Name: fmt.Sprintf("b%d", i), URI: fmt.Sprintf("bench::b%d", i),
			Simulation: &results.SimulationStats{Instructions: float64(1000 + i)}})
	}
	js, _ := json.Marshal(f)
	noise := make([]byte, 1<<20)
	for i := range noise {
		noise[i] = byte(i*7919 + len(runID)*31 + i>>8)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{{"results/1.json", js}, {"profile.out", noise}} {
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg})
		tw.Write(e.data)
	}
	tw.Close()
	sum := md5.Sum(buf.Bytes())
	b := &upload.Bundle{Data: buf.Bytes(), MD5: base64.StdEncoding.EncodeToString(sum[:])}
	md := upload.Metadata{Version: upload.MetadataVersion, ProfileMd5: b.MD5,
		Runner:         upload.Runner{Name: "load", Version: "1", Instruments: []string{}, Executor: "valgrind"},
		RunEnvironment: "LOCAL", RepositoryProvider: "PROJECT", CommitHash: "0123456789abcdef0123456789abcdef01234567",
		Ref: "refs/heads/main", Owner: "acme", Repository: "widget", Event: "push",
		RunPart: &upload.RunPart{RunID: runID, RunPartID: runID + "-simulation", Metadata: map[string]string{"mode": "simulation"}}}
	return b, md
}

// TestServeRefusesBadArchives sends, against the built binary with a 256 KiB
// limit, an oversize archive, a corrupt one and a path-traversing one: each
// is refused with a clear 4xx and nothing is stored.
func TestServeRefusesBadArchives(t *testing.T) {
	dbArgs := []string{"--data", t.TempDir()}
	token := createToken(t, dbArgs, "acme/widget")
	srv := startServe(t, dbArgs, "--max-upload-size", "256KiB")
	put := func(data []byte) (int, string) {
		sum := md5.Sum(data)
		md := map[string]any{"version": 10, "profileMd5": base64.StdEncoding.EncodeToString(sum[:]), "commitHash": "abcdef12",
			"ref": "refs/heads/main", "owner": "acme", "repository": "widget", "runner": map[string]any{"name": "t", "executor": "valgrind"}}
		body, _ := json.Marshal(md)
		req, _ := http.NewRequest(http.MethodPost, srv.url+"/upload", bytes.NewReader(body))
		req.Header.Set("Authorization", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ans struct{ UploadURL string }
		json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		req, _ = http.NewRequest(http.MethodPut, ans.UploadURL, bytes.NewReader(data))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	tarOf := func(name string, size int) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg})
		tw.Write(bytes.Repeat([]byte("a"), size))
		tw.Close()
		return buf.Bytes()
	}
	for _, c := range []struct {
		what   string
		data   []byte
		status int
		text   string
	}{
		{"oversize", tarOf("x", 300<<10), 413, "limit of 262144"},
		{"corrupt", []byte{0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5}, 400, "corrupt"},
		{"traversal", tarOf("../../../tmp/evil", 10), 400, "path traversal refused"},
	} {
		if status, msg := put(c.data); status != c.status || !strings.Contains(msg, c.text) {
			t.Errorf("%s: %d %s, want %d with %q", c.what, status, msg, c.status, c.text)
		}
	}
	if n := len(srv.runs(t, "")); n != 0 {
		t.Fatalf("%d runs stored", n)
	}
}

// TestServeDrainsOnSIGTERM: an upload whose archive is still being sent
// when SIGTERM arrives is finished and stored; then the server exits 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	for name, dbArgs := range serveBackends(t) {
		t.Run(name, func(t *testing.T) {
			token := createToken(t, dbArgs, "acme/widget")
			srv := startServe(t, dbArgs)
			b, md := bigUpload(t, "drain-1", 5)
			body, _ := json.Marshal(md)
			req, _ := http.NewRequest(http.MethodPost, srv.url+"/upload", bytes.NewReader(body))
			req.Header.Set("Authorization", token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var ans upload.Response
			json.NewDecoder(resp.Body).Decode(&ans)
			resp.Body.Close()
			if resp.StatusCode != 200 || ans.UploadURL == "" {
				t.Fatalf("POST: %d %+v", resp.StatusCode, ans)
			}

			pr, pw := io.Pipe()
			put, _ := http.NewRequest(http.MethodPut, ans.UploadURL, pr)
			put.ContentLength = int64(len(b.Data))
			type answer struct {
				code int
				err  error
			}
			got := make(chan answer, 1)
			// A connection of its own: one kept alive from the POST would be
			// idle to the server until the PUT's first bytes are read, and
			// Shutdown closes idle connections (the client would retry).
			fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			go func() {
				resp, err := fresh.Do(put)
				if err != nil {
					got <- answer{0, err}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				got <- answer{resp.StatusCode, nil}
			}()
			half := len(b.Data) / 2
			if _, err := pw.Write(b.Data[:half]); err != nil {
				t.Fatal(err)
			}
			// The first half can sit in socket buffers before the server has
			// accepted the connection, and a connection still in the
			// listener's queue when Shutdown closes the listener is reset by
			// the kernel: give the server time to take the request in hand,
			// so that the PUT is really in flight when SIGTERM arrives.
			time.Sleep(time.Second)
			srv.cmd.Process.Signal(syscall.SIGTERM)
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(srv.stderr.String(), "shutting down") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			pw.Write(b.Data[half:])
			pw.Close()
			a := <-got
			if a.err != nil || a.code != 200 {
				t.Fatalf("upload in flight during SIGTERM: %v %d\n%s", a.err, a.code, srv.stderr)
			}
			select {
			case err := <-srv.done:
				if err != nil {
					t.Fatalf("exit after drain: %v\n%s", err, srv.stderr)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not exit after draining")
			}
			srv = startServe(t, dbArgs)
			if runs := srv.runs(t, ""); len(runs) != 1 || runs[0].ID != ans.RunID || runs[0].Benchmarks != 5 {
				t.Fatalf("drained upload not stored: %+v", runs)
			}
			srv.stop(t, syscall.SIGTERM)
		})
	}
}

// TestServeTwoProcessesOnePostgres: two server processes share one
// PostgreSQL database; the parts of each CI run arrive at both at once, each
// part twice (a retry through the other server): every run ends up whole,
// each part stored once.
func TestServeTwoProcessesOnePostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	if url == "" {
		t.Skip("no PostgreSQL test cluster")
	}
	dbArgs := []string{"--database", url}
	token := createToken(t, dbArgs, "acme/widget")
	a, b := startServe(t, dbArgs), startServe(t, dbArgs)
	const runs, parts, perPart = 8, 4, 10
	var wg sync.WaitGroup
	var failed atomic.Int64
	for r := range runs {
		for p := range parts {
			for i, srv := range []*serveProc{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Each part's own archive (identical archives in one run
					// are one part to the server).
					bundle, md := bigUpload(t, fmt.Sprintf("ci-%d-part-%d", r, p), perPart)
					md.RunPart.RunID = fmt.Sprintf("ci-%d", r)
					if i == 1 {
						// The same part, sent again through the other server.
						srv = []*serveProc{b, a}[(r+p)%2]
					}
					if _, err := upload.Upload(context.Background(), upload.Options{URL: srv.url + "/upload", Token: token, Retries: -1}, md, bundle); err != nil {
						failed.Add(1)
						t.Errorf("run %d part %d: %v", r, p, err)
					}
				}()
			}
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d uploads failed\nA:\n%s\nB:\n%s", failed.Load(), a.stderr, b.stderr)
	}
	got := b.runs(t, "?limit=1000")
	if len(got) != runs {
		t.Fatalf("%d runs, want %d", len(got), runs)
	}
	for _, r := range got {
		var full server.RunWithBenchmarks
		a.getJSON(t, "/api/v1/runs/"+r.ID, &full)
		if len(full.Parts) != parts || r.Benchmarks != parts*perPart || len(full.Benchmarks) != parts*perPart {
			t.Errorf("run %s: %d parts, %d benchmarks (counted %d)", r.ID, len(full.Parts), len(full.Benchmarks), r.Benchmarks)
		}
	}
	a.stop(t, syscall.SIGTERM)
	b.stop(t, syscall.SIGTERM)
}

// TestComposeServer: `docker compose up server` from compose.yaml, with the
// runner image under test: a token made with `compose run`, an upload from
// the host, the run in the API, and the run still there after a restart
// (the data volume).
func TestComposeServer(t *testing.T) {
	needEngine(t)
	compose := []string{"docker-compose"}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		if exec.Command("docker", "compose", "version").Run() != nil {
			t.Skip("neither docker-compose nor the docker compose plugin is installed (apt-get install docker-compose)")
		}
		compose = []string{"docker", "compose"}
	}
	image := runnerImage(t)
	proj := t.TempDir()
	copyFile(t, "../../compose.yaml", filepath.Join(proj, "compose.yaml"), 0o644)
	// compose reads every service's files, the runner's seccomp profile too.
	// (compose.yaml names it seccomp.json beside the folder compose runs in,
	// or CODSPEED_SECCOMP).
	copyFile(t, "../../sandbox/docker/seccomp.json", filepath.Join(proj, "seccomp.json"), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dc := func(args ...string) string {
		t.Helper()
		all := append(slices.Clone(compose[1:]), append([]string{"-f", filepath.Join(proj, "compose.yaml"), "-p", "codspeed-server-e2e"}, args...)...)
		cmd := exec.Command(compose[0], all...)
		cmd.Dir = proj
		cmd.Env = append(os.Environ(), "CODSPEED_IMAGE="+image, "CODSPEED_SERVER_PORT="+strconv.Itoa(port))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s%s", compose[0], strings.Join(all, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	t.Cleanup(func() {
		all := append(slices.Clone(compose[1:]), "-f", filepath.Join(proj, "compose.yaml"), "-p", "codspeed-server-e2e", "down", "-v")
		cmd := exec.Command(compose[0], all...)
		cmd.Dir = proj
		cmd.Env = append(os.Environ(), "CODSPEED_IMAGE="+image)
		cmd.Run()
	})
	lines := strings.Split(strings.TrimSpace(dc("run", "--rm", "-T", "server", "serve", "token", "create", "acme/widget")), "\n")
	token := strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(token, "cst_") {
		t.Fatalf("token: %q", lines)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHealthy := func() {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			resp, err := http.Get(url + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server service never became healthy: %v\n%s", err, dc("logs", "server"))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	dc("up", "-d", "server")
	waitHealthy()
	b, md := bigUpload(t, "compose-1", 3)
	resp, err := upload.Upload(context.Background(), upload.Options{URL: url + "/upload", Token: token, Retries: -1}, md, b)
	if err != nil {
		t.Fatal(err)
	}
	srv := &serveProc{url: url}
	if runs := srv.runs(t, ""); len(runs) != 1 || runs[0].ID != resp.RunID {
		t.Fatalf("runs: %+v", runs)
	}
	dc("restart", "server")
	waitHealthy()
	if runs := srv.runs(t, ""); len(runs) != 1 || runs[0].Benchmarks != 3 {
		t.Fatalf("after restart: %+v", runs)
	}
	if logs := dc("logs", "server"); strings.Contains(logs, token) || !strings.Contains(logs, "draining") {
		t.Fatalf("server logs (token printed, or no drain on stop):\n%s", logs)
	}
}
