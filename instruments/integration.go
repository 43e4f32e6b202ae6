package instruments

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/codspeed-go/codspeed-go/results"
)

// IntegrationResultsDir is where integrations' own results files are moved
// once read, inside the profile folder, so that the runner's merged file is
// the only one under results/.
const IntegrationResultsDir = "integration-results"

// IntegrationResults collects the results files that CodSpeed integrations
// write themselves into <profile folder>/results/<pid>.json
// (codspeed-node, pytest-codspeed, codspeed-rust's walltime mode), for one
// mode of a run. Each Collect reads the files that appeared, moves them
// into IntegrationResultsDir and returns their benchmarks; the files'
// top-level metadata (CodSpeed's `metadata`, e.g. codspeed-node's
// async_warning) accumulates in Metadata for the run's own results file.
// Safe for concurrent use.
type IntegrationResults struct {
	mu       sync.Mutex
	metadata map[string]json.RawMessage
	files    []string
}

// integrationFile is the part of an integration's results file the runner
// reads; the benchmarks are CodSpeed's format, which results.Benchmark reads.
type integrationFile struct {
	Creator    results.Creator            `json:"creator"`
	Benchmarks []results.Benchmark        `json:"benchmarks"`
	Metadata   map[string]json.RawMessage `json:"metadata"`
}

// Collect reads and moves aside every integration's results file in
// profileFolder/results. Files the runner wrote itself (creator
// codspeed-go, an earlier run's in a reused folder) stay where they are.
func (r *IntegrationResults) Collect(profileFolder string) ([]results.Benchmark, error) {
	if profileFolder == "" {
		return nil, nil
	}
	files, _ := filepath.Glob(filepath.Join(profileFolder, "results", "*.json"))
	sort.Strings(files)
	var benches []results.Benchmark
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return benches, fmt.Errorf("read integration results: %w", err)
		}
		var rf integrationFile
		if err := json.Unmarshal(data, &rf); err != nil {
			return benches, fmt.Errorf("%s: results written by the benchmark are not valid JSON: %w", f, err)
		}
		if rf.Creator.Pid == os.Getpid() || rf.Creator.Name == "codspeed-go" {
			continue
		}
		aside := filepath.Join(profileFolder, IntegrationResultsDir)
		if err := os.MkdirAll(aside, 0o755); err != nil {
			return benches, fmt.Errorf("move integration results aside: %w", err)
		}
		dst := filepath.Join(aside, filepath.Base(f))
		if err := os.Rename(f, dst); err != nil {
			return benches, fmt.Errorf("move integration results aside: %w", err)
		}
		benches = append(benches, rf.Benchmarks...)
		r.mu.Lock()
		for k, v := range rf.Metadata {
			if r.metadata == nil {
				r.metadata = map[string]json.RawMessage{}
			}
			r.metadata[k] = v
		}
		r.files = append(r.files, dst)
		r.mu.Unlock()
	}
	return benches, nil
}

// Keep adds metadata read elsewhere (a results file the runner in a
// container merged) to what the run's file will carry.
func (r *IntegrationResults) Keep(metadata map[string]json.RawMessage) {
	if len(metadata) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metadata == nil {
		r.metadata = map[string]json.RawMessage{}
	}
	for k, v := range metadata {
		r.metadata[k] = v
	}
}

// Metadata is the union of the collected files' metadata (a later file's
// key wins), nil when none had any.
func (r *IntegrationResults) Metadata() map[string]json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metadata == nil {
		return nil
	}
	m := make(map[string]json.RawMessage, len(r.metadata))
	for k, v := range r.metadata {
		m[k] = v
	}
	return m
}

// Files are where the collected files now are.
func (r *IntegrationResults) Files() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.files...)
}
