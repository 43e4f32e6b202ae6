package results

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMoveAsideEarlier(t *testing.T) {
	pf := filepath.Join(t.TempDir(), "profile")
	files := map[string]string{
		"results/100.json":            `{"run": {"id": "20261204T100000-aaaa"}, "instrument": {"type": "walltime"}}`,
		"targets/01-a/results/7.json": `{"run": {"id": "20261204T090000-bbbb"}}`,
		"results/corrupt.json":        `not json`,
		"results/notes.txt":           "kept",
		"perf/1.map":                  "kept",
		"integration-results/55.json": "kept: not under results/",
		"results/evil.json":           `{"run": {"id": "../../escape"}}`,
	}
	for name, content := range files {
		p := filepath.Join(pf, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	m, err := MoveAsideEarlier(pf)
	if err != nil {
		t.Fatal(err)
	}
	if m == nil || len(m.Files) != 4 || m.To != pf+EarlierSuffix {
		t.Fatalf("moved %+v", m)
	}
	for _, want := range []string{"20261204T100000-aaaa/results/100.json", "20261204T090000-bbbb/targets/01-a/results/7.json",
		"unknown-run/results/corrupt.json", "unknown-run/results/evil.json"} {
		if _, err := os.Stat(filepath.Join(m.To, want)); err != nil {
			t.Errorf("not kept aside: %v", err)
		}
	}
	for _, still := range []string{"results/notes.txt", "perf/1.map", "integration-results/55.json"} {
		if _, err := os.Stat(filepath.Join(pf, still)); err != nil {
			t.Errorf("%s was touched: %v", still, err)
		}
	}
	if m, err := MoveAsideEarlier(pf); m != nil || err != nil {
		t.Fatalf("second call: %+v, %v", m, err)
	}
	if m, err := MoveAsideEarlier(filepath.Join(pf, "absent")); m != nil || err != nil {
		t.Fatalf("absent folder: %+v, %v", m, err)
	}
}
