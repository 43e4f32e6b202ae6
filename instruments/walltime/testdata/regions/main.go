// Command regions is a stand-in integration for the walltime tests: it marks
// two benchmark regions over the instrument-hooks pipe, spinning in a
// different function in each and in a third one outside them, then writes
// its own results file as CodSpeed's integrations do.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/instruments/hooks/client"
)

var sink uint64

//go:noinline
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := 0; i < 10000; i++ {
			sink += uint64(i) * 2654435761
		}
	}
}

//go:noinline
func hotAlpha() { spin(300 * time.Millisecond) }

//go:noinline
func hotBeta() { spin(300 * time.Millisecond) }

//go:noinline
func coldOutside() { spin(300 * time.Millisecond) }

func main() {
	if path := os.Getenv("REGIONS_PID_FILE"); path != "" {
		// Which process ran: the walltime tests tell the timed run from
		// the profiling pass.
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, os.Getpid())
			f.Close()
		}
	}
	c, err := client.Connect()
	if err != nil || !c.Active() {
		fmt.Fprintln(os.Stderr, "no runner:", err)
		os.Exit(3)
	}
	c.SetIntegration("regions-test", "1.0")
	coldOutside()
	c.StartBenchmark()
	start := client.Now()
	hotAlpha()
	end := client.Now()
	c.StopBenchmark()
	c.CurrentBenchmark("regions::alpha")
	// The round markers after the URI, in @codspeed/tinybench-plugin's order.
	c.AddMarker(hooks.BenchmarkStart, start)
	c.AddMarker(hooks.BenchmarkEnd, end)
	coldOutside()
	c.StartBenchmark()
	hotBeta()
	c.StopBenchmark()
	c.CurrentBenchmark("regions::beta")
	coldOutside()
	if os.Getenv("REGIONS_STRAY_MARKER") != "" {
		c.AddMarker(hooks.SampleStart, client.Now()) // in no region
	}
	c.Close()

	type stats struct {
		MedianNs float64 `json:"median_ns"`
		Rounds   int     `json:"rounds"`
	}
	type bench struct {
		Name  string `json:"name"`
		URI   string `json:"uri"`
		Stats stats  `json:"stats"`
	}
	out := map[string]any{
		"creator":    map[string]any{"name": "regions-test", "version": "1.0", "pid": os.Getpid()},
		"instrument": map[string]any{"type": "walltime"},
		"benchmarks": []bench{{"alpha", "regions::alpha", stats{3e8, 1}}, {"beta", "regions::beta", stats{3e8, 1}}},
		// As codspeed-node writes after an async run: the runner keeps it.
		"metadata": map[string]any{"async_warning": "Profiling is inaccurate due to async operations"},
	}
	dir := filepath.Join(os.Getenv("CODSPEED_PROFILE_FOLDER"), "results")
	os.MkdirAll(dir, 0o755)
	data, _ := json.Marshal(out)
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.json", os.Getpid())), data, 0o644); err != nil {
		os.Exit(4)
	}
}
