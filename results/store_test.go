package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStoreRoundTrip(t *testing.T) {
	s := &Store{Root: t.TempDir()}
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	older := &RunMeta{ID: NewRunID(t0), Status: StatusRunning, StartedAt: t0, Modes: []string{Walltime}}
	newer := &RunMeta{ID: NewRunID(t0.Add(time.Minute)), Status: StatusRunning, StartedAt: t0.Add(time.Minute), Modes: []string{Simulation}}
	for _, m := range []*RunMeta{older, newer} {
		if err := s.Create(m); err != nil {
			t.Fatal(err)
		}
	}
	newer.Status = StatusPartial
	newer.Missing = []string{"target b"}
	if err := s.Save(newer); err != nil {
		t.Fatal(err)
	}
	runs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != newer.ID || runs[1].ID != older.ID {
		t.Fatalf("List order: %v", runs)
	}
	if runs[0].Status != StatusPartial || runs[0].Missing[0] != "target b" {
		t.Fatalf("saved meta not read back: %+v", runs[0])
	}
	got, err := s.Find(newer.ID[:17])
	if err == nil && got.ID != newer.ID {
		t.Fatalf("Find by prefix: %s", got.ID)
	}
	if _, err := s.Find("nope"); err == nil || !strings.Contains(err.Error(), "no run") {
		t.Fatalf("Find unknown: %v", err)
	}
	// A corrupt record is skipped by List and reported by Load.
	os.MkdirAll(s.Dir("junk"), 0o755)
	os.WriteFile(filepath.Join(s.Dir("junk"), "run.json"), []byte("{"), 0o644)
	if runs, _ := s.List(); len(runs) != 2 {
		t.Fatalf("corrupt run listed: %d", len(runs))
	}
	if _, err := s.Load("junk"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("Load corrupt: %v", err)
	}
}

func TestRunIDsDistinct(t *testing.T) {
	now := time.Now()
	seen := map[string]bool{}
	for range 1000 {
		id := NewRunID(now)
		if seen[id] {
			t.Fatalf("duplicate run id %s", id)
		}
		seen[id] = true
	}
}

func TestWriteResultsAtomic(t *testing.T) {
	dir := t.TempDir()
	f := &File{Creator: Creator{Name: "codspeed-go", Version: "test", Pid: 42}, Instrument: Instrument{Type: Walltime},
		Benchmarks: []Benchmark{{Name: "a", URI: "exec_harness::a", Stats: &Stats{MedianNs: 5, Rounds: 1, IterPerRound: 1}}}}
	path, err := WriteResults(dir, f)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "42.json" {
		t.Fatalf("path %s", path)
	}
	back, err := ReadResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Benchmarks[0].Stats.MedianNs != 5 || back.Instrument.Type != Walltime {
		t.Fatalf("read back %+v", back)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"benchmarks": []}`), 0o644)
	if _, err := ReadResults(bad); err == nil {
		t.Fatal("file without instrument accepted")
	}
}
