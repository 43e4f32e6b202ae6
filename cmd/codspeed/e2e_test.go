package main

// End-to-end tests: they build the real binary and the C example, and run
// them as a user would, checking exit codes, messages and the files left.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// e2eVersion is the version the binary under test is linked with.
const e2eVersion = "v0.0.0-e2e"

var (
	binary string // the codspeed binary under test
	primes string // the C example
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "codspeed-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "codspeed")
	// Linked as the Makefile links it, with a version every place must report.
	build := exec.Command("go", "build", "-ldflags=-X github.com/codspeed-go/codspeed-go/version.version="+e2eVersion, "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build codspeed: %v\n%s", err, out)
		os.Exit(1)
	}
	primes = filepath.Join(dir, "primes")
	if out, err := exec.Command("cc", "-O2", "-o", primes, "../../examples/c/primes.c").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build primes example: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if staticPrimes != "" {
		os.RemoveAll(filepath.Dir(staticPrimes))
	}
	removeRunnerImage()
	sweepDanglingImages()
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// codspeed runs the binary in dir with an isolated store.
func codspeed(t *testing.T, dir string, stdin string, args ...string) result {
	t.Helper()
	cmd := newCmd(dir, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r := result{code, out.String(), errb.String()}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("codspeed panicked:\n%s", r.stderr)
	}
	return r
}

// ambient are settings a developer's or CI's environment may carry that
// would change what the tests see.
var ambient = []string{"CODSPEED_TOKEN=", "CODSPEED_UPLOAD_URL=", "CODSPEED_SKIP_UPLOAD=", "CODSPEED_RUNNER_MODE=",
	"CODSPEED_PROFILE_FOLDER=", "CODSPEED_STORE=", "ACTIONS_ID_TOKEN_REQUEST_URL=", "GITHUB_ACTIONS=", "GITLAB_CI=", "BUILDKITE=", "JENKINS_URL="}

// newCmd prepares the binary in dir with an isolated store and none of the
// ambient CodSpeed or CI settings (a test's own t.Setenv values pass).
func newCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		drop := false
		for _, a := range ambient {
			drop = drop || strings.HasPrefix(kv, a)
		}
		if !drop {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "CODSPEED_STORE="+filepath.Join(dir, "store"))
	return cmd
}

func readOnlyResults(t *testing.T, profile string) *results.File {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(profile, "results", "*.json"))
	if len(files) != 1 {
		t.Fatalf("want one results file in %s, got %v", profile, files)
	}
	f, err := results.ReadResults(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func storeRuns(t *testing.T, dir string) []*results.RunMeta {
	t.Helper()
	runs, err := (&results.Store{Root: filepath.Join(dir, "store")}).List()
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func TestExecCExample(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "profile")
	r := codspeed(t, dir, "", "exec", "--profile-folder", pf, "--warmup-time", "0", "--max-rounds", "7", "--", primes, "20000")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	f := readOnlyResults(t, pf)
	if f.Instrument.Type != "walltime" || f.Creator.Name != "codspeed-go" || f.Run == nil || f.Run.ID == "" {
		t.Fatalf("header: %+v", f)
	}
	b := f.Benchmarks[0]
	wantName := primes + " 20000"
	if b.Name != wantName || b.URI != "exec_harness::"+wantName {
		t.Fatalf("name %q uri %q", b.Name, b.URI)
	}
	s := b.Stats
	if s.Rounds != 7 || len(b.Samples) != 7 || s.IterPerRound != 1 || s.WarmupIters != 0 {
		t.Fatalf("stats: %+v", s)
	}
	if !(s.MinNs > 0 && s.MinNs <= s.Q1Ns && s.Q1Ns <= s.MedianNs && s.MedianNs <= s.Q3Ns && s.Q3Ns <= s.MaxNs) {
		t.Fatalf("order: %+v", s)
	}
	// The command is recorded as it ran, so compare --confirm can run it again.
	if b.Command == nil || b.Command.Line != wantName || len(b.Command.Args) != 2 || b.Command.Args[0] != primes || b.Command.Dir != dir {
		t.Fatalf("command record: %+v", b.Command)
	}
	// Every target runs in a sandbox that says where; as root here that is
	// its own cgroup, pinned to one CPU, with its spec kept.
	if b.Sandbox == nil || b.Sandbox.CPUs == "" || b.Sandbox.Kind == "" || b.Sandbox.Kind == "none" {
		t.Fatalf("sandbox: %+v", b.Sandbox)
	}
	if os.Geteuid() == 0 && (b.Sandbox.Kind != "local" || b.Sandbox.CPUUsageNs <= 0 || b.Sandbox.PeakMemoryBytes <= 0) {
		t.Fatalf("as root the target should get its own cgroup with usage figures: %+v", b.Sandbox)
	}
	if specs, _ := filepath.Glob(filepath.Join(pf, "sandbox", "*.json")); len(specs) != 1 {
		t.Fatalf("sandbox spec not kept: %v", specs)
	}
	if b.Config == nil || b.Config.MaxRounds == nil || *b.Config.MaxRounds != 7 || b.Config.WarmupTimeNs != nil {
		t.Fatalf("config: %+v", b.Config)
	}
	// One benchmark: a summary line, not a table.
	if strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 || !strings.Contains(r.stdout, wantName) {
		t.Fatalf("summary line: %q", r.stdout)
	}
	// The results file has CodSpeed's exact field names.
	raw, _ := os.ReadFile(filepath.Join(pf, "results", fmt.Sprintf("%d.json", f.Creator.Pid)))
	for _, key := range []string{`"min_ns"`, `"q1_ns"`, `"iqr_outlier_rounds"`, `"stdev_outlier_rounds"`, `"iter_per_round"`, `"warmup_iters"`, `"total_time"`, `"warmup_time_ns": null`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("results file lacks %s", key)
		}
	}
	if runs := storeRuns(t, dir); len(runs) != 1 || runs[0].Status != results.StatusComplete {
		t.Fatalf("store: %+v", runs)
	}
}

func TestExecWarmupAndTimeBounds(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "profile")
	r := codspeed(t, dir, "", "exec", "--profile-folder", pf, "--warmup-time", "100ms", "--max-time", "300ms", "--", primes, "1000")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	s := readOnlyResults(t, pf).Benchmarks[0].Stats
	if s.WarmupIters < 1 || s.Rounds < 2 {
		t.Fatalf("warmup %d rounds %d", s.WarmupIters, s.Rounds)
	}
	// The round count was planned from the warmup average to fit 300ms; the
	// measured part must not run far past it.
	if s.TotalTime > 1.0 {
		t.Fatalf("total %.3fs for a 300ms budget", s.TotalTime)
	}
}

func writeConfig(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "codspeed.yml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigTwoTargetsAndFailure(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf(`options:
  warmup-time: 0
  max-rounds: 3
benchmarks:
  - name: small
    exec: %[1]s 1000
  - name: broken
    exec: sh -c 'echo something went wrong >&2; exit 3'
  - name: missing
    exec: ./does-not-exist
  - name: large
    exec: %[1]s 50000
`, primes))
	pf := filepath.Join(dir, "pf")
	r := codspeed(t, dir, "", "run", "--profile-folder", pf)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	f := readOnlyResults(t, pf)
	byName := map[string]results.Benchmark{}
	for _, b := range f.Benchmarks {
		byName[b.Name] = b
	}
	if len(byName) != 4 {
		t.Fatalf("benchmarks: %v", f.Benchmarks)
	}
	for _, ok := range []string{"small", "large"} {
		if byName[ok].Stats == nil || byName[ok].Stats.Rounds != 3 || byName[ok].Error != "" {
			t.Errorf("%s: %+v", ok, byName[ok])
		}
	}
	if e := byName["broken"].Error; !strings.Contains(e, "exit status 3") || !strings.Contains(e, "something went wrong") {
		t.Errorf("broken: error %q lacks status or stderr tail", e)
	}
	if e := byName["missing"].Error; !strings.Contains(e, "not found") {
		t.Errorf("missing: error %q", e)
	}
	if !strings.Contains(r.stdout, "FAILED") && !strings.Contains(r.stdout, "failed") {
		t.Errorf("table does not mark failures:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "2 benchmark(s) failed") {
		t.Errorf("stderr: %s", r.stderr)
	}
	runs := storeRuns(t, dir)
	if len(runs) != 1 || runs[0].Status != results.StatusFailed || runs[0].Parts[0].Failed != 2 {
		t.Fatalf("store: %+v", runs[0])
	}
}

func TestPinnedCPUs(t *testing.T) {
	if os.Geteuid() != 0 || runtime.NumCPU() < 2 {
		testenv.Missing(t, "pinning to CPU 1 needs root (for the cgroup) and two CPUs")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "affinity")
	pf := filepath.Join(dir, "pf")
	// The benchmark records the CPUs it may run on, as the kernel sees it.
	r := codspeed(t, dir, "", "exec", "--cpus", "1", "--warmup-time", "0", "--max-rounds", "1", "--profile-folder", pf,
		"--", "sh", "-c", "grep Cpus_allowed_list /proc/self/status > "+out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(out)
	if strings.TrimSpace(string(got)) != "Cpus_allowed_list:\t1" {
		t.Fatalf("benchmark ran on %q", got)
	}
	if sb := readOnlyResults(t, pf).Benchmarks[0].Sandbox; sb.CPUs != "1" || sb.Kind != "local" {
		t.Fatalf("sandbox record: %+v", sb)
	}
}

func TestCommandNotFound(t *testing.T) {
	dir := t.TempDir()
	r := codspeed(t, dir, "", "exec", "--max-rounds", "2", "--", "no-such-command-xyz", "--flag")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, `"no-such-command-xyz" not found`) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

func TestBadConfigs(t *testing.T) {
	cases := []struct{ body, want string }{
		{"options:\n  max-rounds: abc\n", `codspeed.yml:2: max-rounds`},
		{"benchmarks:\n  - name: x\n    exec: ./a\n    options:\n      min-time: 1s\n      max-rounds: 3\n", `codspeed.yml:`},
		{"benchmarks:\n  - name: x\n", `codspeed.yml:2`},
		{"options: [\n", `codspeed.yml:`},
		{"benchmarks:\n  - exec: ./a\n    entrypoint: ./b\n", `codspeed.yml:3: entrypoint`},
	}
	for _, c := range cases {
		dir := t.TempDir()
		writeConfig(t, dir, c.body)
		r := codspeed(t, dir, "", "run")
		if r.code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", c.body, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: stderr %q lacks %q", c.body, r.stderr, c.want)
		}
		if runs := storeRuns(t, dir); len(runs) != 0 {
			t.Errorf("%q: a run was recorded for a bad config", c.body)
		}
	}
	// Unknown keys warn with a suggestion but run.
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf("options:\n  max-round: 3\n  max-rounds: 2\n  warmup-time: 0\nbenchmarks:\n  - exec: %s 100\n", primes))
	r := codspeed(t, dir, "", "run")
	if r.code != 0 || !strings.Contains(r.stderr, "codspeed.yml:2: max-round") || !strings.Contains(r.stderr, `"max-rounds"`) {
		t.Fatalf("unknown key: exit %d\n%s", r.code, r.stderr)
	}
	// A command-line bound replaces the config's bound it cannot be combined
	// with: flags win over the config.
	writeConfig(t, dir, "options:\n  min-time: 1s\n  warmup-time: 0\n")
	r = codspeed(t, dir, "", "exec", "--max-rounds", "2", "--", primes, "100")
	if r.code != 0 || !strings.Contains(r.stdout, "2 rounds") {
		t.Fatalf("CLI --max-rounds over a configured min-time: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// An empty benchmark list measures nothing: exit 1.
	writeConfig(t, dir, "benchmarks: []\n")
	r = codspeed(t, dir, "", "run")
	if r.code != 1 || !strings.Contains(r.stderr, "defines no benchmarks") {
		t.Fatalf("empty benchmarks: exit %d\n%s", r.code, r.stderr)
	}
	// Conflicting CLI flags fail before anything runs.
	r = codspeed(t, dir, "", "exec", "--min-time", "1s", "--max-rounds", "3", "--", primes, "10")
	if r.code != 2 || !strings.Contains(r.stderr, "min-time") {
		t.Fatalf("conflicting flags: exit %d\n%s", r.code, r.stderr)
	}
}

func TestInterruptKeepsFinishedBenchmarks(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, fmt.Sprintf(`options:
  warmup-time: 0
  max-rounds: 2
benchmarks:
  - name: quick
    exec: %s 1000
  - name: slow
    exec: sleep 30
  - name: never
    exec: %s 1000
`, primes, primes))
	pf := filepath.Join(dir, "pf")
	cmd := exec.Command(binary, "run", "--profile-folder", pf, "--message-format", "json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CODSPEED_STORE="+filepath.Join(dir, "store"))
	stdout, _ := cmd.StdoutPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.Contains(sc.Text(), `"quick"`) {
		t.Fatalf("first event: %q", sc.Text())
	}
	time.Sleep(300 * time.Millisecond) // "slow" is now running
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	for sc.Scan() {
	}
	err := cmd.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v to stop after SIGINT", took)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v\n%s", err, errb.String())
	}
	f := readOnlyResults(t, pf)
	if len(f.Benchmarks) != 1 || f.Benchmarks[0].Name != "quick" {
		t.Fatalf("kept: %+v", f.Benchmarks)
	}
	runs := storeRuns(t, dir)
	if runs[0].Status != results.StatusPartial || strings.Join(runs[0].Missing, ",") != "walltime: slow,walltime: never" {
		t.Fatalf("run record: %+v", runs[0])
	}
	leftovers, _ := filepath.Glob(filepath.Join(pf, "results", ".*tmp*"))
	if len(leftovers) > 0 {
		t.Fatalf("half-written files left: %v", leftovers)
	}
}

func TestJSONEventsAndStdin(t *testing.T) {
	dir := t.TempDir()
	input := fmt.Sprintf(`[{"command": "%[1]s 500", "name": "tiny"}, {"command": "%[1]s 5000", "options": {"max-rounds": 4, "cpus": "1"}}]`, primes)
	r := codspeed(t, dir, input, "exec", "--message-format", "json", "--warmup-time", "0", "--max-rounds", "2", "-")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("stdout line is not JSON: %q", line)
		}
		events = append(events, ev)
	}
	if len(events) != 3 || events[0]["event"] != "benchmark_ran" || events[0]["name"] != "tiny" ||
		events[1]["name"] != primes+" 5000" || events[2]["event"] != "run_finished" {
		t.Fatalf("events: %v", events)
	}
	if _, ok := events[0]["median_ns"].(float64); !ok {
		t.Fatalf("no median: %v", events[0])
	}
	id := events[2]["run_id"].(string)
	paths := events[2]["results"].([]any)
	f, err := results.ReadResults(paths[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	// The CLI bound (2) wins over the entry's own option (4): CLI > target.
	if f.Run.ID != id || f.Benchmarks[0].Stats.Rounds != 2 || f.Benchmarks[1].Stats.Rounds != 2 {
		t.Fatalf("results: %+v", f.Benchmarks)
	}
	// One command per line works too.
	r = codspeed(t, dir, primes+" 100\n\n# comment\n"+primes+" 200\n", "exec", "--warmup-time", "0", "--max-rounds", "2", "-")
	if r.code != 0 || !strings.Contains(r.stdout, primes+" 200") {
		t.Fatalf("lines: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if len(storeRuns(t, dir)) != 2 {
		t.Fatal("two invocations should make two runs")
	}
}

func TestBenchmarkEnvironment(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env.txt")
	cmd := exec.Command(binary, "exec", "--skip-upload", "--warmup-time", "0", "--max-rounds", "1", "--profile-folder", filepath.Join(dir, "pf"),
		"--", "sh", "-c", "env > "+envFile)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CODSPEED_STORE="+filepath.Join(dir, "store"), "CODSPEED_TOKEN=secret-token-value")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	env, _ := os.ReadFile(envFile)
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	for _, want := range []string{"CODSPEED_ENV=runner", "CODSPEED_RUNNER_MODE=walltime", "PYTHONHASHSEED=0", "ARCH=" + arch,
		"CODSPEED_PROFILE_FOLDER=" + filepath.Join(dir, "pf")} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("benchmark environment lacks %s", want)
		}
	}
	if strings.Contains(string(env), "secret-token-value") {
		t.Error("the upload token leaked into the benchmark's environment")
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"exec"}, 2, "exec needs a command"},
		{[]string{"exec", "-"}, 1, "no commands were given on standard input"},
		{[]string{"run"}, 2, "nothing to run"},
		{[]string{"exec", "--mode", "bogus", "--", "true"}, 2, `unknown mode "bogus"`},
		{[]string{"exec", "--max-time", "fast", "--", "true"}, 2, "--max-time"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"exec", "--perf-unwinding-mode", "lbr", "--", "true"}, 2, `--perf-unwinding-mode: unknown perf unwinding mode "lbr"`},
		{[]string{"exec", "--help"}, 0, "--warmup-time"},
		{[]string{"version"}, 0, "codspeed-go"},
	} {
		r := codspeed(t, dir, "", c.args...)
		if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) {
			t.Errorf("%v: exit %d (want %d), output lacks %q:\n%s%s", c.args, r.code, c.code, c.want, r.stdout, r.stderr)
		}
	}
}

// Walltime profiles are on by default; --enable-perf=false and
// CODSPEED_PERF_ENABLED=false turn them off; --perf-unwinding-mode dwarf
// profiles code built without frame pointers.
func TestPerfProfiles(t *testing.T) {
	if _, err := perf.Probe(); err != nil {
		testenv.Missing(t, "this host cannot sample: %v", err)
	}
	for _, c := range []struct {
		name    string
		env     string
		args    []string
		profile bool
	}{
		{"default", "", nil, true},
		{"dwarf", "", []string{"--perf-unwinding-mode", "dwarf"}, true},
		{"flag off", "", []string{"--enable-perf=false"}, false},
		{"env off", "CODSPEED_PERF_ENABLED=false", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				k, v, _ := strings.Cut(c.env, "=")
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			pf := filepath.Join(dir, "profile")
			args := append(append([]string{"exec", "--profile-folder", pf, "--warmup-time", "0", "--max-rounds", "3"}, c.args...), "--", primes, "2000000", "3")
			r := codspeed(t, dir, "", args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			b := readOnlyResults(t, pf).Benchmarks[0]
			if !c.profile {
				if b.Profile != nil {
					t.Fatalf("profile written: %+v", b.Profile)
				}
				if _, err := os.Stat(filepath.Join(pf, "perf")); err == nil {
					t.Fatal("perf folder written")
				}
				return
			}
			if b.Profile == nil || b.Profile.Event == "" {
				t.Fatalf("no profile: %+v", b.Profile)
			}
			folded, err := os.ReadFile(filepath.Join(pf, b.Profile.Folded))
			if err != nil || !strings.Contains(string(folded), "primes;") || !strings.Contains(string(folded), ";main") {
				t.Fatalf("folded stacks: %v\n%s", err, folded)
			}
			// The progress line "…: profiling" names the separate profiling
			// pass; a warning about profiling is what must not appear.
			for _, line := range strings.Split(r.stderr, "\n") {
				if strings.Contains(line, "warning") && strings.Contains(line, "profil") {
					t.Errorf("profiling warning: %s", line)
				}
			}
		})
	}
}

// An unprivileged user profiles when kernel.perf_event_paranoid allows
// user-space sampling (<= 2), and otherwise gets one warning that names the
// sysctl, with results either way. Needs root to switch to nobody.
func TestPerfUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root to run codspeed as nobody")
	}
	dir, err := os.MkdirTemp("", "codspeed-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, f := range []string{binary, primes} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o777)
	pf := filepath.Join(dir, "profile")
	cmd := exec.Command(filepath.Join(dir, "codspeed"), "exec", "--profile-folder", pf, "--warmup-time", "0", "--max-rounds", "3", "--", "./primes", "2000000", "3")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "CODSPEED_STORE=" + filepath.Join(dir, "store")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b := readOnlyResults(t, pf).Benchmarks[0]
	text, _ := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	paranoid, err := strconv.Atoi(strings.TrimSpace(string(text)))
	if err != nil {
		testenv.Missing(t, "kernel.perf_event_paranoid: %v", err)
	}
	if paranoid <= 2 {
		if b.Profile == nil {
			t.Fatalf("paranoid %d allows user-space sampling, but no profile:\n%s", paranoid, out)
		}
		if _, err := os.Stat(filepath.Join(pf, b.Profile.Folded)); err != nil {
			t.Fatal(err)
		}
		return
	}
	if b.Profile != nil || b.Stats == nil || strings.Count(string(out), "profiling skipped") != 1 || !strings.Contains(string(out), "kernel.perf_event_paranoid=2") {
		t.Fatalf("paranoid %d: want results, no profile and one warning naming the sysctl:\n%s", paranoid, out)
	}
}

// TestProfileInsideSandbox guards the composition of the two: the sandbox
// forks every round from its own thread (in the target's cgroup) and the
// profiler must follow that thread's children, not the runner's.
func TestProfileInsideSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root for the cgroup sandbox and perf events")
	}
	dir := t.TempDir()
	pf := filepath.Join(dir, "pf")
	r := codspeed(t, dir, "", "exec", "--warmup-time", "0", "--max-rounds", "15", "--profile-folder", pf, "--", primes, "3000000")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	b := readOnlyResults(t, pf).Benchmarks[0]
	if b.Sandbox == nil || b.Sandbox.Kind != "local" {
		t.Fatalf("not sandboxed: %+v", b.Sandbox)
	}
	if b.Profile == nil || b.Profile.Folded == "" || b.Profile.Flamegraph == "" {
		t.Fatalf("no profile: %+v\n%s", b.Profile, r.stderr)
	}
	folded, err := os.ReadFile(filepath.Join(pf, b.Profile.Folded))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(folded), ";main") {
		t.Fatalf("the profile does not reach the benchmark's main:\n%s", folded)
	}
}

// TestCIRunParts: several codspeed invocations in one CI job are distinct
// parts of that job's run, recorded in each run's record.
func TestCIRunParts(t *testing.T) {
	dir := t.TempDir()
	gitlab := []string{"CI=true", "GITLAB_CI=true", "CI_PIPELINE_SOURCE=push", "CI_COMMIT_REF_NAME=main", "CI_COMMIT_BRANCH=main",
		"CI_COMMIT_SHA=0f9e8d7c6b5a49382716f5e4d3c2b1a09f8e7d6c", "CI_JOB_ID=1", "CI_JOB_NAME=bench", "CI_PIPELINE_ID=777",
		"CI_PROJECT_DIR=" + dir, "CI_PROJECT_NAME=p", "CI_PROJECT_NAMESPACE=team", "GITLAB_USER_ID=1", "GITLAB_USER_LOGIN=a"}
	var parts []int
	for i := 0; i < 2; i++ {
		cmd := newCmd(dir, "exec", "--warmup-time", "0", "--max-rounds", "1", "--", primes, "100")
		cmd.Env = append(cmd.Env, gitlab...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), "section_start:") {
			t.Fatalf("no GitLab log section:\n%s", out)
		}
	}
	for _, r := range storeRuns(t, dir) {
		if r.CI == nil || r.CI.RunID != "777" || r.CI.Provider != "GITLAB_CI" {
			t.Fatalf("run %s: CI record %+v", r.ID, r.CI)
		}
		parts = append(parts, r.CI.PartIndex)
	}
	if len(parts) != 2 || parts[0] == parts[1] {
		t.Fatalf("part indexes %v, want two distinct", parts)
	}
}

// TestInterruptEntrypointKillsTree: Ctrl-C during `codspeed run -- CMD`
// stops at once and leaves nothing CMD started running, even a grandchild
// that holds the output pipe open.
func TestInterruptEntrypointKillsTree(t *testing.T) {
	dir := t.TempDir()
	marker := "61.2345" // a sleep duration no other process uses
	cmd := newCmd(dir, "run", "--no-sandbox", "--", "sleep "+marker+" | cat")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v to stop", took)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v\n%s", err, out.String())
	}
	time.Sleep(200 * time.Millisecond)
	if left, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output(); len(left) > 0 {
		exec.Command("pkill", "-f", "sleep "+marker).Run()
		t.Fatalf("left running after the interrupt: pids %s", left)
	}
}
