package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// copyExecutable copies the binary under test to dir, for a user who cannot
// enter the test's private temporary folders.
func copyExecutable(t *testing.T, src, dir string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestBenchmarkCannotReadRunnerSecrets runs codspeed as an unprivileged user
// with an upload token and CI credentials in its environment, and a
// benchmark (the same user) that reads its parent's /proc environ: the
// runner must have made itself undumpable, so nothing comes out.
func TestBenchmarkCannotReadRunnerSecrets(t *testing.T) {
	uid, gid := testUser(t)
	dir := userDir(t, uid, gid)
	bin := copyExecutable(t, binary, dir)
	const secret = "cs-secret-in-runner-env-4711"
	probe := `tr '\0' '\n' < /proc/$PPID/environ || echo "environ refused"; echo probe-ran`
	cmd := exec.Command(bin, "exec", "--show-output", "--enable-perf=false", "--no-sandbox", "--warmup-time", "0", "--max-rounds", "1", "--", "bash", "-c", probe)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "CODSPEED_STORE=" + filepath.Join(dir, "store"),
		"CODSPEED_SKIP_UPLOAD=true", "CODSPEED_TOKEN=" + secret, "CI_JOB_TOKEN=" + secret + "-job"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("codspeed as %s: %v\n%s", testUserName, err, out)
	}
	if !strings.Contains(string(out), "probe-ran") {
		t.Fatalf("the probe did not run:\n%s", out)
	}
	if strings.Contains(string(out), secret) {
		t.Fatalf("the benchmark read the runner's secrets from /proc:\n%s", out)
	}
	if !strings.Contains(string(out), "environ refused") {
		t.Fatalf("the probe was not refused:\n%s", out)
	}
}

// TestOIDCVariablesAloneDoNotUpload: a job that grants id-token for other
// reasons must not start uploading benchmark data.
func TestOIDCVariablesAloneDoNotUpload(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"value": "oidc-token"}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	cmd := newCmd(dir, "exec", "--enable-perf=false", "--warmup-time", "0", "--max-rounds", "1", "--", primes, "100")
	cmd.Env = append(cmd.Env, "ACTIONS_ID_TOKEN_REQUEST_URL="+srv.URL+"/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=request-token")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("exec: %v\n%s", err, out)
	}
	if hits.Load() != 0 || strings.Contains(string(out), "upload") {
		t.Fatalf("the OIDC variables alone started an upload (%d requests):\n%s", hits.Load(), out)
	}
}

// TestTokenFile: --token-file FILE and --token-file - (stdin) give the token
// without putting it on the command line; --token still works but warns; a
// token never travels over plain http to another host.
func TestTokenFile(t *testing.T) {
	fake := &fakeCodSpeed{}
	var srv *httptest.Server
	srv = httptest.NewServer(fake.handler(&srv))
	defer srv.Close()
	const token = "tok-from-file-98765"
	dir := t.TempDir()
	gitInit(t, dir)
	tokenPath := filepath.Join(dir, "token")
	os.WriteFile(tokenPath, []byte(token+"\n"), 0o600)
	bench := []string{"--warmup-time", "0", "--max-rounds", "1", "--enable-perf=false", "--", primes, "100"}

	run := func(stdin string, args ...string) result {
		t.Helper()
		r := codspeed(t, dir, stdin, args...)
		if strings.Contains(r.stdout+r.stderr, token) {
			t.Fatalf("token printed:\n%s", r.stderr)
		}
		return r
	}
	r := run("", append([]string{"exec", "--upload-url", srv.URL + "/upload", "--token-file", tokenPath}, bench...)...)
	if r.code != 0 || strings.Contains(r.stderr, "warning: --token") {
		t.Fatalf("--token-file: exit %d\n%s", r.code, r.stderr)
	}
	r = run(token+"\n", append([]string{"exec", "--upload-url", srv.URL + "/upload", "--token-file", "-"}, bench...)...)
	if r.code != 0 {
		t.Fatalf("--token-file -: exit %d\n%s", r.code, r.stderr)
	}
	r = run("", append([]string{"exec", "--upload-url", srv.URL + "/upload", "--token", token}, bench...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: --token is visible to every user") {
		t.Fatalf("--token: exit %d, want a warning\n%s", r.code, r.stderr)
	}
	// `codspeed upload` takes the token the same ways.
	r = run(token+"\n", "upload", "--upload-url", srv.URL+"/upload", "--token-file", "-")
	if r.code != 0 {
		t.Fatalf("upload --token-file -: exit %d\n%s", r.code, r.stderr)
	}
	fake.mu.Lock()
	if len(fake.auth) != 4 || fake.auth[0] != token || fake.auth[1] != token || fake.auth[2] != token || fake.auth[3] != token {
		t.Errorf("server saw tokens %q", fake.auth)
	}
	fake.mu.Unlock()

	for _, bad := range [][]string{
		{"--token-file", filepath.Join(dir, "absent")},
		{"--token-file", tokenPath, "--token", token},
	} {
		r = run("", append(append([]string{"exec", "--upload-url", srv.URL + "/upload"}, bad...), bench...)...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", bad, r.code, r.stderr)
		}
	}
	r = run("", "exec", "--token-file", "-", "-")
	if r.code != 2 || !strings.Contains(r.stderr, "both read standard input") {
		t.Errorf("--token-file - with exec -: exit %d\n%s", r.code, r.stderr)
	}

	// Plain http to another host: refused before anything is sent; the run
	// is kept.
	r = run("", append([]string{"exec", "--upload-url", "http://codspeed.example/upload", "--token-file", tokenPath}, bench...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to send a token over plain http") {
		t.Fatalf("plain http: exit %d\n%s", r.code, r.stderr)
	}
	// Nothing the runs wrote contains the token.
	filepath.Walk(filepath.Join(dir, "store"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if data, _ := os.ReadFile(p); bytes.Contains(data, []byte(token)) {
				t.Errorf("token written to %s", p)
			}
		}
		return nil
	})
}

func gitInit(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{{"init", "-q"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "c"}} {
		git := exec.Command("git", args...)
		git.Dir = dir
		if out, err := git.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}
