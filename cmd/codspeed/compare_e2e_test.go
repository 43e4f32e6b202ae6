package main

// End-to-end tests of `codspeed compare` and `codspeed report` on the built
// binary: exit codes, messages, and the HTML report in a real browser.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// recorded is the results/compare testdata: real runs of the C example
// (base and rerun identical, slower doing 5% more work).
func recorded(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "..", "results", "compare", "testdata", name))
	return p
}

func TestCompareExitCodes(t *testing.T) {
	dir := t.TempDir()
	strict := writeConfig(t, dir, "thresholds:\n  walltime: 3%\n")
	corrupt := filepath.Join(dir, "corrupt.json")
	os.WriteFile(corrupt, []byte(`{"instrument": {"type": "walltime"}, "benchmarks": [{"name": `), 0o644)
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"identical rerun", []string{"--base", recorded("base.json"), "--head", recorded("rerun.json")}, 0, "unchanged", ""},
		{"5% slower, 3% threshold", []string{"--config", strict, "--base", recorded("base.json"), "--head", recorded("slower.json")}, 1, "regressed", ""},
		{"5% slower as JSON", []string{"--config", strict, "--format", "json", "--base", recorded("base.json"), "--head", recorded("slower.json")}, 1, `"regressed": true`, ""},
		{"unknown run id", []string{"--base", "20990101T000000-ffffff", "--head", recorded("base.json")}, 2, "", `no run "20990101T000000-ffffff"`},
		{"corrupt results file", []string{"--base", corrupt, "--head", recorded("base.json")}, 2, "", "corrupt.json: not a results file"},
		{"no base", []string{"--head", recorded("base.json")}, 2, "", "needs --base"},
		{"bad format", []string{"--format", "pdf", "--base", recorded("base.json")}, 2, "", "--format"},
		{"same run twice", []string{"--base", recorded("base.json"), "--head", recorded("base.json")}, 2, "", "same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := codspeed(t, dir, "", append([]string{"compare"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.inStdout) || !strings.Contains(r.stderr, tt.inStderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestCompareStoredRuns measures twice, then compares through the store:
// the base by run id prefix, the head by default (the newest run).
func TestCompareStoredRuns(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		if r := codspeed(t, dir, "", "exec", "--warmup-time", "0", "--max-rounds", "12", "--name", "primes", "--", primes, "20000"); r.code != 0 {
			t.Fatalf("exec: %d\n%s", r.code, r.stderr)
		}
	}
	runs := storeRuns(t, dir)
	r := codspeed(t, dir, "", "compare", "--base", runs[1].ID[:20], "--format", "json")
	if r.code != 0 && r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var out struct {
		Regressed bool `json:"regressed"`
		Base      struct {
			RunID string `json:"run_id"`
		} `json:"base"`
		Head struct {
			RunID string `json:"run_id"`
		} `json:"head"`
		Benchmarks []results.BenchmarkChange `json:"benchmarks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if out.Base.RunID != runs[1].ID || out.Head.RunID != runs[0].ID || len(out.Benchmarks) != 1 || out.Benchmarks[0].HeadRounds != 12 {
		t.Fatalf("compared %+v", out)
	}
	if out.Regressed != (r.code == 1) {
		t.Fatalf("exit %d but regressed=%v", r.code, out.Regressed)
	}
	// --confirm re-measures a regression of an exec benchmark; here only
	// check that it runs and keeps the exit code meaningful.
	r = codspeed(t, dir, "", "compare", "--base", runs[1].ID, "--confirm", "1")
	if r.code != 0 && r.code != 1 {
		t.Fatalf("confirm: exit %d\n%s", r.code, r.stderr)
	}
	if r := codspeed(t, dir, "", "report", "--format", "markdown"); r.code != 0 || !strings.Contains(r.stdout, "| primes |") {
		t.Fatalf("report: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if len(storeRuns(t, dir)) != 2 {
		t.Fatal("compare --confirm added runs to the store")
	}
}

// TestHTMLReportInChromium renders a comparison with flame graphs and opens
// it in headless Chromium: the DOM must contain the table, and the console
// no uncaught error.
func TestHTMLReportInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Missing(t, "chromium is not installed (apt-get install -y chromium); the HTML report is checked without a browser in results.TestRenderHTML")
	}
	dir := t.TempDir()
	// Profile folders whose benchmark has a folded profile, as an instrument
	// that samples stacks writes them.
	folder := func(name, from, folded string) string {
		pf := filepath.Join(dir, name)
		os.MkdirAll(filepath.Join(pf, "results"), 0o755)
		f, err := results.ReadResults(recorded(from))
		if err != nil {
			t.Fatal(err)
		}
		f.Benchmarks[0].Profile = &results.Profile{Folded: "primes.folded", Event: "samples"}
		data, _ := json.Marshal(f)
		os.WriteFile(filepath.Join(pf, "results", "1.json"), data, 0o644)
		os.WriteFile(filepath.Join(pf, "primes.folded"), []byte(folded), 0o644)
		return pf
	}
	base := folder("base", "base.json", "main;count_primes 900\nmain;count_primes;memset 40\n_start;__libc_start_main;main 10\n")
	head := folder("head", "slower.json", "main;count_primes 950\nmain;count_primes;memset 40\n_start;__libc_start_main;main 10\n")
	report := filepath.Join(dir, "report.html")
	strict := writeConfig(t, dir, "thresholds:\n  walltime: 3%\n")
	r := codspeed(t, dir, "", "compare", "--config", strict, "--base", base, "--head", head, "--format", "html", "--output", report)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=2000", "--dump-dom", "file://"+report)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
	for _, want := range []string{`<table id="table-walltime">`, "<td class=\"name\"><a href=\"#b1\">primes</a></td>", "regressed", "<svg", "count_primes", "Differential flame graph"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	for _, bad := range []string{"Uncaught", "SyntaxError", "ReferenceError", "TypeError"} {
		if strings.Contains(stderr.String(), bad) {
			t.Errorf("browser console: %s\n%s", bad, stderr.String())
		}
	}
}
