package walltime

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// TestHooksBoundProfiles: an integration marks two regions over the pipe;
// each benchmark's flamegraph holds its own region's code only, and code
// outside the regions is not sampled.
func TestHooksBoundProfiles(t *testing.T) {
	if _, err := perf.Probe(); err != nil {
		testenv.Missing(t, "this host cannot sample: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "regions")
	build := exec.Command("go", "build", "-o", bin, "./testdata/regions")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	pf := filepath.Join(dir, "pf")
	in := New("", Options{Perf: true, PerfUnwinding: perf.FramePointer})
	in.HooksDir = filepath.Join(dir, "hooks")
	os.MkdirAll(in.HooksDir, 0o755)
	target := instruments.Target{Name: "regions", Kind: instruments.Entrypoint, Command: bin, Args: []string{bin}, Dir: dir}
	env := instruments.Env{ProfileFolder: pf, BaseEnv: append(os.Environ(), "CODSPEED_PROFILE_FOLDER="+pf), Progress: instruments.NopProgress{}}
	benches, err := in.Measure(context.Background(), target, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 2 {
		t.Fatalf("benchmarks: %+v", benches)
	}
	want := map[string]string{"regions::alpha": "hotAlpha", "regions::beta": "hotBeta"}
	for _, b := range benches {
		if b.Profile == nil || b.Profile.Folded == "" {
			t.Fatalf("%s: no profile", b.URI)
		}
		folded, err := os.ReadFile(filepath.Join(pf, b.Profile.Folded))
		if err != nil {
			t.Fatal(err)
		}
		text := string(folded)
		if !strings.Contains(text, "main."+want[b.URI]) {
			t.Errorf("%s: its region's function is missing:\n%s", b.URI, text)
		}
		for other, fn := range want {
			if other != b.URI && strings.Contains(text, "main."+fn) {
				t.Errorf("%s: holds the other region's %s", b.URI, fn)
			}
		}
		if strings.Contains(text, "main.coldOutside") {
			t.Errorf("%s: code outside the regions was sampled:\n%s", b.URI, text)
		}
	}
}

// TestStrayMarkersAreReported: markers sent after their URI still belong to
// their region's benchmark; a marker in no region is kept apart and said.
func TestStrayMarkersAreReported(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "regions")
	build := exec.Command("go", "build", "-o", bin, "./testdata/regions")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	pf := filepath.Join(dir, "pf")
	in := New("", Options{})
	in.HooksDir = filepath.Join(dir, "hooks")
	os.MkdirAll(in.HooksDir, 0o755)
	target := instruments.Target{Name: "regions", Kind: instruments.Entrypoint, Command: bin, Args: []string{bin}, Dir: dir}
	w := &warnings{}
	env := instruments.Env{ProfileFolder: pf, BaseEnv: append(os.Environ(), "CODSPEED_PROFILE_FOLDER="+pf, "REGIONS_STRAY_MARKER=1"), Progress: w}
	if _, err := in.Measure(context.Background(), target, env); err != nil {
		t.Fatal(err)
	}
	if len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "1 of the integration's 3 markers lie in no measured region") {
		t.Fatalf("warnings %q", w.msgs)
	}
	data, err := os.ReadFile(filepath.Join(pf, "hooks", "regions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Benchmarks []struct {
			URI     string
			Markers []hooks.MarkerEvent
		}
		Unmatched []hooks.MarkerEvent `json:"unmatched_markers"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Benchmarks) != 2 || s.Benchmarks[0].URI != "regions::alpha" || len(s.Benchmarks[0].Markers) != 2 ||
		len(s.Benchmarks[1].Markers) != 0 || len(s.Unmatched) != 1 || s.Unmatched[0].Marker.Kind != hooks.SampleStart {
		t.Fatalf("session file:\n%s", data)
	}
}

// TestEntrypointTimedRoundsUnsampled: an entrypoint whose integration marks
// its regions is timed with no perf event open; a second run of it, under
// perf, gives each region's flamegraph, and what that run reports (its
// results file) stays out of the results.
func TestEntrypointTimedRoundsUnsampled(t *testing.T) {
	if _, err := perf.Probe(); err != nil {
		testenv.Missing(t, "this host cannot sample: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "regions")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/regions").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	pf := filepath.Join(dir, "pf")
	pidFile := filepath.Join(dir, "pids")
	in := New("", Options{Perf: true, PerfUnwinding: perf.FramePointer})
	in.HooksDir = filepath.Join(dir, "hooks")
	os.MkdirAll(in.HooksDir, 0o755)
	target := instruments.Target{Name: "regions", Kind: instruments.Entrypoint, Command: bin, Args: []string{bin}, Dir: dir,
		Env: []string{"REGIONS_PID_FILE=" + pidFile}}
	env := instruments.Env{ProfileFolder: pf, BaseEnv: append(os.Environ(), "CODSPEED_PROFILE_FOLDER="+pf), Progress: instruments.NopProgress{}}
	benches, err := in.Measure(context.Background(), target, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 2 {
		t.Fatalf("benchmarks (the profiling pass's must not be among them): %+v", benches)
	}
	pids := strings.Fields(string(must(os.ReadFile(pidFile))))
	if len(pids) != 2 {
		t.Fatalf("processes %v, want the timed run's and the profiling pass's", pids)
	}
	results, _ := filepath.Glob(filepath.Join(pf, "integration-results", "*.json"))
	if len(results) != 1 || filepath.Base(results[0]) != pids[0]+".json" {
		t.Errorf("results files %v, want only the timed run's (%s.json)", results, pids[0])
	}
	for _, b := range benches {
		if b.Profile == nil || b.Profile.Folded == "" {
			t.Fatalf("%s: no profile", b.URI)
		}
		maps, _ := filepath.Glob(filepath.Join(pf, filepath.Dir(b.Profile.Folded), "maps", "perf-*.map"))
		var timed, pass int
		for _, m := range maps {
			switch filepath.Base(m) {
			case "perf-" + pids[0] + ".map":
				timed++
			case "perf-" + pids[1] + ".map":
				pass++
			}
		}
		if timed > 0 || pass == 0 {
			t.Errorf("%s: symbol maps %v: the timed process (%s) must have none, the profiling pass (%s) some", b.URI, maps, pids[0], pids[1])
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
