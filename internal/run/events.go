package run

import (
	"encoding/json"
	"io"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/version"
)

// events writes one JSON object per line for --message-format json, so that
// scripts can follow a run without parsing the table.
type events struct {
	enc *json.Encoder
}

func newEvents(w io.Writer, on bool) *events {
	if !on {
		return &events{}
	}
	return &events{enc: json.NewEncoder(w)}
}

// BenchmarkRan is the "benchmark_ran" event.
type BenchmarkRan struct {
	Event    string   `json:"event"`
	Mode     string   `json:"mode"`
	Name     string   `json:"name"`
	URI      string   `json:"uri"`
	MedianNs *float64 `json:"median_ns,omitempty"`
	// Instructions is set in simulation mode, PeakBytes in memory mode.
	Instructions *float64 `json:"instructions,omitempty"`
	TimeNs       *float64 `json:"time_ns,omitempty"`
	PeakBytes    *float64 `json:"peak_bytes,omitempty"`
	Error        string   `json:"error,omitempty"`
}

// RunFinished is the "run_finished" event; Version is the runner's.
type RunFinished struct {
	Event   string   `json:"event"`
	Version string   `json:"version"`
	RunID   string   `json:"run_id"`
	Status  string   `json:"status"`
	Results []string `json:"results"`
	Missing []string `json:"missing,omitempty"`
}

func (e *events) benchmarkRan(mode string, b results.Benchmark) {
	if e.enc == nil {
		return
	}
	ev := BenchmarkRan{Event: "benchmark_ran", Mode: mode, Name: b.Name, URI: b.URI, Error: b.Error}
	if b.Stats != nil {
		ev.MedianNs = &b.Stats.MedianNs
	}
	if b.Simulation != nil {
		ev.Instructions, ev.TimeNs = &b.Simulation.Instructions, &b.Simulation.TimeNs
	}
	if b.Memory != nil {
		ev.PeakBytes = &b.Memory.PeakBytes
	}
	e.enc.Encode(ev)
}

func (e *events) runFinished(m *results.RunMeta, paths []string) {
	if e.enc == nil {
		return
	}
	if paths == nil {
		paths = []string{}
	}
	e.enc.Encode(RunFinished{Event: "run_finished", Version: version.String(), RunID: m.ID, Status: m.Status, Results: paths, Missing: m.Missing})
}
