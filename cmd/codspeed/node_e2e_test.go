package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
)

// CodSpeed's Node integrations (@codspeed/tinybench-plugin from the npm
// registry, examples/node) run unchanged with a plain `node` on PATH: the
// runner's node stand-in gives them the V8 flags they ask for in every mode.

// modeResults reads the runner's results file of one mode of a multi-mode
// run with profile folder profile ("" for a single-mode run).
func modeResults(t *testing.T, profile, mode string) *results.File {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(profile, mode, "results", "*.json"))
	if len(files) != 1 {
		t.Fatalf("%s/results holds %v, want the runner's file alone", mode, files)
	}
	f, err := results.ReadResults(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestNodeEveryMode(t *testing.T) {
	dir := nodeProject(t)
	profile := filepath.Join(dir, "profile")
	r := codspeed(t, dir, "", "run", "--mode", "simulation,walltime,memory", "--profile-folder", profile,
		"--", "node", "bench.mjs")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "missing required flags") {
		t.Fatalf("the integration ran without its V8 flags:\n%s", r.stderr)
	}
	for _, mode := range []string{results.Simulation, results.Walltime, results.Memory} {
		f := modeResults(t, profile, mode)
		if got := uris(f); strings.Join(got, "|") != strings.Join(sorted(nodeURIs), "|") {
			t.Fatalf("%s: benchmarks %v, want one per task %v", mode, got, nodeURIs)
		}
		for _, b := range f.Benchmarks {
			switch mode {
			case results.Simulation:
				if b.Simulation == nil || b.Simulation.Instructions <= 0 {
					t.Errorf("%s: %s has no instruction count", mode, b.URI)
				}
			case results.Memory:
				if b.Memory == nil {
					t.Errorf("%s: %s has no memory figures", mode, b.URI)
				}
			}
		}
	}
	// Walltime profiles name the benchmark's JavaScript functions: node ran
	// with the integration's --perf-basic-prof, and its perf map was read.
	folded, err := filepath.Glob(filepath.Join(profile, "walltime", "perf", "*", "*.folded"))
	if err != nil || len(folded) == 0 {
		t.Fatalf("no walltime profile: %v", err)
	}
	named := false
	for _, p := range folded {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "fibonacci") {
			named = true
		}
	}
	if !named {
		t.Fatalf("no walltime sample is in the JavaScript function fibonacci (%v)", folded)
	}
}

// TestNodeSimulationDeterministic: two simulation runs of the tinybench
// example agree within 0.1% on every benchmark's instruction count.
func TestNodeSimulationDeterministic(t *testing.T) {
	dir := nodeProject(t)
	var runs [2]map[string]float64
	for i := range runs {
		profile := filepath.Join(dir, "profile", string(rune('a'+i)))
		r := codspeed(t, dir, "", "run", "--mode", "simulation", "--profile-folder", profile, "--", "node", "bench.mjs")
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s", i+1, r.code, r.stderr)
		}
		f := modeResults(t, profile, "")
		runs[i] = map[string]float64{}
		for _, b := range f.Benchmarks {
			if b.Simulation == nil {
				t.Fatalf("run %d: %s has no simulation figures", i+1, b.URI)
			}
			runs[i][b.URI] = b.Simulation.Instructions
		}
	}
	if len(runs[0]) != len(nodeURIs) {
		t.Fatalf("benchmarks %v, want %v", runs[0], nodeURIs)
	}
	for uri, a := range runs[0] {
		b, ok := runs[1][uri]
		if !ok {
			t.Fatalf("%s missing from the second run", uri)
		}
		if d := math.Abs(a-b) / a; d > 1e-3 {
			t.Errorf("%s: %.0f then %.0f instructions (%.2e apart, goal 1e-3)", uri, a, b, d)
		} else {
			t.Logf("%s: %.0f then %.0f instructions (%.2e apart)", uri, a, b, d)
		}
	}
}

// TestNodeStandInWithoutIntegration: a Node program that uses no CodSpeed
// integration runs once, unchanged, through the stand-in (no flags added,
// its exit code kept), and `node` inside a script reaches the stand-in too.
func TestNodeStandInWithoutIntegration(t *testing.T) {
	dir := nodeProject(t)
	script := filepath.Join(dir, "plain.mjs")
	if err := os.WriteFile(script, []byte(`
import { appendFileSync } from "node:fs";
appendFileSync(process.argv[2], "ran " + JSON.stringify(process.execArgv) + "\n");
process.exit(3);
`), 0o644); err != nil {
		t.Fatal(err)
	}
	marks := filepath.Join(dir, "marks")
	r := codspeed(t, dir, "", "run", "--mode", "walltime", "--allow-empty", "--show-output", "--",
		"node plain.mjs "+marks+"; echo node-exit=$?")
	if !strings.Contains(r.stdout+r.stderr, "node-exit=3") {
		t.Fatalf("the program's exit code 3 was lost (exit %d):\n%s%s", r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(marks)
	if err != nil {
		t.Fatalf("the program did not run: %v\n%s", err, r.stderr)
	}
	if got := string(data); got != "ran []\n" {
		t.Fatalf("the program ran %q, want once with no flags added", got)
	}
}
