package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
)

// abJSON runs `codspeed ab` with the JSON renderer and decodes its report.
func abJSON(t *testing.T, dir string, args ...string) (result, map[string]any) {
	t.Helper()
	r := codspeed(t, dir, "", append([]string{"ab", "--format", "json"}, args...)...)
	var rep map[string]any
	if r.code == 0 || r.code == 1 {
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("ab --format json: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
		}
	}
	return r, rep
}

func onlyBenchmark(t *testing.T, rep map[string]any) map[string]any {
	t.Helper()
	bs, _ := rep["benchmarks"].([]any)
	if len(bs) != 1 {
		t.Fatalf("want one benchmark in the report, got %v", rep["benchmarks"])
	}
	return bs[0].(map[string]any)
}

// Identical commands are not a regression: the rule concludes "no change"
// (or, on a very noisy host, runs out of budget: inconclusive), exit 0.
func TestABIdenticalCommands(t *testing.T) {
	dir := t.TempDir()
	cmd := primes + " 200000 10"
	r, rep := abJSON(t, dir, "--base-command", cmd, "--head-command", cmd, "--name", "primes", "--budget", "30s")
	if r.code != 0 {
		t.Fatalf("identical commands: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b := onlyBenchmark(t, rep)
	if v := b["verdict"]; v != "unchanged" && v != "inconclusive" {
		t.Errorf("identical commands: verdict %v", v)
	}
	if rep["regressed"] != false {
		t.Errorf("regressed = %v", rep["regressed"])
	}
	p, _ := b["paired"].(map[string]any)
	est, _ := p["estimate"].(map[string]any)
	if ratio, _ := est["ratio"].(float64); ratio < 0.97 || ratio > 1.03 {
		t.Errorf("identical commands: paired ratio %v", est["ratio"])
	}
	t.Logf("identical: %v after %v pairs", b["verdict"], est["pairs"])

	// Both sides are stored as runs linked as a pair, which compare reads.
	runs := storeRuns(t, dir)
	if len(runs) != 2 {
		t.Fatalf("want 2 stored runs, got %d", len(runs))
	}
	byRole := map[string]*results.RunMeta{}
	for _, m := range runs {
		if m.Pair == nil {
			t.Fatalf("run %s has no pair link", m.ID)
		}
		byRole[m.Pair.Role] = m
	}
	base, head := byRole["base"], byRole["head"]
	if base == nil || head == nil || base.Pair.With != head.ID || head.Pair.With != base.ID {
		t.Fatalf("pair links wrong: %+v %+v", runs[0].Pair, runs[1].Pair)
	}
	for _, m := range runs {
		if m.Status != results.StatusComplete || len(m.Parts) != 1 || m.Parts[0].Benchmarks != 1 {
			t.Errorf("run %s (%s): status %s, parts %+v", m.ID, m.Pair.Role, m.Status, m.Parts)
		}
	}
	f, err := results.ReadResults(filepath.Join(dir, "store", head.ID, head.Parts[0].Results))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Benchmarks) != 1 || f.Benchmarks[0].Paired == nil || f.Benchmarks[0].Stats == nil || f.Benchmarks[0].Stats.Rounds < 16 {
		t.Fatalf("head results: %+v", f.Benchmarks)
	}
	// compare of the two runs uses the pairing: same verdict, same exit.
	c := codspeed(t, dir, "", "compare", "--base", base.ID, "--head", head.ID)
	if c.code != 0 || !strings.Contains(c.stdout, "paired ratio [CI]") || !strings.Contains(c.stdout, b["verdict"].(string)) {
		t.Errorf("compare of the pair: exit %d\n%s\n%s", c.code, c.stdout, c.stderr)
	}
}

// A command doing 20% more work is a regression: exit 1, and the interval
// of the paired ratio is above 1.
func TestABSlowerHead(t *testing.T) {
	dir := t.TempDir()
	r, rep := abJSON(t, dir, "--base-command", primes+" 200000 10", "--head-command", primes+" 200000 12",
		"--name", "primes", "--budget", "30s")
	if r.code != 1 {
		t.Fatalf("20%% slower head: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b := onlyBenchmark(t, rep)
	if b["verdict"] != "regressed" || rep["regressed"] != true {
		t.Errorf("verdict %v, regressed %v", b["verdict"], rep["regressed"])
	}
	est := b["paired"].(map[string]any)["estimate"].(map[string]any)
	if lo, _ := est["lo"].(float64); lo <= 1 {
		t.Errorf("interval low end %v, want above 1", est["lo"])
	}
	t.Logf("20%% more work: ratio %v [%v, %v] after %v pairs", est["ratio"], est["lo"], est["hi"], est["pairs"])
	// Both sides were profiled after the pair was decided (the timed
	// rounds never are): their folded stacks are in the report.
	for _, k := range []string{"base_folded", "head_folded"} {
		p, _ := b[k].(string)
		if st, err := os.Stat(p); p == "" || err != nil || st.Size() == 0 {
			t.Errorf("%s = %q: %v", k, p, err)
		}
	}
	c := codspeed(t, dir, "", "compare", "--base", rep["base"].(map[string]any)["run_id"].(string),
		"--head", rep["head"].(map[string]any)["run_id"].(string), "--format", "markdown")
	if c.code != 1 || !strings.Contains(c.stdout, "**regressed**") || !strings.Contains(c.stdout, "ABBA") {
		t.Errorf("compare of the regressed pair: exit %d\n%s\n%s", c.code, c.stdout, c.stderr)
	}

	// The same, faster, is an improvement (exit 0); the table renderer names
	// the paired interval.
	tr := codspeed(t, dir, "", "ab", "--base-command", primes+" 200000 12", "--head-command", primes+" 200000 10",
		"--name", "primes", "--budget", "30s")
	if tr.code != 0 || !strings.Contains(tr.stdout, "improved") || !strings.Contains(tr.stdout, "paired ratio [CI]") {
		t.Errorf("faster head: exit %d\n%s\n%s", tr.code, tr.stdout, tr.stderr)
	}

	// The HTML report has both flame graphs and the differential one.
	html := filepath.Join(dir, "ab.html")
	hr := codspeed(t, dir, "", "ab", "--base-command", primes+" 200000 10", "--head-command", primes+" 200000 12",
		"--name", "primes", "--budget", "10s", "--format", "html", "-o", html)
	page, _ := os.ReadFile(html)
	for _, want := range []string{"Differential flame graph", "<svg"} {
		if hr.code != 1 || !strings.Contains(string(page), want) {
			t.Errorf("ab --format html: exit %d, page lacks %q\n%s", hr.code, want, hr.stderr)
		}
	}
}

// Bad input is exit 2 and measures nothing; a command that fails during the
// rounds is a failed benchmark, exit 1.
func TestABBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--base-command", "true"}, "needs --base-command and --head-command"},
		{[]string{"--base-command", "true", "--head-command", "true", "--format", "xml"}, "--format"},
		{[]string{"--base-command", "true", "--head-command", "true", "--min-effect", "0"}, "minimum effect"},
		{[]string{"--base-command", "true", "--head-command", "true", "--budget", "0s"}, "--budget"},
		{[]string{"--base-command", "true", "--head-command", "./no-such-program"}, "no-such-program"},
		{[]string{"--base-command", "true", "--head-command", "true", "extra"}, "no arguments"},
	} {
		r := codspeed(t, dir, "", append([]string{"ab"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("ab %q: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	r := codspeed(t, dir, "", "ab", "--base-command", "true", "--head-command", "sh -c 'echo broken >&2; exit 3'", "--budget", "5s")
	if r.code != 1 || !strings.Contains(r.stdout, "failed") || !strings.Contains(r.stdout, "broken") {
		t.Errorf("failing head: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := exec.LookPath("true"); err != nil {
		t.Fatal(err)
	}
}

// gitRepo makes a git repository in dir with files committed on main.
func gitRepo(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	writeFiles(t, dir, files)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "main"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const spinC = `#include <stdlib.h>
int main(void) {
	volatile unsigned long x = 0;
	for (long i = 0; i < LOOPS; i++) x += (unsigned long)i * 2654435761u;
	return 0;
}
`

// `codspeed ab --base main` on a repository whose working tree is 20% slower
// than main: both trees are built with the config's build: step and
// measured interleaved; the slower tree is a regression, a benchmark only in
// the working tree is reported new, and main's work tree is removed.
func TestABGitBaseRef(t *testing.T) {
	dir := t.TempDir()
	gitRepo(t, dir, map[string]string{
		"spin.c":       strings.Replace(spinC, "LOOPS", "30000000", 1),
		"codspeed.yml": "build: cc -O1 -o spin spin.c\nbenchmarks:\n  - name: spin\n    exec: ./spin\n",
	})
	writeFiles(t, dir, map[string]string{
		"spin.c":       strings.Replace(spinC, "LOOPS", "36000000", 1),
		"codspeed.yml": "build: cc -O1 -o spin spin.c\nbenchmarks:\n  - name: spin\n    exec: ./spin\n  - name: fresh\n    exec: ./spin\n",
	})
	r, rep := abJSON(t, dir, "--base", "main", "--budget", "30s")
	if r.code != 1 {
		t.Fatalf("slower working tree: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	verdicts := map[string]any{}
	for _, b := range rep["benchmarks"].([]any) {
		m := b.(map[string]any)
		verdicts[m["name"].(string)] = m["verdict"]
	}
	if verdicts["spin"] != "regressed" || verdicts["fresh"] != "new" {
		t.Errorf("verdicts %v, want spin regressed and fresh new", verdicts)
	}
	if !strings.Contains(r.stderr, "== build (base (main))") || !strings.Contains(r.stderr, "== build (head (working tree))") {
		t.Errorf("build steps not shown:\n%s", r.stderr)
	}
	out, _ := exec.Command("git", "-C", dir, "worktree", "list").Output()
	if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n != 0 {
		t.Errorf("work trees left behind:\n%s", out)
	}
	runs := storeRuns(t, dir)
	if len(runs) != 2 {
		t.Fatalf("want 2 runs, got %d", len(runs))
	}
	for _, m := range runs {
		if m.Pair.Role == "base" && (m.Pair.Label != "main" || m.Git.Commit == "" || m.Git.Dirty) {
			t.Errorf("base run: %+v, git %+v", m.Pair, m.Git)
		}
		if m.Pair.Role == "head" && (m.Pair.Label != "working tree" || !m.Git.Dirty) {
			t.Errorf("head run: %+v, git %+v", m.Pair, m.Git)
		}
	}
}

// A failing build step is a clear error and nothing is measured; so is a
// ref that does not exist.
func TestABGitBuildFails(t *testing.T) {
	dir := t.TempDir()
	gitRepo(t, dir, map[string]string{
		"codspeed.yml": "build: echo cannot build >&2; exit 4\nbenchmarks:\n  - exec: 'true'\n",
	})
	r := codspeed(t, dir, "", "ab", "--base", "main")
	if r.code != 2 || !strings.Contains(r.stderr, "codspeed.yml:1") || !strings.Contains(r.stderr, "build step of the base (main) failed") ||
		!strings.Contains(r.stderr, "cannot build") {
		t.Errorf("failing build: exit %d\n%s", r.code, r.stderr)
	}
	if runs := storeRuns(t, dir); len(runs) != 0 {
		t.Errorf("a failed build stored %d runs", len(runs))
	}
	r = codspeed(t, dir, "", "ab", "--base", "no-such-ref")
	if r.code != 2 || !strings.Contains(r.stderr, `"no-such-ref" is not a commit`) {
		t.Errorf("unknown ref: exit %d\n%s", r.code, r.stderr)
	}
	out, _ := exec.Command("git", "-C", dir, "worktree", "list").Output()
	if strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("work trees left behind:\n%s", out)
	}
}

// goBenchSrc is a Go benchmark whose work per iteration is LOOPS additions.
const goBenchSrc = `package spin

import "testing"

var sink uint64

func BenchmarkSpin(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var x uint64
		for j := 0; j < LOOPS; j++ {
			x += uint64(j) * 2654435761
		}
		sink = x
	}
}
`

// `codspeed ab --base main` on a Go module whose working tree's benchmark
// does 30% more work: each tree's test binary is built once and run
// alternately, each round timed by the testing package (ns/op); the slower
// tree is a regression, and a benchmark only in the working tree is new.
func TestABGitBaseRefGo(t *testing.T) {
	dir := t.TempDir()
	yml := "benchmarks:\n  - name: go\n    entrypoint: go test -run=^$ -bench=. ./...\n"
	gitRepo(t, dir, map[string]string{
		"go.mod":       "module example.com/spin\n\ngo 1.22\n",
		"spin_test.go": strings.Replace(goBenchSrc, "LOOPS", "20000", 1),
		"codspeed.yml": yml,
	})
	writeFiles(t, dir, map[string]string{
		"spin_test.go": strings.Replace(goBenchSrc, "LOOPS", "26000", 1) +
			"\nfunc BenchmarkFresh(b *testing.B) {\n\tfor i := 0; i < b.N; i++ {\n\t\tsink++\n\t}\n}\n",
	})
	r, rep := abJSON(t, dir, "--base", "main", "--budget", "30s")
	if r.code != 1 {
		t.Fatalf("slower working tree: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	verdicts := map[string]any{}
	var spin map[string]any
	for _, b := range rep["benchmarks"].([]any) {
		m := b.(map[string]any)
		verdicts[m["name"].(string)] = m["verdict"]
		if m["name"] == "spin_test.go::BenchmarkSpin" {
			spin = m
		}
	}
	if verdicts["spin_test.go::BenchmarkSpin"] != "regressed" || verdicts["spin_test.go::BenchmarkFresh"] != "new" {
		t.Fatalf("verdicts %v, want BenchmarkSpin regressed and BenchmarkFresh new\n%s", verdicts, r.stderr)
	}
	// The ratio is the work's: 26000/20000 additions, within a wide band
	// (shared machine), and far from a start-up-diluted ratio near 1.
	if ch, _ := spin["change"].(float64); ch < 0.15 || ch > 0.45 {
		t.Errorf("BenchmarkSpin change %v, want about +30%%", spin["change"])
	}
	// Each side's test binary was profiled for that benchmark alone.
	for _, k := range []string{"base_folded", "head_folded"} {
		p, _ := spin[k].(string)
		folded, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(folded), "BenchmarkSpin") {
			t.Errorf("%s = %q: %v, no BenchmarkSpin frame", k, p, err)
		}
	}
	out, _ := exec.Command("git", "-C", dir, "worktree", "list").Output()
	if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n != 0 {
		t.Errorf("work trees left behind:\n%s", out)
	}
	for _, m := range storeRuns(t, dir) {
		if len(m.Parts) != 1 || m.Parts[0].Benchmarks != 1 {
			t.Errorf("%s run: parts %+v, want one walltime part with the paired benchmark", m.Pair.Role, m.Parts)
		}
	}
}

// nodeABBench is a tinybench suite under CodSpeed's plugin: spin's work is
// LOOPS iterations, steady's never changes, and FRESH adds tasks.
const nodeABBench = `import { Bench } from "tinybench";
import { withCodSpeed } from "@codspeed/tinybench-plugin";

let sink = 0;
function work(n) {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + i * 2654435761) % 1000003;
  sink += x;
}

const bench = withCodSpeed(new Bench({ time: 60, warmupTime: 20 }));
bench.add("spin", () => work(LOOPS)).add("steady", () => work(20000))FRESH;
await bench.run();
if (sink < 0) console.log(sink);
`

// `codspeed ab --base main` on a Node project whose benchmarks are
// measured by CodSpeed's own tinybench integration: the two trees' suites
// run whole, alternately, each round's figure per benchmark is what the
// integration measured, and benchmarks are paired by URI. The working
// tree's spin does 30% more work (regressed), steady is unchanged (never
// regressed) and a task only in the working tree is new; a suite that fails
// before reporting anything is failed, with node's error. node_modules comes
// from the config's build: step, run in both trees.
func TestABGitBaseRefNode(t *testing.T) {
	modules := nodeModules(t)
	dir := t.TempDir()
	yml := "build: ln -sfn " + modules + " node_modules\nbenchmarks:\n  - name: node\n    entrypoint: node bench.mjs\n" +
		"  - name: broken\n    entrypoint: node missing.mjs\n"
	gitRepo(t, dir, map[string]string{
		"package.json": "{\"type\": \"module\", \"private\": true}\n",
		".gitignore":   "node_modules\n",
		"bench.mjs":    strings.NewReplacer("LOOPS", "20000", "FRESH", "").Replace(nodeABBench),
		"codspeed.yml": yml,
	})
	writeFiles(t, dir, map[string]string{
		"bench.mjs": strings.NewReplacer("LOOPS", "26000", "FRESH", `.add("fresh", () => work(10))`).Replace(nodeABBench),
	})
	start := time.Now()
	r, rep := abJSON(t, dir, "--base", "main", "--budget", "25s")
	took := time.Since(start)
	if r.code != 1 {
		t.Fatalf("slower working tree: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	byName := map[string]map[string]any{}
	for _, b := range rep["benchmarks"].([]any) {
		m := b.(map[string]any)
		byName[m["name"].(string)] = m
	}
	verdict := func(name string) any { return byName[name]["verdict"] }
	if verdict("spin") != "regressed" || verdict("fresh") != "new" {
		t.Fatalf("verdicts spin %v, fresh %v; want regressed and new\n%s", verdict("spin"), verdict("fresh"), r.stderr)
	}
	if v := verdict("steady"); v == "regressed" || v == "improved" || v == "failed" || v == nil {
		t.Errorf("steady (the same work on both sides): %v", v)
	}
	t.Logf("spin: %v\nsteady: %v", byName["spin"]["notes"], byName["steady"]["notes"])
	if b := byName["broken"]; b["verdict"] != "failed" || !strings.Contains(fmt.Sprint(b["notes"]), "missing.mjs") {
		t.Errorf("the suite that cannot start: %v, want failed naming missing.mjs", b)
	}
	if ch, _ := byName["spin"]["change"].(float64); ch < 0.1 || ch > 0.5 {
		t.Errorf("spin change %v, want about +30%%", byName["spin"]["change"])
	}
	// The suite's budget is the per-benchmark budget once per benchmark
	// (two measured on both sides), plus start-up, builds and profiles.
	if took > 2*25*time.Second+40*time.Second {
		t.Errorf("ab took %v, over the suite's budget", took)
	}
	// Every measured round is a whole run of each side: both runs keep the
	// per-round figures, the same number a side, and the integration's own
	// results of each round did not leak into the runs' folders.
	for _, m := range storeRuns(t, dir) {
		if len(m.Parts) != 1 || m.Parts[0].Benchmarks != 2 {
			t.Errorf("%s run: parts %+v, want one walltime part with spin and steady", m.Pair.Role, m.Parts)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(m.Parts[0].ProfileFolder, "results", "*.json"))
		if len(files) != 1 {
			t.Errorf("%s run: results %v, want the runner's file alone", m.Pair.Role, files)
		}
	}
	// The rounds' V8 by-products (jitdumps, logs) are not left behind.
	if litter, _ := filepath.Glob(filepath.Join(dir, "jit-*.dump")); len(litter) > 0 {
		t.Errorf("rounds left %d jitdumps in the working tree", len(litter))
	}
	if litter, _ := filepath.Glob(filepath.Join(dir, "isolate-*-v8.log")); len(litter) > 0 {
		t.Errorf("rounds left %d V8 logs in the working tree", len(litter))
	}
	spin := byName["spin"]
	if br, hr := spin["base_rounds"].(float64), spin["head_rounds"].(float64); br != hr || br < 2 {
		t.Errorf("spin: %v base rounds, %v head rounds; want the same even count", br, hr)
	}
	// Both sides were profiled after the decision, each benchmark in the
	// region the integration marked for it.
	for _, k := range []string{"base_folded", "head_folded"} {
		p, _ := spin[k].(string)
		folded, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(folded), "work") {
			t.Errorf("%s = %q: %v, no frame of the JavaScript function work", k, p, err)
		}
	}
}
