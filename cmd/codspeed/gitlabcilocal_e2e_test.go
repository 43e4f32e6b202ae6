package main

// GitLab templates run end to end by gitlab-ci-local (the npm package that
// runs .gitlab-ci.yml pipelines on a workstation; .ci/run installs it), with
// its shell executor and the binary under test on PATH: GitLab itself cannot
// run here. Simulation targets (deterministic counts, so "slower" is
// certain and "unchanged" is exact) under valgrind: run under `flock
// /tmp/codspeed-dev.lock` on a shared machine.

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// gitlabCILocal finds gitlab-ci-local and what it needs (rsync, valgrind).
func gitlabCILocal(t *testing.T) string {
	t.Helper()
	glcl, err := exec.LookPath("gitlab-ci-local")
	need(t, err == nil, "gitlab-ci-local is not on PATH (.ci/run installs it: npm install gitlab-ci-local@4.65.0)")
	_, err = exec.LookPath("rsync")
	need(t, err == nil, "rsync is not installed (gitlab-ci-local needs it)")
	_, err = exec.LookPath("valgrind")
	need(t, err == nil, "valgrind is not installed (apt-get install valgrind)")
	return glcl
}

// loopTarget is a codspeed.yml exec target doing n units of work: the C
// example counting the primes below n. Its simulated cost grows with n and
// is the same from run to run, whatever the environment. (A shell loop is
// not: dash looks its variables up in a table that holds the environment, so
// a merge-request pipeline, which has more CI variables than a push
// pipeline, made an unchanged `while` loop 6% slower.)
func loopTarget(name string, n int) string {
	return fmt.Sprintf("  - name: %s\n    exec: \"%s %d\"\n", name, primes, n)
}

// pipelineRepo is a git repository (origin on a GitLab host) holding the
// templates under ci/, a .gitlab-ci.yml and a codspeed.yml with the given
// loop counts.
func pipelineRepo(t *testing.T, pipeline string, loops map[string]int) string {
	t.Helper()
	repo := openDir(t)
	if err := os.MkdirAll(filepath.Join(repo, "ci"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"codspeed.gitlab-ci.yml", "codspeed-parallel.gitlab-ci.yml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "ci", "gitlab", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, "ci", f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, ".gitlab-ci.yml"), []byte(pipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	writeLoops(t, repo, loops)
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "remote", "add", "origin", "https://gitlab.example.com/acme/widget.git")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "first")
	return repo
}

func writeLoops(t *testing.T, repo string, loops map[string]int) {
	t.Helper()
	var yml strings.Builder
	yml.WriteString("benchmarks:\n")
	for i := 1; i <= len(loops); i++ {
		name := fmt.Sprintf("loop-%d", i)
		yml.WriteString(loopTarget(name, loops[name]))
	}
	if err := os.WriteFile(filepath.Join(repo, "codspeed.yml"), []byte(yml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runPipeline runs the repository's pipeline with gitlab-ci-local; vars are
// --variable settings (a merge request's, for one). It returns the output
// and whether every job passed.
func runPipeline(t *testing.T, glcl, repo string, vars ...string) (string, bool) {
	t.Helper()
	args := []string{"--force-shell-executor", "--home", filepath.Join(repo, ".glcl-home")}
	for _, v := range vars {
		args = append(args, "--variable", v)
	}
	cmd := newCmd(repo)
	cmd.Path, cmd.Args = glcl, append([]string{glcl}, args...)
	cmd.Env = append(cmd.Env, "PATH="+filepath.Dir(binary)+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("gitlab-ci-local: %v\n%s", err, out)
		}
	}
	return string(out), err == nil
}

// mergeRequest are the variables of a merge-request pipeline into main.
var mergeRequest = []string{"CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=7",
	"CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=feature", "CI_COMMIT_BRANCH=feature"}

// TestGitLabParallelTemplateWithGitLabCILocal: the sharded template
// (`parallel: 3` and the merge job) as a pipeline: every shard runs a third
// of the suite, the merge job holds all of it and records the baseline on
// main; a merge request with one target slower fails its merge job, one
// with none passes.
func TestGitLabParallelTemplateWithGitLabCILocal(t *testing.T) {
	glcl := gitlabCILocal(t)
	loops := map[string]int{"loop-1": 20000, "loop-2": 40000, "loop-3": 60000, "loop-4": 80000, "loop-5": 100000, "loop-6": 120000}
	repo := pipelineRepo(t, `include:
  - local: ci/codspeed-parallel.gitlab-ci.yml
benchmarks:
  extends: .codspeed-shard
  parallel: 3
  variables: {CODSPEED_MODE: simulation}
benchmarks-compare:
  extends: .codspeed-merge
  needs: [benchmarks]
  variables: {CODSPEED_MODE: simulation}
`, loops)

	out, ok := runPipeline(t, glcl, repo)
	if !ok {
		t.Fatalf("the pipeline on main failed:\n%s", out)
	}
	for i := 1; i <= 3; i++ {
		if !strings.Contains(out, fmt.Sprintf("shard %d/3 (GitLab CI_NODE_INDEX/CI_NODE_TOTAL", i)) {
			t.Fatalf("job %d/3 did not run as shard %d/3:\n%s", i, i, out)
		}
	}
	for _, want := range []string{"merged 3 folder(s), 6 benchmark(s)", "the merged run is the new baseline for main"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the merge job did not say %q:\n%s", want, out)
		}
	}
	report, err := os.ReadFile(filepath.Join(repo, "codspeed-report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range loops {
		if !strings.Contains(string(report), name) {
			t.Fatalf("the merged report lacks %s:\n%s", name, report)
		}
	}

	// A merge request that makes loop-4 three times slower.
	git(t, repo, "checkout", "-q", "-b", "feature")
	loops["loop-4"] = 240000
	writeLoops(t, repo, loops)
	git(t, repo, "commit", "-q", "-am", "slower")
	out, ok = runPipeline(t, glcl, repo, mergeRequest...)
	if ok || !strings.Contains(out, "codspeed: performance regression") {
		t.Fatalf("a merge request with a slower benchmark passed (or failed otherwise):\n%s", out)
	}
	if !strings.Contains(out, "loop-4") {
		t.Fatalf("the failing report does not name loop-4:\n%s", out)
	}

	// One that changes nothing measured.
	loops["loop-4"] = 80000
	writeLoops(t, repo, loops)
	git(t, repo, "commit", "-q", "-am", "back")
	out, ok = runPipeline(t, glcl, repo, mergeRequest...)
	if !ok {
		t.Fatalf("a merge request with no change failed:\n%s", out)
	}
	if strings.Contains(out, "new baseline") {
		t.Fatalf("a merge-request pipeline replaced main's baseline:\n%s", out)
	}
}

// fakeGitLab is GitLab's API as the template's job calls it: job artifacts
// by ref and job name (answering only the job token) and one merge
// request's notes (answering only the access token).
type fakeGitLab struct {
	t         *testing.T
	mu        sync.Mutex
	artifacts map[string][]byte // "ref job" -> zip
	notes     []fakeNote
	posts     int
}

type fakeNote struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
}

const (
	fakeJobToken = "job-token-for-tests"
	fakeAPIToken = "glpat-for-tests"
)

func (g *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	const project = "/api/v4/projects/42/"
	rest, ok := strings.CutPrefix(r.URL.Path, project)
	switch {
	case ok && strings.HasPrefix(rest, "jobs/artifacts/") && r.Method == http.MethodGet:
		if r.Header.Get("JOB-TOKEN") != fakeJobToken {
			http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		ref := strings.TrimSuffix(strings.TrimPrefix(rest, "jobs/artifacts/"), "/download")
		data, found := g.artifacts[ref+" "+r.URL.Query().Get("job")]
		if !found {
			http.Error(w, `{"message":"404 Not found"}`, http.StatusNotFound)
			return
		}
		w.Write(data)
	case ok && strings.HasPrefix(rest, "merge_requests/7/notes"):
		if r.Header.Get("PRIVATE-TOKEN") != fakeAPIToken {
			http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		var in fakeNote
		switch r.Method {
		case http.MethodGet:
			json.NewEncoder(w).Encode(g.notes)
		case http.MethodPost:
			json.NewDecoder(r.Body).Decode(&in)
			g.posts++
			in.ID = int64(500 + len(g.notes))
			g.notes = append(g.notes, in)
			json.NewEncoder(w).Encode(in)
		case http.MethodPut:
			json.NewDecoder(r.Body).Decode(&in)
			for i := range g.notes {
				if rest == fmt.Sprintf("merge_requests/7/notes/%d", g.notes[i].ID) {
					g.notes[i].Body = in.Body
					json.NewEncoder(w).Encode(g.notes[i])
					return
				}
			}
			http.NotFound(w, r)
		}
	default:
		g.t.Logf("fake GitLab: %s %s answered 404", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

// keepArtifacts stores dir/ of repo as the artifacts of job on ref, as
// GitLab does when the job succeeds.
func (g *fakeGitLab) keepArtifacts(t *testing.T, repo, dir, ref, job string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	root := filepath.Join(repo, dir)
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if err != nil || zw.Close() != nil {
		t.Fatalf("zip %s: %v", root, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.artifacts[ref+" "+job] = buf.Bytes()
}

// TestGitLabTemplateWithGitLabCILocal: ci/gitlab/codspeed.gitlab-ci.yml as
// pipelines, against a fake GitLab API (artifacts and notes) on loopback:
// a merge request before main has a baseline fails; main passes and keeps
// its profile folder as artifacts; a merge request with one target slower
// fails, and the runner comments on it; one with no change passes and
// updates that same comment.
func TestGitLabTemplateWithGitLabCILocal(t *testing.T) {
	glcl := gitlabCILocal(t)
	fake := &fakeGitLab{t: t, artifacts: map[string][]byte{}}
	api := httptest.NewServer(fake)
	defer api.Close()
	loops := map[string]int{"loop-1": 20000, "loop-2": 40000, "loop-3": 60000}
	repo := pipelineRepo(t, `include:
  - local: ci/codspeed.gitlab-ci.yml
benchmarks:
  extends: .codspeed
  variables: {CODSPEED_MODE: simulation}
`, loops)
	gitlab := []string{"GITLAB_CI=true", "CI_API_V4_URL=" + api.URL + "/api/v4", "CI_PROJECT_ID=42", "CI_JOB_TOKEN=" + fakeJobToken}
	mr := append(append(slices.Clone(gitlab), mergeRequest...), "CODSPEED_GITLAB_TOKEN="+fakeAPIToken)

	out, ok := runPipeline(t, glcl, repo, mr...)
	if ok || !strings.Contains(out, "No baseline yet") || !strings.Contains(out, "a baseline is required here") {
		t.Fatalf("a merge request with no baseline on main passed (or failed otherwise):\n%s", out)
	}

	git(t, repo, "checkout", "-q", "main")
	out, ok = runPipeline(t, glcl, repo, append(slices.Clone(gitlab), "CI_PIPELINE_SOURCE=push", "CI_COMMIT_BRANCH=main")...)
	if !ok || !strings.Contains(out, "No baseline yet") {
		t.Fatalf("the first pipeline on main failed:\n%s", out)
	}
	fake.keepArtifacts(t, repo, "codspeed-profile", "main", "benchmarks")

	git(t, repo, "checkout", "-q", "-b", "feature")
	loops["loop-2"] = 120000
	writeLoops(t, repo, loops)
	git(t, repo, "commit", "-q", "-am", "slower")
	out, ok = runPipeline(t, glcl, repo, mr...)
	if ok || !strings.Contains(out, "codspeed: performance regression") || !strings.Contains(out, "codspeed: baseline: ") {
		t.Fatalf("a merge request with a slower benchmark passed (or failed otherwise):\n%s", out)
	}
	if strings.Contains(out, fakeAPIToken) || strings.Contains(out, fakeJobToken) {
		t.Fatalf("a token reached the job log:\n%s", out)
	}
	fake.mu.Lock()
	if len(fake.notes) != 1 || fake.posts != 1 || !strings.HasPrefix(fake.notes[0].Body, "<!-- codspeed-go benchmark report -->") || !strings.Contains(fake.notes[0].Body, "loop-2") {
		t.Fatalf("merge request notes after the slower pipeline: %+v", fake.notes)
	}
	first := fake.notes[0].Body
	fake.mu.Unlock()

	loops["loop-2"] = 40000
	writeLoops(t, repo, loops)
	git(t, repo, "commit", "-q", "-am", "back")
	out, ok = runPipeline(t, glcl, repo, mr...)
	if !ok {
		t.Fatalf("a merge request with no change failed:\n%s", out)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.notes) != 1 || fake.posts != 1 || fake.notes[0].Body == first {
		t.Fatalf("the comment was not updated in place: %d notes, %d posts", len(fake.notes), fake.posts)
	}
}

// TestGitLabABTemplateWithGitLabCILocal: the template's `.codspeed-ab` job
// as a merge-request pipeline: the target branch fetched from origin and
// measured against the merge request's head, interleaved; a head three
// times slower fails the job (and the runner comments with its own key),
// an unchanged head passes.
func TestGitLabABTemplateWithGitLabCILocal(t *testing.T) {
	glcl := gitlabCILocal(t)
	fake := &fakeGitLab{t: t, artifacts: map[string][]byte{}}
	api := httptest.NewServer(fake)
	defer api.Close()
	// origin is a bare repository the job can fetch the target branch from.
	origin := openDir(t)
	git(t, origin, "init", "-q", "--bare", "-b", "main")
	repo := pipelineRepo(t, `include:
  - local: ci/codspeed.gitlab-ci.yml
benchmarks-ab:
  extends: .codspeed-ab
  variables: {CODSPEED_AB_BUDGET: "20s"}
`, map[string]int{"loop-1": 20000})
	git(t, repo, "remote", "set-url", "origin", origin)
	git(t, repo, "push", "-q", "origin", "main")
	git(t, repo, "checkout", "-q", "-b", "feature")
	writeLoops(t, repo, map[string]int{"loop-1": 60000})
	git(t, repo, "commit", "-q", "-am", "three times slower")
	vars := append([]string{"GITLAB_CI=true", "CI_API_V4_URL=" + api.URL + "/api/v4", "CI_PROJECT_ID=42",
		"CI_JOB_TOKEN=" + fakeJobToken, "CODSPEED_GITLAB_TOKEN=" + fakeAPIToken}, mergeRequest...)
	out, ok := runPipeline(t, glcl, repo, vars...)
	if ok || !strings.Contains(out, "paired A/B found a regression against main") {
		t.Fatalf("a three-times-slower head passed the A/B job (or it failed otherwise):\n%s", out)
	}
	fake.mu.Lock()
	if len(fake.notes) != 1 || !strings.HasPrefix(fake.notes[0].Body, "<!-- codspeed-go benchmark report: ab -->") {
		t.Fatalf("notes after the A/B job: %+v", fake.notes)
	}
	fake.mu.Unlock()

	writeLoops(t, repo, map[string]int{"loop-1": 20000})
	git(t, repo, "commit", "-q", "-am", "back")
	out, ok = runPipeline(t, glcl, repo, vars...)
	if !ok {
		t.Fatalf("an unchanged head failed the A/B job:\n%s", out)
	}
}
