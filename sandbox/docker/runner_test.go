package docker

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
)

// TestEngineRealRunnerModes runs the real CLI, injected into a plain
// benchmark image, in walltime and simulation mode, and checks its results
// file reaches the host through the profile folder.
func TestEngineRealRunnerModes(t *testing.T) {
	o, _ := needEngine(t)
	runner := runnerBinary(t)
	ensureBenchImage(t, o)
	for _, mode := range []string{results.Walltime, results.Simulation} {
		t.Run(mode, func(t *testing.T) {
			profile := t.TempDir()
			var out bytes.Buffer
			res, err := o.Run(context.Background(), nil, RunOptions{
				Image:        benchImage,
				RunnerBinary: runner,
				RunnerArgs: []string{"exec", "--mode", mode, "--warmup-time", "0", "--max-rounds", "3",
					"--profile-folder", ProfileDir, "--name", "bench-1000", "--", "bench", "1000"},
				ProfileVolume: profile,
				CPUs:          "1",
				Mode:          mode,
				Stdout:        &out,
				Stderr:        &out,
			})
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("%v exit %d\n%s", err, res.ExitCode, out.String())
			}
			files, _ := filepath.Glob(filepath.Join(profile, "results", "*.json"))
			if len(files) == 0 {
				t.Fatalf("no results on the host\n%s", out.String())
			}
			b, err := os.ReadFile(files[0])
			if err != nil || !strings.Contains(string(b), `"bench-1000"`) || !strings.Contains(string(b), mode) {
				t.Errorf("results file %s: %v\n%.400s", files[0], err, b)
			}
		})
	}
}
