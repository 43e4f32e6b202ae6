package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfirmRunsOnlyKnownCommands: `compare --confirm` re-runs a flagged
// benchmark's recorded command only when a run in the local store ran that
// exact command; a results file from elsewhere cannot make it run another.
func TestConfirmRunsOnlyKnownCommands(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	evil := filepath.Join(dir, "evil")
	if r := codspeed(t, dir, "", "exec", "--enable-perf=false", "--name", "probe", "--warmup-time", "0", "--max-rounds", "10", "--", "touch", marker); r.code != 0 {
		t.Fatalf("exec: %d\n%s", r.code, r.stderr)
	}
	runs := storeRuns(t, dir)
	src := filepath.Join(storeDir(dir, runs[0].ID), runs[0].Parts[0].Results)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.json")
	os.WriteFile(base, data, 0o644)
	// A head three times slower: a clear regression to confirm.
	head := func(name string, argv []string) string {
		var f map[string]any
		json.Unmarshal(data, &f)
		b := f["benchmarks"].([]any)[0].(map[string]any)
		samples := b["samples_ns"].([]any)
		for i, s := range samples {
			samples[i] = s.(float64) * 3
		}
		if argv != nil {
			cmd := b["command"].(map[string]any)
			cmd["line"] = strings.Join(argv, " ")
			cmd["args"] = argv
		}
		out, _ := json.Marshal(f)
		p := filepath.Join(dir, name)
		os.WriteFile(p, out, 0o644)
		return p
	}
	os.Remove(marker)

	// A head whose recorded command is not one this machine ran: refused.
	r := codspeed(t, dir, "", "compare", "--base", base, "--head", head("elsewhere.json", []string{"touch", evil}), "--confirm", "1")
	if _, err := os.Stat(evil); err == nil {
		t.Fatalf("compare --confirm ran a command from a results file:\n%s", r.stderr)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "not re-measured") || !strings.Contains(r.stderr, "probe (`touch "+evil+"`)") {
		t.Fatalf("exit %d, want the regression kept and the refusal named:\n%s", r.code, r.stderr)
	}

	// The same benchmark with the command the store's run recorded: re-run.
	r = codspeed(t, dir, "", "compare", "--base", base, "--head", head("known.json", nil), "--confirm", "1")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the stored command was not re-measured (exit %d):\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "not re-measured") {
		t.Fatalf("a stored command was refused:\n%s", r.stderr)
	}
}

func storeDir(dir, id string) string { return filepath.Join(dir, "store", id) }
