package main

// End-to-end tests of sharding on the built binary: `--shard I/N` by hand,
// and a GitLab `parallel: 3` job emulated by its variables, whose three
// runner processes upload to a live `codspeed serve` as parts of one run.
// Walltime with no sandbox and no perf on `true`: no lock needed.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments/memory"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/server"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// shardRepo is a git repository whose codspeed.yml has n tiny targets.
func shardRepo(t *testing.T, n int) (string, []string) {
	t.Helper()
	repo := t.TempDir()
	var yml strings.Builder
	yml.WriteString("benchmarks:\n")
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("target-%02d", i)
		names = append(names, name)
		fmt.Fprintf(&yml, "  - name: %s\n    exec: 'true'\n", name)
	}
	if err := os.WriteFile(filepath.Join(repo, "codspeed.yml"), []byte(yml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "remote", "add", "origin", "https://gitlab.example.com/acme/widget.git")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "first")
	return repo, names
}

var shardRunArgs = []string{"run", "--mode", "walltime", "--no-sandbox", "--enable-perf=false", "--warmup-time", "0", "--max-rounds", "2"}

// shardBenchNames are the benchmark names in a profile folder's results.
func shardBenchNames(t *testing.T, profile string) []string {
	t.Helper()
	var out []string
	files, _ := filepath.Glob(filepath.Join(profile, "results", "*.json"))
	for _, p := range files {
		f, err := results.ReadResults(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range f.Benchmarks {
			out = append(out, b.Name)
		}
	}
	return out
}

func TestShardByHand(t *testing.T) {
	repo, names := shardRepo(t, 8)
	var all []string
	for i := 1; i <= 3; i++ {
		pf := filepath.Join(t.TempDir(), "profile")
		args := append(slices.Clone(shardRunArgs), "--profile-folder", pf, "--shard", fmt.Sprintf("%d/3", i))
		r := codspeed(t, repo, "", args...)
		if r.code != 0 {
			t.Fatalf("shard %d/3: exit %d\n%s", i, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, fmt.Sprintf("shard %d/3 (--shard, by name hash): runs ", i)) || !strings.Contains(r.stderr, fmt.Sprintf("shard %d/3: skips ", i)) {
			t.Fatalf("shard %d/3 does not say what it runs and skips:\n%s", i, r.stderr)
		}
		got := shardBenchNames(t, pf)
		all = append(all, got...)
		// The run record holds the same lists.
		runs := storeRuns(t, repo)
		last := runs[0] // newest first
		if last.Shard == nil || last.Shard.Index != i || last.Shard.Total != 3 || len(last.Shard.Ran)+len(last.Shard.Skipped) != len(names) {
			t.Fatalf("shard %d/3: run record %+v", i, last.Shard)
		}
		if fmt.Sprint(shardSorted(last.Shard.Ran)) != fmt.Sprint(shardSorted(got)) {
			t.Fatalf("shard %d/3 recorded %v but measured %v", i, last.Shard.Ran, got)
		}
	}
	if fmt.Sprint(shardSorted(all)) != fmt.Sprint(names) {
		t.Fatalf("three shards measured %v, want every target once: %v", shardSorted(all), names)
	}
	// The same shard computed twice is the same (no machine-local input).
	r1 := codspeed(t, repo, "", append(slices.Clone(shardRunArgs), "--shard", "2/3", "--skip-upload")...)
	r2 := codspeed(t, repo, "", append(slices.Clone(shardRunArgs), "--shard", "2/3", "--skip-upload")...)
	line := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "shard 2/3 (") {
				return l
			}
		}
		return ""
	}
	if line(r1.stderr) == "" || line(r1.stderr) != line(r2.stderr) {
		t.Fatalf("shard 2/3 differs between runs:\n%s\n%s", line(r1.stderr), line(r2.stderr))
	}
	for _, bad := range []string{"0/3", "4/3", "x"} {
		if r := codspeed(t, repo, "", append(slices.Clone(shardRunArgs), "--shard", bad)...); r.code != 2 || !strings.Contains(r.stderr, "--shard") {
			t.Fatalf("--shard %s: exit %d\n%s", bad, r.code, r.stderr)
		}
	}
}

func shardSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// gitlabParallel is the environment of job index i of a GitLab `parallel: n`
// job in pipeline 4242.
func gitlabParallel(repo, sha string, i, n int) []string {
	return []string{"CI=true", "GITLAB_CI=true", "CI_PIPELINE_SOURCE=push", "CI_COMMIT_REF_NAME=main", "CI_COMMIT_BRANCH=main",
		"CI_COMMIT_SHA=" + sha, fmt.Sprintf("CI_JOB_ID=%d", 100+i), fmt.Sprintf("CI_JOB_NAME=bench %d/%d", i, n), "CI_PIPELINE_ID=4242",
		"CI_PROJECT_DIR=" + repo, "CI_PROJECT_NAME=widget", "CI_PROJECT_NAMESPACE=acme", "GITLAB_USER_ID=1", "GITLAB_USER_LOGIN=a",
		fmt.Sprintf("CI_NODE_INDEX=%d", i), fmt.Sprintf("CI_NODE_TOTAL=%d", n)}
}

func headSHA(t *testing.T, repo string) string {
	t.Helper()
	cmd := exec.Command("git", "rev-parse", "HEAD")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func TestShardGitLabParallelToServer(t *testing.T) {
	for name, dbArgs := range serveBackends(t) {
		t.Run(name, func(t *testing.T) { testShardGitLabParallel(t, dbArgs) })
	}
}

func testShardGitLabParallel(t *testing.T, dbArgs []string) {
	token := createToken(t, dbArgs, "acme/widget")
	srv := startServe(t, dbArgs, "--shard-timeout", "2s")
	_, names := shardRepo(t, 9)
	// Three jobs, three checkouts (three machines); jobs 1 and 2 run at
	// once, job 3 comes late.
	artifacts := t.TempDir()
	pf := func(i int) string { return filepath.Join(artifacts, fmt.Sprintf("job-%d", i)) }
	job := func(i int) (string, error) {
		repo, _ := shardRepo(t, 9)
		cmd := newCmd(repo, append(slices.Clone(shardRunArgs), "--upload-url", srv.url+"/upload", "--token", token, "--profile-folder", pf(i))...)
		cmd.Env = append(cmd.Env, gitlabParallel(repo, headSHA(t, repo), i, 3)...)
		out, err := cmd.CombinedOutput()
		if err == nil && !strings.Contains(string(out), fmt.Sprintf("shard %d/3 (GitLab CI_NODE_INDEX/CI_NODE_TOTAL", i)) {
			err = fmt.Errorf("no shard line")
		}
		return string(out), err
	}
	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := 1; i <= 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i-1], errs[i-1] = job(i)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d/3: %v\n%s", i+1, err, outs[i])
		}
	}
	// The missing part is reported: in the API at once, as timed out
	// after --shard-timeout, and on the run page.
	pending := srv.runs(t, "")
	if len(pending) != 1 {
		t.Fatalf("%d runs on the server, want the parts merged into one: %+v", len(pending), pending)
	}
	var run server.RunWithBenchmarks
	srv.getJSON(t, "/api/v1/runs/"+pending[0].ID, &run)
	if run.Shards == nil || run.Shards.Complete || run.Shards.Total != 3 || fmt.Sprint(run.Shards.Missing) != "[shard 3/3]" || run.Shards.TimedOut {
		t.Fatalf("two of three shards: %+v", run.Shards)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(srv.stderr.String(), "sharded run reported incomplete") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if log := srv.stderr.String(); !strings.Contains(log, "sharded run reported incomplete") || !strings.Contains(log, "shard 3/3") {
		t.Fatalf("no report of the missing part after the timeout:\n%s", log)
	}
	srv.getJSON(t, "/api/v1/runs/"+pending[0].ID, &run)
	if !run.Shards.TimedOut {
		t.Fatalf("after the timeout: %+v", run.Shards)
	}
	page := httpGet(t, srv.url+"/runs/"+pending[0].ID)
	if !strings.Contains(page, "2 of 3 arrived; not arrived: shard 3/3") {
		t.Fatalf("run page does not show the missing part:\n%s", page)
	}
	if out, err := job(3); err != nil {
		t.Fatalf("job 3/3: %v\n%s", err, out)
	}
	runs := srv.runs(t, "")
	if len(runs) != 1 {
		t.Fatalf("%d runs on the server, want the three parts merged into one: %+v", len(runs), runs)
	}
	run = server.RunWithBenchmarks{}
	srv.getJSON(t, "/api/v1/runs/"+runs[0].ID, &run)
	if run.Shards == nil || !run.Shards.Complete || len(run.Shards.Missing) != 0 {
		t.Fatalf("three of three shards: %+v", run.Shards)
	}
	var got []string
	for _, b := range run.Benchmarks {
		got = append(got, b.Name)
	}
	if fmt.Sprint(shardSorted(got)) != fmt.Sprint(names) {
		t.Fatalf("merged run holds %v, want every target once: %v", shardSorted(got), names)
	}
	jobs := map[string]bool{}
	for _, p := range run.Parts {
		jobs[p.JobName] = true
	}
	if len(run.Parts) != 3 || len(jobs) != 3 {
		t.Fatalf("parts: %+v", run.Parts)
	}

	// Without the server: the three jobs' profile folders (CI artifacts)
	// merged into one local run equal to the server's merged run.
	local := t.TempDir()
	r := codspeed(t, local, "", "merge", pf(1), pf(2), pf(3))
	if r.code != 0 {
		t.Fatalf("merge: exit %d\n%s", r.code, r.stderr)
	}
	merged := storeRuns(t, local)
	if len(merged) != 1 || strings.TrimSpace(r.stdout) != merged[0].ID || len(merged[0].Parts) != 1 {
		t.Fatalf("merge made %+v (stdout %q)", merged, r.stdout)
	}
	f, err := results.ReadResults(filepath.Join(local, "store", merged[0].ID, merged[0].Parts[0].Results))
	if err != nil {
		t.Fatal(err)
	}
	canon := func(bs []results.Benchmark) string {
		bs = slices.Clone(bs)
		slices.SortFunc(bs, func(a, b results.Benchmark) int { return strings.Compare(a.URI, b.URI) })
		out, _ := json.Marshal(bs)
		return string(out)
	}
	var fromServer []results.Benchmark
	for _, b := range run.Benchmarks {
		fromServer = append(fromServer, b.Benchmark)
	}
	if a, b := canon(f.Benchmarks), canon(fromServer); a != b {
		t.Fatalf("merged locally:\n%s\non the server:\n%s", a, b)
	}
	rep := codspeed(t, local, "", "report", merged[0].ID, "--format", "markdown")
	for _, n := range names {
		if rep.code != 0 || !strings.Contains(rep.stdout, n) {
			t.Fatalf("report of the merged run lacks %s: exit %d\n%s\n%s", n, rep.code, rep.stdout, rep.stderr)
		}
	}
	// Folders that are not shards of one suite are refused.
	if r := codspeed(t, local, "", "merge", pf(1), pf(1)); r.code != 1 || !strings.Contains(r.stderr, "not shards of one suite") {
		t.Fatalf("merge of one folder twice: exit %d\n%s", r.code, r.stderr)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, b)
	}
	return string(b)
}

// TestShardKubernetesIndexedJob: the pods of an Indexed Job (completions 3)
// know their index and, from the manifest, the count and the run id
// (examples/k8s): three processes outside any CI engine make one run.
func TestShardKubernetesIndexedJob(t *testing.T) {
	dbArgs := []string{"--data", t.TempDir()}
	token := createToken(t, dbArgs, "acme/widget")
	srv := startServe(t, dbArgs)
	var names []string
	for i := 0; i < 3; i++ {
		repo, ns := shardRepo(t, 5)
		names = ns
		cmd := newCmd(repo, append(slices.Clone(shardRunArgs), "--upload-url", srv.url+"/upload", "--token", token)...)
		cmd.Env = append(cmd.Env, fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i), "CODSPEED_SHARD_TOTAL=3", "CODSPEED_RUN_ID=job-uid-1234")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), fmt.Sprintf("shard %d/3 (Kubernetes JOB_COMPLETION_INDEX and CODSPEED_SHARD_TOTAL", i+1)) {
			t.Fatalf("pod %d: %v\n%s", i, err, out)
		}
	}
	runs := srv.runs(t, "")
	if len(runs) != 1 {
		t.Fatalf("%d runs, want one: %+v", len(runs), runs)
	}
	var run server.RunWithBenchmarks
	srv.getJSON(t, "/api/v1/runs/"+runs[0].ID, &run)
	var got []string
	for _, b := range run.Benchmarks {
		got = append(got, b.Name)
	}
	if fmt.Sprint(shardSorted(got)) != fmt.Sprint(names) || run.Shards == nil || !run.Shards.Complete || run.CIRunID != "job-uid-1234" {
		t.Fatalf("run %+v shards %+v benchmarks %v", run.Run, run.Shards, got)
	}
}

// TestShardBalancedOnServerDurations: a run of main records how long each
// target took; shards that name that commit read the same figures and put
// the slow target alone on one shard.
func TestShardBalancedOnServerDurations(t *testing.T) {
	dbArgs := []string{"--data", t.TempDir()}
	token := createToken(t, dbArgs, "acme/widget")
	srv := startServe(t, dbArgs)
	repo, _ := shardRepo(t, 3)
	yml := "benchmarks:\n  - name: slow\n    exec: sleep 0.3\n  - name: a\n    exec: 'true'\n  - name: b\n    exec: 'true'\n  - name: c\n    exec: 'true'\n"
	if err := os.WriteFile(filepath.Join(repo, "codspeed.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "commit", "-q", "-am", "four targets")
	if r := codspeed(t, repo, "", append(slices.Clone(shardRunArgs), "--upload-url", srv.url+"/upload", "--token", token)...); r.code != 0 {
		t.Fatalf("base run: exit %d\n%s", r.code, r.stderr)
	}
	sha := headSHA(t, repo)
	var ran [][]string
	for i := 1; i <= 2; i++ {
		r := codspeed(t, repo, "", append(slices.Clone(shardRunArgs), "--skip-upload", "--shard", fmt.Sprintf("%d/2", i),
			"--shard-durations", sha, "--shard-server", srv.url)...)
		if r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("shard %d/2 (--shard, balanced on recorded durations)", i)) {
			t.Fatalf("shard %d/2: exit %d\n%s", i, r.code, r.stderr)
		}
		ran = append(ran, storeRuns(t, repo)[0].Shard.Ran)
	}
	if fmt.Sprint(ran) != "[[slow] [a b c]]" {
		t.Fatalf("shards ran %v, want the slow target alone", ran)
	}
	if r := codspeed(t, repo, "", append(slices.Clone(shardRunArgs), "--shard", "1/2", "--shard-durations", sha)...); r.code != 2 || !strings.Contains(r.stderr, "needs a results server") {
		t.Fatalf("no server: exit %d\n%s", r.code, r.stderr)
	}
}

// TestShardGoBenchmarks: one `go test -bench` target over two packages is
// split per top-level benchmark: three shards measure every benchmark once.
func TestShardGoBenchmarks(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Missing(t, "go not installed")
	}
	repo := t.TempDir()
	files := map[string]string{
		"go.mod":       "module example.com/sh\n\ngo 1.22\n",
		"codspeed.yml": "options:\n  warmup-time: 0\n  max-rounds: 2\nbenchmarks:\n  - name: go\n    entrypoint: go test -run='^$' -bench=. ./...\n",
	}
	var want []string
	for _, pkg := range []string{"alpha", "beta"} {
		var src strings.Builder
		fmt.Fprintf(&src, "package %s\n\nimport \"testing\"\n\n", pkg)
		for _, b := range []string{"One", "Two", "Three"} {
			fmt.Fprintf(&src, "func Benchmark%s%s(b *testing.B) {\n\tfor i := 0; i < b.N; i++ {\n\t}\n}\n\n", strings.ToUpper(pkg[:1])+pkg[1:], b)
			want = append(want, "Benchmark"+strings.ToUpper(pkg[:1])+pkg[1:]+b)
		}
		files[pkg+"/"+pkg+"_test.go"] = src.String()
	}
	for name, body := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(repo, name)), 0o755)
		if err := os.WriteFile(filepath.Join(repo, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "go")
	var all []string
	for i := 1; i <= 3; i++ {
		pf := filepath.Join(t.TempDir(), "profile")
		r := codspeed(t, repo, "", "run", "--mode", "walltime", "--no-sandbox", "--enable-perf=false", "--skip-upload",
			"--profile-folder", pf, "--shard", fmt.Sprintf("%d/3", i))
		if r.code != 0 || !strings.Contains(r.stderr, "of 6 targets and Go benchmarks") {
			t.Fatalf("shard %d/3: exit %d\n%s", i, r.code, r.stderr)
		}
		for _, n := range shardBenchNames(t, pf) {
			all = append(all, strings.SplitN(n, "-", 2)[0]) // drop a -GOMAXPROCS suffix if any
		}
	}
	slices.Sort(want)
	if fmt.Sprint(shardSorted(all)) != fmt.Sprint(want) {
		t.Fatalf("three shards measured %v, want every benchmark once: %v", shardSorted(all), want)
	}
}

// TestShardWithNothingToRun: more shards than targets; the shards with no
// target succeed and upload an empty part, so the server sees the run whole.
func TestShardWithNothingToRun(t *testing.T) {
	dbArgs := []string{"--data", t.TempDir()}
	token := createToken(t, dbArgs, "acme/widget")
	srv := startServe(t, dbArgs)
	repo, _ := shardRepo(t, 1)
	sha := headSHA(t, repo)
	empty := 0
	for i := 1; i <= 3; i++ {
		cmd := newCmd(repo, append(slices.Clone(shardRunArgs), "--upload-url", srv.url+"/upload", "--token", token)...)
		cmd.Env = append(cmd.Env, gitlabParallel(repo, sha, i, 3)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("job %d/3: %v\n%s", i, err, out)
		}
		if strings.Contains(string(out), "runs 0 of 1") {
			empty++
		}
	}
	if empty != 2 {
		t.Fatalf("%d shards ran nothing, want 2", empty)
	}
	runs := srv.runs(t, "")
	var run server.RunWithBenchmarks
	if len(runs) == 1 {
		srv.getJSON(t, "/api/v1/runs/"+runs[0].ID, &run)
	}
	if len(runs) != 1 || len(run.Benchmarks) != 1 || run.Shards == nil || !run.Shards.Complete {
		t.Fatalf("runs %+v, shards %+v", runs, run.Shards)
	}
}

// TestShardSimulationAndMemory: sharding is the same in the other
// instruments: three shards of five exec targets under callgrind, then
// under the eBPF memory instrument, measure every target once with that
// instrument's figures, and `codspeed merge` of their profile folders holds
// all five. Valgrind and uprobes: run under `flock /tmp/codspeed-dev.lock`
// on a shared machine.
func TestShardSimulationAndMemory(t *testing.T) {
	_, err := exec.LookPath("valgrind")
	need(t, err == nil, "valgrind is not installed (apt-get install valgrind)")
	need(t, os.Geteuid() == 0, "memory mode needs root for eBPF")
	need(t, (&memory.Instrument{}).Check() == nil, fmt.Sprintf("memory mode: %v", (&memory.Instrument{}).Check()))
	for _, mode := range []string{"simulation", "memory"} {
		t.Run(mode, func(t *testing.T) {
			repo, names := shardRepo(t, 5)
			var pfs, all []string
			for i := 1; i <= 3; i++ {
				pf := filepath.Join(t.TempDir(), "profile")
				pfs = append(pfs, pf)
				r := codspeed(t, repo, "", "run", "--mode", mode, "--skip-upload", "--profile-folder", pf, "--shard", fmt.Sprintf("%d/3", i))
				if r.code != 0 {
					t.Fatalf("shard %d/3: exit %d\n%s", i, r.code, r.stderr)
				}
				all = append(all, shardBenchNames(t, pf)...)
			}
			if fmt.Sprint(shardSorted(all)) != fmt.Sprint(names) {
				t.Fatalf("three shards measured %v, want every target once: %v", shardSorted(all), names)
			}
			local := openDir(t)
			r := codspeed(t, local, "", "merge", pfs[0], pfs[1], pfs[2])
			if r.code != 0 {
				t.Fatalf("merge: exit %d\n%s", r.code, r.stderr)
			}
			merged := storeRuns(t, local)
			if len(merged) != 1 || len(merged[0].Parts) != 1 {
				t.Fatalf("merge made %+v", merged)
			}
			f, err := results.ReadResults(filepath.Join(local, "store", merged[0].ID, merged[0].Parts[0].Results))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range f.Benchmarks {
				got = append(got, b.Name)
				switch {
				case mode == "simulation" && (b.Simulation == nil || !(b.Simulation.Instructions > 0)):
					t.Errorf("%s: no simulated instructions in the merged run: %+v", b.Name, b)
				case mode == "memory" && b.Memory == nil:
					t.Errorf("%s: no memory figures in the merged run: %+v", b.Name, b)
				}
			}
			if fmt.Sprint(shardSorted(got)) != fmt.Sprint(names) {
				t.Fatalf("merged run holds %v, want %v", shardSorted(got), names)
			}
			if f.Instrument.Type != mode {
				t.Errorf("merged run's instrument %q, want %s", f.Instrument.Type, mode)
			}
		})
	}
}
