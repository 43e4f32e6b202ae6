package docker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// engineSkip is the reason the engine tests skip, empty when an engine answers.
var engineSkip string

// TestMain makes a Docker engine available for the tests that need one: with
// CODSPEED_DOCKER_TESTS=1 it runs scripts/docker-engine.sh (install, start,
// offline base image) and fails if that fails; otherwise the engine tests run
// only when an engine already answers.
func TestMain(m *testing.M) {
	if os.Getenv("CODSPEED_DOCKER_TESTS") == "1" {
		cmd := exec.Command("../../scripts/docker-engine.sh", "start")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "CODSPEED_DOCKER_TESTS=1 but scripts/docker-engine.sh failed:", err)
			os.Exit(1)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	o, err := NewOrchestrator(ctx, Options{})
	cancel()
	if err != nil {
		engineSkip = "no Docker engine (set CODSPEED_DOCKER_TESTS=1 to start one): " + err.Error()
	} else {
		o.Close()
	}
	code := m.Run()
	if runnerPath != "" {
		os.RemoveAll(filepath.Dir(runnerPath))
	}
	if engineSkip == "" {
		// The images the tests built: a test run leaves none behind.
		removeImages(benchImage, runnerImage)
	}
	os.Exit(code)
}

// removeImages untags (and deletes, when no other tag holds them) images the
// tests built.
func removeImages(refs ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o, err := NewOrchestrator(ctx, Options{})
	if err != nil {
		return
	}
	defer o.Close()
	for _, ref := range refs {
		if _, err := o.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			fmt.Fprintf(os.Stderr, "remove test image %s: %v\n", ref, err)
		}
	}
	removeDanglingSince(ctx, o.cli, testsStarted)
}

// testsStarted is when this test binary started.
var testsStarted = time.Now()

// removeDanglingSince removes the untagged images made since start: the
// builder stage of a multi-stage Dockerfile, which the classic builder
// leaves untagged, and an earlier build of a tag built again.
func removeDanglingSince(ctx context.Context, cli *client.Client, start time.Time) {
	l, err := cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("dangling", "true")})
	if err != nil {
		return
	}
	for _, im := range l.Items {
		if im.Created >= start.Unix() {
			_, _ = cli.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{PruneChildren: true})
		}
	}
}

func needEngine(t *testing.T) (*Orchestrator, *bytes.Buffer) {
	t.Helper()
	if engineSkip != "" {
		testenv.Missing(t, "%s", engineSkip)
	}
	var logBuf syncBuffer
	o, err := NewOrchestrator(context.Background(), Options{Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o, &logBuf.Buffer
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

var (
	runnerOnce sync.Once
	runnerPath string
	runnerErr  error
)

// runnerBinary builds the codspeed CLI under test (../../cmd/codspeed, static,
// as `make build-linux` does) once per test binary: the Docker tests run the
// runner of this source tree, never a bin/ file left by an earlier build.
func runnerBinary(t *testing.T) string {
	t.Helper()
	runnerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "codspeed-runner-bin-")
		if err != nil {
			runnerErr = err
			return
		}
		runnerPath = filepath.Join(dir, "codspeed-linux-"+runtime.GOARCH)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", runnerPath, "../../cmd/codspeed")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			runnerErr = fmt.Errorf("build the codspeed CLI: %v\n%s", err, out)
		}
	})
	if runnerErr != nil {
		t.Fatal(runnerErr)
	}
	return runnerPath
}

const benchImage = "codspeed-go-test/bench:latest"

var benchOnce sync.Once

func ensureBenchImage(t *testing.T, o *Orchestrator) {
	t.Helper()
	var err error
	var progress bytes.Buffer
	benchOnce.Do(func() {
		err = o.EnsureImage(context.Background(), benchImage, &BuildSpec{Context: "testdata/benchimage"}, &progress)
	})
	if err != nil {
		t.Fatalf("build bench image: %v\n%s", err, progress.String())
	}
}

// leftovers lists this package's containers and the engine's dangling volumes.
func leftovers(t *testing.T, o *Orchestrator) (containers []string, volumes []string) {
	t.Helper()
	ctx := context.Background()
	cl, err := o.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", labelSandbox)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cl.Items {
		// Containers of orchestrated runs (labelled with their run id) belong
		// to the CLI's tests, which may run at the same time in another
		// package; these tests never label a run.
		if _, ok := c.Labels[AnnotationRun]; ok {
			continue
		}
		containers = append(containers, c.ID)
	}
	// Dangling volumes only: a volume its removed container left behind is a
	// leak; those of containers still running (other packages' tests) are not.
	vl, err := o.cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("dangling", "true")})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vl.Items {
		// A compose project's volumes (the CLI's compose test, in another
		// package) are dangling between `compose down` and its removal.
		if _, ok := v.Labels["com.docker.compose.project"]; ok {
			continue
		}
		volumes = append(volumes, v.Name)
	}
	return containers, volumes
}

// newVolumes are the volumes of after that were not in before: what a test
// left behind (one that disappeared meanwhile is another test's cleanup).
func newVolumes(before, after []string) []string {
	var out []string
	for _, v := range after {
		if !slices.Contains(before, v) {
			out = append(out, v)
		}
	}
	return out
}

func TestEngineBuildAndRunTwoTargets(t *testing.T) {
	o, logs := needEngine(t)
	ensureBenchImage(t, o)
	runner := runnerBinary(t)
	_, volsBefore := leftovers(t, o)

	profile := t.TempDir()
	for i, target := range []string{"bench 1000", "bench 3000"} {
		var out bytes.Buffer
		dir := filepath.Join(profile, fmt.Sprint(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		ro := RunOptions{
			Image:         benchImage,
			RunnerBinary:  runner,
			RunnerArgs:    append([]string{"exec", "--profile-folder", ProfileDir, "--warmup-time", "0", "--max-rounds", "3", "--show-output", "--"}, strings.Fields(target)...),
			ProfileVolume: dir,
			CPUs:          "1",
			MemoryLimit:   128 << 20,
			Mode:          results.Walltime,
			Stdout:        &out,
			Stderr:        &out,
		}
		res, err := o.Run(context.Background(), nil, ro)
		if err != nil {
			t.Fatalf("%s: %v\n%s", target, err, out.String())
		}
		if res.ExitCode != 0 {
			t.Fatalf("%s: exit %d\n%s", target, res.ExitCode, out.String())
		}
		if !strings.Contains(out.String(), "bench: ") {
			t.Errorf("%s: output not streamed: %q", target, out.String())
		}
		hc := res.HostConfig
		if hc == nil || hc.Privileged || hc.NetworkMode != "none" || hc.CpusetCpus != "1" || hc.Memory != 128<<20 {
			t.Errorf("%s: host config privileged=%v network=%s cpuset=%q memory=%d", target, hc.Privileged, hc.NetworkMode, hc.CpusetCpus, hc.Memory)
		}
		if !slices.Equal(hc.CapAdd, res.Capabilities.Add) || len(hc.CapDrop) != 0 {
			t.Errorf("%s: engine has CapAdd=%v CapDrop=%v, plan %v", target, hc.CapAdd, hc.CapDrop, res.Capabilities.Add)
		}
		for _, opt := range hc.SecurityOpt {
			if strings.Contains(opt, "unconfined") {
				t.Errorf("%s: security opt %q", target, opt)
			}
		}
		matches, _ := filepath.Glob(filepath.Join(dir, "results", "*.json"))
		if len(matches) != 1 {
			t.Errorf("%s: results on host: %v", target, matches)
		}
		if err := res.WriteRecord(filepath.Join(dir, "container.json")); err != nil {
			t.Error(err)
		}
		if sb := res.Sandbox(); sb.Kind != "docker" || sb.CPUs != "1" || sb.ContainerImage != benchImage {
			t.Errorf("sandbox %+v", sb)
		}
	}
	if !strings.Contains(logs.String(), "container capabilities") {
		t.Errorf("capability choice not logged:\n%s", logs)
	}
	cs, vols := leftovers(t, o)
	if nv := newVolumes(volsBefore, vols); len(cs) != 0 || len(nv) != 0 {
		t.Errorf("left behind: containers %v, volumes %v", cs, nv)
	}
}

func TestEngineFailingTargetLeavesNothing(t *testing.T) {
	o, _ := needEngine(t)
	ensureBenchImage(t, o)
	_, volsBefore := leftovers(t, o)
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"bench", "10"}, Env: []string{"EXIT=3"}}}
	res, err := o.Run(context.Background(), spec, RunOptions{Image: benchImage, Mode: results.Simulation})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", res.ExitCode)
	}
	cs, vols := leftovers(t, o)
	if nv := newVolumes(volsBefore, vols); len(cs) != 0 || len(nv) != 0 {
		t.Errorf("left behind: containers %v, volumes %v", cs, nv)
	}
}

func TestEngineCancelLeavesNothing(t *testing.T) {
	o, _ := needEngine(t)
	ensureBenchImage(t, o)
	_, volsBefore := leftovers(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"sleep", "60"}}}
	var out bytes.Buffer
	time.AfterFunc(1500*time.Millisecond, cancel)
	start := time.Now()
	_, err := o.Run(ctx, spec, RunOptions{Image: benchImage, Mode: results.Simulation, Stdout: &out})
	if err == nil || ctx.Err() == nil || !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Fatalf("got %v, want a cancellation error", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancelled run took %v", d)
	}
	cs, vols := leftovers(t, o)
	if nv := newVolumes(volsBefore, vols); len(cs) != 0 || len(nv) != 0 {
		t.Errorf("left behind: containers %v, volumes %v", cs, nv)
	}
}

func TestEngineCapabilityChoiceLogged(t *testing.T) {
	o, logs := needEngine(t)
	ensureBenchImage(t, o)
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"true"}}}
	res, err := o.Run(context.Background(), spec, RunOptions{Image: benchImage, Mode: results.Walltime})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CAP_PERFMON"}
	if !o.Engine().KnowsPerfmonCaps {
		want = []string{"CAP_SYS_ADMIN"}
		if !res.Capabilities.Fallback || !strings.Contains(logs.String(), "level=WARN") ||
			!strings.Contains(logs.String(), "add=CAP_SYS_ADMIN fallback=true") {
			t.Errorf("engine %s: fallback not taken or not logged:\n%s", o.Engine().APIVersion, logs)
		}
	}
	if !slices.Equal(res.HostConfig.CapAdd, want) {
		t.Errorf("engine %s: CapAdd %v, want %v", o.Engine().APIVersion, res.HostConfig.CapAdd, want)
	}
	t.Logf("engine %s (API %s): walltime gets %v", o.Engine().Version, o.Engine().APIVersion, res.HostConfig.CapAdd)
}

// perf and valgrind work inside the container with the mode's capabilities
// and the seccomp profile, and perf does not without them.
func TestEnginePerfAndValgrind(t *testing.T) {
	o, _ := needEngine(t)
	ensureBenchImage(t, o)
	profile := t.TempDir()
	run := func(mode string, args ...string) (int, string) {
		var out bytes.Buffer
		spec := &specs.Spec{Process: &specs.Process{Args: args}}
		res, err := o.Run(context.Background(), spec, RunOptions{Image: benchImage, Mode: mode, ProfileVolume: profile,
			CPUs: "0", Stdout: &out, Stderr: &out})
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return res.ExitCode, out.String()
	}
	// With the walltime capabilities perf may count kernel time too; without
	// them (simulation grants none) the kernel only allows user-space counting
	// at perf_event_paranoid 2 (and nothing at Debian's 3), which perf shows as
	// the ":u" modifier.
	if code, out := run(results.Walltime, "perf", "stat", "-e", "task-clock", "true"); code != 0 || !strings.Contains(out, "task-clock ") {
		t.Errorf("perf stat in walltime container: exit %d, want kernel+user task-clock\n%s", code, out)
	}
	if code, out := run(results.Simulation, "perf", "stat", "-e", "task-clock", "true"); code == 0 && !strings.Contains(out, "task-clock:u") {
		t.Errorf("perf counted kernel time without capabilities (the test cannot tell they matter):\n%s", out)
	}
	if code, out := run(results.Walltime, "perf", "record", "-e", "cpu-clock", "-g", "-o", ProfileDir+"/perf.data", "bench", "200000"); code != 0 {
		t.Errorf("perf record in walltime container: exit %d\n%s", code, out)
	} else if fi, err := os.Stat(filepath.Join(profile, "perf.data")); err != nil || fi.Size() == 0 {
		t.Errorf("perf.data on host: %v", err)
	}
	if code, out := run(results.Simulation, "valgrind", "--tool=callgrind", "--callgrind-out-file="+ProfileDir+"/cg.out", "true"); code != 0 {
		t.Errorf("valgrind in simulation container: exit %d\n%s", code, out)
	} else if b, err := os.ReadFile(filepath.Join(profile, "cg.out")); err != nil || !bytes.Contains(b, []byte("summary:")) {
		t.Errorf("callgrind output on host: %v", err)
	}
}
