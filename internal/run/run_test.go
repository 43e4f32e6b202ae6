package run

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
)

func TestBenchmarkEnv(t *testing.T) {
	t.Setenv("CODSPEED_TOKEN", "tok")
	t.Setenv("CODSPEED_ENV", "stale")
	// Every CI's credentials stay with the runner (internal/ci/credentials.go).
	secrets := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "s1", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://s2", "ACTIONS_RUNTIME_TOKEN": "s3",
		"GITHUB_TOKEN": "s4", "CI_JOB_TOKEN": "s5", "CI_JOB_JWT_V2": "s6", "CI_REGISTRY_PASSWORD": "s7", "BUILDKITE_AGENT_ACCESS_TOKEN": "s8",
		"SIGNER_USR": "bot", "SIGNER_PSW": "s9",
		"GITLAB_OIDC": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwcm9qZWN0In0.c2lnbmF0dXJl"}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("KEEP_ME", "kept")
	env := BenchmarkEnv(results.Simulation, "/pf")
	joined := "\n" + strings.Join(env, "\n") + "\n"
	for _, want := range []string{"CODSPEED_ENV=runner", "CODSPEED_RUNNER_MODE=instrumentation", "CODSPEED_PROFILE_FOLDER=/pf", "PYTHONHASHSEED=0"} {
		if !strings.Contains(joined, "\n"+want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(joined, "CODSPEED_TOKEN") || strings.Contains(joined, "stale") {
		t.Errorf("token or stale value passed through:\n%s", joined)
	}
	for k := range secrets {
		if k != "SIGNER_USR" && strings.Contains(joined, "\n"+k+"=") {
			t.Errorf("credential %s passed to the benchmark", k)
		}
	}
	if !strings.Contains(joined, "\nKEEP_ME=kept\n") || !strings.Contains(joined, "\nSIGNER_USR=bot\n") {
		t.Errorf("ordinary variables lost:\n%s", joined)
	}
}

func TestRenderFlamegraphs(t *testing.T) {
	pf := t.TempDir()
	os.WriteFile(filepath.Join(pf, "b.folded"), []byte("main;work 30\nmain;idle 10\n"), 0o644)
	benches := []results.Benchmark{{Name: "b", Profile: &results.Profile{Folded: "b.folded", Event: "cpu-clock"}}, {Name: "none"}}
	if err := renderFlamegraphs(pf, benches); err != nil {
		t.Fatal(err)
	}
	if benches[0].Profile.Flamegraph != "b.svg" {
		t.Fatalf("flamegraph not recorded: %+v", benches[0].Profile)
	}
	svg, _ := os.ReadFile(filepath.Join(pf, "b.svg"))
	if !strings.Contains(string(svg), "work") || !strings.Contains(string(svg), "<svg") {
		t.Fatal("SVG lacks the frames")
	}
	os.WriteFile(filepath.Join(pf, "bad.folded"), []byte("no value here\n"), 0o644)
	bad := []results.Benchmark{{Name: "bad", Profile: &results.Profile{Folded: "bad.folded"}}}
	if err := renderFlamegraphs(pf, bad); err == nil || bad[0].Profile.Flamegraph != "" {
		t.Fatal("a corrupt folded file must be reported, not drawn")
	}
}

type recordingGroups struct{ log []string }

func (g *recordingGroups) GroupStart(w io.Writer, title string) {
	g.log = append(g.log, "start "+title)
}
func (g *recordingGroups) GroupEnd(w io.Writer) { g.log = append(g.log, "end") }

func TestProgressGroupsTargets(t *testing.T) {
	var buf bytes.Buffer
	g := &recordingGroups{}
	p := NewProgress(&buf, false).WithGroups(g)
	p.Start("a", 1, 2)
	p.Warn("careful")
	p.Start("b", 2, 2)
	p.Done()
	want := "start codspeed [1/2] a,end,start codspeed [2/2] b,end"
	if got := strings.Join(g.log, ","); got != want {
		t.Fatalf("groups %q, want %q", got, want)
	}
	if !strings.Contains(buf.String(), "warning: careful") {
		t.Fatal("warning lost")
	}
}

// In simulation and memory mode the runner measured the benchmarks; an
// integration's own file lends them its names and is never a second source
// of benchmarks.
func TestMergeIntegrationLendsNames(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false)
	measured := []results.Benchmark{
		{Name: "test_sum[10]", URI: "tests/test_a.py::test_sum[10]", Simulation: &results.SimulationStats{Instructions: 100}},
		{Name: "build string 10k", URI: "bench.mjs::build string 10k", Simulation: &results.SimulationStats{Instructions: 200}},
	}
	fromFile := []results.Benchmark{
		{Name: "test_sum with ten", URI: "tests/test_a.py::test_sum[10]"},
		{Name: "", URI: "bench.mjs::build string 10k"},
		{Name: "never measured", URI: "tests/test_b.py::test_gone"},
		{Name: "never measured", URI: "tests/test_b.py::test_gone"},
	}
	got := mergeIntegration(measured, fromFile, results.Simulation, "pytest", p)
	if len(got) != 2 || got[0].Name != "test_sum with ten" || got[1].Name != "build string 10k" || got[0].Simulation.Instructions != 100 {
		t.Fatalf("merged %+v", got)
	}
	w := buf.String()
	if strings.Count(w, "tests/test_b.py::test_gone") != 1 || !strings.Contains(w, "simulation mode did not measure") || !strings.Contains(w, "integration-results/") {
		t.Fatalf("warning %q", w)
	}
}
