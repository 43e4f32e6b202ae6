package main

// End-to-end tests of CodSpeed's integrations talking to the built runner
// over the instrument-hooks FIFOs in /tmp: markers, concurrent runs, runs
// through sudo, and the merging of the integrations' own results files.
// They use the real /tmp pipes: on a shared machine run them under
// `flock /tmp/codspeed-dev.lock`.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/instruments/memory"
	"github.com/codspeed-go/codspeed-go/results"
)

// need skips a test whose facility this host lacks, except in CI, where
// .ci/run provides it and its absence is a failure.
func need(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI provides this and it is missing: %s", why)
	}
	t.Skip(why)
}

var (
	regionsOnce sync.Once
	regionsBin  string
	regionsErr  error
)

// regionsProgram builds the project's Go-client integration
// (instruments/walltime/testdata/regions: two marked regions, its own
// results file) into a folder any user may read, and returns its path.
func regionsProgram(t *testing.T) string {
	t.Helper()
	regionsOnce.Do(func() {
		// Beside the binary under test: TestMain removes the folder.
		dir := filepath.Dir(binary)
		if err := os.Chmod(dir, 0o755); err != nil {
			regionsErr = err
			return
		}
		regionsBin = filepath.Join(dir, "regions")
		build := exec.Command("go", "build", "-o", regionsBin, "../../instruments/walltime/testdata/regions")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			regionsErr = fmt.Errorf("build regions: %v\n%s", err, out)
		}
	})
	if regionsErr != nil {
		t.Fatal(regionsErr)
	}
	return regionsBin
}

// openDir is a temporary folder that other users may enter (t.TempDir's
// are private to root).
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "codspeed-hooks-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nodeModules is the absolute path of examples/node/node_modules, where
// scripts/node-deps.sh installs CodSpeed's Node integrations; it needs node.
func nodeModules(t *testing.T) string {
	t.Helper()
	_, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed (apt-get install nodejs)")
	modules, err := filepath.Abs("../../examples/node/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(modules, "@codspeed", "tinybench-plugin", "package.json"))
	need(t, err == nil, "examples/node/node_modules is not installed: run scripts/node-deps.sh")
	return modules
}

// nodeProject is a git repository holding examples/node's tinybench
// benchmarks with the pinned npm packages that scripts/node-deps.sh
// installs (CodSpeed's integration finds the repository root from .git).
func nodeProject(t *testing.T) string {
	t.Helper()
	modules := nodeModules(t)
	dir := openDir(t)
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	for _, name := range []string{"bench.mjs", "package.json", "vitest.config.mjs", "bench/math.bench.js"} {
		src, err := os.ReadFile(filepath.Join("../../examples/node", name))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	nodeURIs   = []string{"bench.mjs::fibonacci 20", "bench.mjs::build string 10k", "bench.mjs::sort 10k"}
	vitestURIs = []string{"bench/math.bench.js::math::fibonacci 15", "bench/math.bench.js::math::sum 1k"}
)

// session reads the hooks session the walltime instrument kept.
type session struct {
	Integration *hooks.Integration `json:"integration"`
	Benchmarks  []struct {
		Pid       int32
		URI       string
		Intervals []hooks.Interval
		Markers   []hooks.MarkerEvent
	} `json:"benchmarks"`
	Markers          []hooks.MarkerEvent `json:"markers"`
	UnmatchedMarkers []hooks.MarkerEvent `json:"unmatched_markers"`
}

func readSession(t *testing.T, profile string) session {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(profile, "hooks", "*.json"))
	if len(files) != 1 {
		t.Fatalf("hooks sessions in %s: %v", profile, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var s session
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", files[0], err)
	}
	return s
}

// checkMerged checks what the run left in the profile folder: the runner's
// file alone in results/, the integration's in integration-results/, its
// metadata kept. It returns the runner's file and the integration's pid.
func checkMerged(t *testing.T, profile string) (*results.File, int) {
	return checkMergedWarning(t, profile, true)
}

func checkMergedWarning(t *testing.T, profile string, asyncWarning bool) (*results.File, int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(profile, "results", "*.json"))
	if len(files) != 1 {
		t.Fatalf("results/ holds %v: an integration's own file was left unmerged", files)
	}
	f, err := results.ReadResults(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if f.Creator.Name != "codspeed-go" {
		t.Fatalf("results/ holds %s's file, not the runner's", f.Creator.Name)
	}
	if asyncWarning {
		var warning string
		if err := json.Unmarshal(f.Metadata["async_warning"], &warning); err != nil || warning != "Profiling is inaccurate due to async operations" {
			t.Fatalf("metadata.async_warning dropped: %s", f.Metadata)
		}
	} else if f.Metadata != nil {
		t.Fatalf("metadata %s from nowhere", f.Metadata)
	}
	aside, _ := filepath.Glob(filepath.Join(profile, "integration-results", "*.json"))
	if len(aside) != 1 {
		t.Fatalf("integration-results/ holds %v", aside)
	}
	pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(aside[0]), ".json"))
	if err != nil {
		t.Fatal(err)
	}
	return f, pid
}

func uris(f *results.File) []string {
	var out []string
	for _, b := range f.Benchmarks {
		if b.Error != "" {
			out = append(out, b.URI+" (failed: "+b.Error+")")
			continue
		}
		out = append(out, b.URI)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// checkNodeRun checks one walltime run of the tinybench example: a
// benchmark per task, the integration's metadata kept, and every marker
// inside its own benchmark's measured region, none lost.
func checkNodeRun(t *testing.T, profile string) {
	t.Helper()
	checkNodeMarkers(t, profile, nodeURIs, true)
}

func checkNodeMarkers(t *testing.T, profile string, want []string, asyncWarning bool) {
	t.Helper()
	f, pid := checkMergedWarning(t, profile, asyncWarning)
	if got := uris(f); strings.Join(got, "|") != strings.Join(sorted(want), "|") {
		t.Fatalf("benchmarks %v, want %v", got, want)
	}
	s := readSession(t, profile)
	if s.Integration == nil || s.Integration.Name != "codspeed-node" {
		t.Fatalf("integration %+v", s.Integration)
	}
	if len(s.Benchmarks) != len(want) || len(s.Markers) != 2*len(want) || len(s.UnmatchedMarkers) != 0 {
		t.Fatalf("session: %d benchmarks, %d markers, unmatched %+v", len(s.Benchmarks), len(s.Markers), s.UnmatchedMarkers)
	}
	for i, b := range s.Benchmarks {
		if b.URI != want[i] || int(b.Pid) != pid {
			t.Fatalf("benchmark %d: %s of pid %d, want %s of pid %d (this run's integration)", i, b.URI, b.Pid, want[i], pid)
		}
		if len(b.Intervals) != 1 || len(b.Markers) != 2 {
			t.Fatalf("%s: %d regions, markers %+v", b.URI, len(b.Intervals), b.Markers)
		}
		iv := b.Intervals[0]
		start, end := b.Markers[0].Marker, b.Markers[1].Marker
		if start.Kind != hooks.BenchmarkStart || end.Kind != hooks.BenchmarkEnd {
			t.Fatalf("%s: marker kinds %v %v", b.URI, start.Kind, end.Kind)
		}
		for _, m := range []hooks.Marker{start, end} {
			if m.Ns < iv.StartNs || m.Ns > iv.StopNs {
				t.Fatalf("%s: marker %v at %d outside its region [%d, %d]", b.URI, m.Kind, m.Ns, iv.StartNs, iv.StopNs)
			}
		}
	}
}

// TestNodeTinybenchMarkers runs CodSpeed's tinybench integration from the
// npm registry under the runner in walltime mode.
func TestNodeTinybenchMarkers(t *testing.T) {
	dir := nodeProject(t)
	profile := filepath.Join(dir, "profile")
	r := codspeed(t, dir, "", "run", "--profile-folder", profile, "--", "node", filepath.Join(dir, "bench.mjs"))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	checkNodeRun(t, profile)
}

// TestNodeVitestMarkers: CodSpeed's vitest integration sends its markers
// inside the region (before StopBenchmark), the other order; both must end
// in their own benchmark.
func TestNodeVitestMarkers(t *testing.T) {
	dir := nodeProject(t)
	profile := filepath.Join(dir, "profile")
	vitest := filepath.Join(dir, "node_modules", ".bin", "vitest")
	r := codspeed(t, dir, "", "run", "--profile-folder", profile, "--", vitest, "bench", "--run", "--root", dir)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	checkNodeMarkers(t, profile, vitestURIs, false)
}

// checkRegionsRun checks one run of the Go-client integration.
func checkRegionsRun(t *testing.T, profile string, mode string) *results.File {
	t.Helper()
	f, pid := checkMerged(t, profile)
	if got := uris(f); strings.Join(got, "|") != "regions::alpha|regions::beta" {
		t.Fatalf("benchmarks %v", got)
	}
	for _, b := range f.Benchmarks {
		if want := strings.TrimPrefix(b.URI, "regions::"); b.Name != want {
			t.Fatalf("%s named %q, want the integration's name %q", b.URI, b.Name, want)
		}
	}
	if mode == results.Walltime {
		s := readSession(t, profile)
		if len(s.Benchmarks) != 2 {
			t.Fatalf("session benchmarks %+v", s.Benchmarks)
		}
		for _, b := range s.Benchmarks {
			if int(b.Pid) != pid {
				t.Fatalf("%s came from pid %d, not this run's integration (pid %d): two runs were mixed", b.URI, b.Pid, pid)
			}
		}
	}
	return f
}

// TestConcurrentRunsTakeTurns starts two runs of a real integration at
// once (the project's Go client, then CodSpeed's tinybench plugin): each
// must end with its own complete results, and the one that waited says so.
func TestConcurrentRunsTakeTurns(t *testing.T) {
	type run struct {
		profile string
		r       result
	}
	both := func(t *testing.T, dir string, args func(profile string) []string) [2]run {
		var runs [2]run
		var wg sync.WaitGroup
		for i := range runs {
			runs[i].profile = filepath.Join(dir, fmt.Sprintf("profile-%d", i))
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				runs[i].r = codspeedNoFatal(dir, append([]string{"run", "--profile-folder", runs[i].profile}, args(runs[i].profile)...)...)
			}(i)
		}
		wg.Wait()
		waited := 0
		for i, rn := range runs {
			if rn.r.code != 0 {
				t.Fatalf("run %d: exit %d\n%s", i, rn.r.code, rn.r.stderr)
			}
			if strings.Contains(rn.r.stderr, "waiting for another codspeed run") {
				waited++
			}
			if strings.Contains(rn.r.stderr, "instrument-hooks pipes unavailable") {
				t.Fatalf("run %d went on without its pipes:\n%s", i, rn.r.stderr)
			}
		}
		if waited == 0 {
			t.Fatalf("neither run said it waited for the other:\n%s\n---\n%s", runs[0].r.stderr, runs[1].r.stderr)
		}
		return runs
	}

	t.Run("go client", func(t *testing.T) {
		bin := regionsProgram(t)
		dir := openDir(t)
		runs := both(t, dir, func(string) []string { return []string{"--", bin} })
		for _, rn := range runs {
			checkRegionsRun(t, rn.profile, results.Walltime)
		}
	})
	t.Run("node tinybench", func(t *testing.T) {
		dir := nodeProject(t)
		runs := both(t, dir, func(string) []string { return []string{"--", "node", filepath.Join(dir, "bench.mjs")} })
		for _, rn := range runs {
			checkNodeRun(t, rn.profile)
		}
	})
}

// codspeedNoFatal is codspeed for use off the test's goroutine.
func codspeedNoFatal(dir string, args ...string) result {
	cmd := newCmd(dir, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return result{code: -1, stderr: err.Error()}
	}
	return result{code, out.String(), errb.String()}
}

// TestSudoBenchmarkGetsThePipes: started through sudo, the runner (root)
// runs the benchmark as the invoking user; the integration must still open
// the FIFOs and mark its regions.
func TestSudoBenchmarkGetsThePipes(t *testing.T) {
	uid, gid := testUser(t)
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		t.Fatal(err)
	}
	bin := regionsProgram(t)
	dir := openDir(t)
	profile := filepath.Join(dir, "profile")
	// The integration writes its own results file into the profile folder.
	if err := os.MkdirAll(profile, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(profile, uid, gid); err != nil {
		t.Fatal(err)
	}
	cmd := newCmd(dir, "run", "--profile-folder", profile, "--", bin)
	cmd.Env = append(cmd.Env, "SUDO_UID="+u.Uid, "SUDO_GID="+u.Gid, "SUDO_USER="+u.Username)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("codspeed run as %s through sudo: %v\n%s", u.Username, err, out)
	}
	if strings.Contains(string(out), "no runner") || strings.Contains(string(out), "permission denied") {
		t.Fatalf("the integration could not reach the runner:\n%s", out)
	}
	f := checkRegionsRun(t, profile, results.Walltime)
	aside, _ := filepath.Glob(filepath.Join(profile, "integration-results", "*.json"))
	fi, err := os.Stat(aside[0])
	if err != nil {
		t.Fatal(err)
	}
	if owner := int(fi.Sys().(*syscall.Stat_t).Uid); owner != uid {
		t.Fatalf("the integration ran as uid %d, want %d (%s)", owner, uid, u.Username)
	}
	if len(f.Benchmarks) != 2 {
		t.Fatalf("benchmarks %v", uris(f))
	}
}

// TestMemoryModeMergesIntegrationFile: in memory mode the runner measures
// the regions; the integration's own results file is merged (names,
// metadata) and moved out of results/.
func TestMemoryModeMergesIntegrationFile(t *testing.T) {
	need(t, os.Geteuid() == 0, "memory mode needs root for eBPF")
	need(t, (&memory.Instrument{}).Check() == nil, fmt.Sprintf("memory mode: %v", (&memory.Instrument{}).Check()))
	bin := regionsProgram(t)
	dir := openDir(t)
	profile := filepath.Join(dir, "profile")
	r := codspeed(t, dir, "", "run", "--mode", "memory", "--profile-folder", profile, "--", bin)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	f := checkRegionsRun(t, profile, results.Memory)
	for _, b := range f.Benchmarks {
		if b.Memory == nil {
			t.Fatalf("%s has no memory figures", b.URI)
		}
	}
}

// TestSimulationAllowEmpty: an entrypoint that reports no benchmark under
// callgrind is accepted with --allow-empty, as in walltime, and fails the
// run without it.
func TestSimulationAllowEmpty(t *testing.T) {
	_, err := exec.LookPath("valgrind")
	need(t, err == nil, "valgrind is not installed (apt-get install valgrind)")
	dir := openDir(t)
	r := codspeed(t, dir, "", "run", "--mode", "simulation", "--allow-empty", "--", "true")
	if r.code != 0 {
		t.Fatalf("--allow-empty: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "accepted: --allow-empty") {
		t.Fatalf("the empty target was not reported:\n%s", r.stderr)
	}
	r = codspeed(t, dir, "", "run", "--mode", "simulation", "--", "true")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "CALLGRIND_DUMP_STATS_AT") {
		t.Fatalf("without --allow-empty: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
