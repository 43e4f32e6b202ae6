package instruments_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// What @codspeed/tinybench-plugin 5.7.1 writes after an async bench.run()
// (writeWalltimeResults in @codspeed/core), shortened to one benchmark.
const nodeResults = `{
  "creator": {"name": "codspeed-node", "version": "5.7.1", "pid": 4242},
  "instrument": {"type": "walltime"},
  "benchmarks": [{"name": "fibonacci 20", "uri": "bench.mjs::fibonacci 20",
    "config": {"max_rounds": null, "max_time_ns": 100000000, "min_round_time_ns": null, "warmup_time_ns": null},
    "stats": {"min_ns": 50000, "max_ns": 60000, "mean_ns": 52000, "stdev_ns": 100, "q1_ns": 51000, "median_ns": 52000,
      "q3_ns": 53000, "rounds": 381, "total_time": 0.02, "iqr_outlier_rounds": 3, "stdev_outlier_rounds": 1,
      "iter_per_round": 1, "warmup_iters": 16}}],
  "metadata": {"async_warning": "Profiling is inaccurate due to async operations"}
}`

func TestIntegrationResultsKeepMetadataAndMoveFilesAside(t *testing.T) {
	pf := t.TempDir()
	dir := filepath.Join(pf, "results")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "4242.json"), []byte(nodeResults), 0o644)
	// The runner's own file of an earlier run in a reused folder stays.
	os.WriteFile(filepath.Join(dir, "1.json"), []byte(`{"creator":{"name":"codspeed-go","pid":1},"instrument":{"type":"walltime"},"benchmarks":[]}`), 0o644)

	var c instruments.IntegrationResults
	benches, err := c.Collect(pf)
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 1 || benches[0].Name != "fibonacci 20" || benches[0].Stats == nil || benches[0].Stats.Rounds != 381 {
		t.Fatalf("benchmarks %+v", benches)
	}
	var warning string
	if err := json.Unmarshal(c.Metadata()["async_warning"], &warning); err != nil || warning != "Profiling is inaccurate due to async operations" {
		t.Fatalf("metadata %s (%v)", c.Metadata(), err)
	}
	moved := filepath.Join(pf, instruments.IntegrationResultsDir, "4242.json")
	if files := c.Files(); len(files) != 1 || files[0] != moved {
		t.Fatalf("files %v", files)
	}
	if _, err := os.Stat(filepath.Join(dir, "4242.json")); !os.IsNotExist(err) {
		t.Fatal("the integration's file is still in results/")
	}
	if _, err := os.Stat(filepath.Join(dir, "1.json")); err != nil {
		t.Fatal("the runner's own file was moved")
	}
	// A second Collect finds nothing new and keeps what it had.
	if again, err := c.Collect(pf); err != nil || len(again) != 0 || c.Metadata()["async_warning"] == nil {
		t.Fatalf("second collect %v %v %s", again, err, c.Metadata())
	}
}

func TestIntegrationResultsBadFileNamesIt(t *testing.T) {
	pf := t.TempDir()
	os.MkdirAll(filepath.Join(pf, "results"), 0o755)
	bad := filepath.Join(pf, "results", "7.json")
	os.WriteFile(bad, []byte(`{"creator": `), 0o644)
	var c instruments.IntegrationResults
	if _, err := c.Collect(pf); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %v does not name %s", err, bad)
	}
}

// FuzzIntegrationResults: whatever a benchmark writes into results/, the
// collector returns benchmarks or an error naming the file, never panics,
// and never leaves a file it read in results/.
func FuzzIntegrationResults(f *testing.F) {
	f.Add([]byte(nodeResults))
	f.Add([]byte(`{"creator":{"name":"codspeed-go","pid":1},"instrument":{"type":"walltime"},"benchmarks":[]}`))
	f.Add([]byte(`{"benchmarks":[{"name":"x","uri":"y","stats":{"rounds":"many"}}]}`))
	f.Add([]byte(`{"metadata":{"async_warning":null,"other":[1,2]},"benchmarks":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf := t.TempDir()
		dir := filepath.Join(pf, "results")
		os.MkdirAll(dir, 0o755)
		path := filepath.Join(dir, "9.json")
		os.WriteFile(path, data, 0o644)
		var c instruments.IntegrationResults
		_, err := c.Collect(pf)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v does not name %s", err, path)
			}
			return
		}
		if _, serr := os.Stat(path); serr == nil && len(c.Files()) != 0 {
			t.Fatal("a collected file is still in results/")
		}
	})
}
