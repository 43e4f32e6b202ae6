package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.yaml.in/yaml/v3"

	codspeedconfig "github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/internal/orchestrate"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// TestDockerGitHubActionSteps runs action.yml's own step scripts on a real
// engine with the runner image built from this binary: the benchmark
// container gets exactly its mode's options from the image (perf works with
// them, no unconfined profile), sees no credential of the step, and leaves
// files that the workspace's owner (the runner user) can copy into the
// baseline and delete, as the "Record the baseline" step does.
func TestDockerGitHubActionSteps(t *testing.T) {
	needEngine(t)
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root to act as the runner user and the docker group")
	}
	image := runnerImage(t)
	uid, gid := testUser(t)

	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var action struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
		Runs struct {
			Steps []struct {
				Name string            `yaml:"name"`
				Env  map[string]string `yaml:"env"`
				Run  string            `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(raw, &action); err != nil {
		t.Fatal(err)
	}
	inputRE := regexp.MustCompile(`\$\{\{\s*inputs\.([a-z-]+)\s*\}\}`)
	inputs := map[string]string{"image": image, "mode": "walltime"}
	step := func(name string) (script string, env []string) {
		for _, s := range action.Runs.Steps {
			if s.Name != name {
				continue
			}
			for k, v := range s.Env {
				v = inputRE.ReplaceAllStringFunc(v, func(m string) string {
					in := inputRE.FindStringSubmatch(m)[1]
					if x, ok := inputs[in]; ok {
						return x
					}
					return action.Inputs[in].Default
				})
				env = append(env, k+"="+v)
			}
			return s.Run, env
		}
		t.Fatalf("no step %q in action.yml", name)
		return "", nil
	}

	ws, err := os.MkdirTemp("", "codspeed-action-ws-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(ws)
	copyFile(t, primesStatic(t), filepath.Join(ws, "primes"), 0o755)
	os.WriteFile(filepath.Join(ws, "codspeed.yml"), []byte(`options: {warmup-time: 0, max-rounds: 5}
benchmarks:
  - name: primes
    exec: ./primes 20000
  - name: env
    exec: sh -c 'env > benchmark-env.txt'
`), 0o644)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), ws).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	event := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(event, []byte("{}"), 0o644)
	tmp := t.TempDir()
	gh := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "RUNNER_TEMP=" + tmp, "GITHUB_WORKSPACE=" + ws, "GITHUB_EVENT_PATH=" + event,
		"GITHUB_OUTPUT=" + filepath.Join(tmp, "out"), "GITHUB_STEP_SUMMARY=" + filepath.Join(tmp, "summary"),
		// What a job with id-token: write and a token carries.
		"ACTIONS_ID_TOKEN_REQUEST_URL=https://token.example/req", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=oidc-request-secret-1"}
	inputs["token"] = "cs-token-secret-2"

	script, env := step("Run benchmarks")
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir, cmd.Env = ws, append(gh, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Run benchmarks step: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "unconfined") {
		t.Errorf("unconfined seccomp:\n%s", out)
	}
	benchEnv, err := os.ReadFile(filepath.Join(ws, "benchmark-env.txt"))
	if err != nil {
		t.Fatalf("the env target did not run: %v\n%s", err, out)
	}
	for _, secret := range []string{"oidc-request-secret-1", "cs-token-secret-2", "ACTIONS_ID_TOKEN_REQUEST"} {
		if strings.Contains(string(benchEnv), secret) {
			t.Errorf("the benchmark saw %s:\n%s", secret, benchEnv)
		}
	}
	f := readOnlyResults(t, filepath.Join(ws, "codspeed-profile"))
	for _, b := range f.Benchmarks {
		if b.Error != "" {
			t.Errorf("%s failed: %s", b.Name, b.Error)
		}
		if b.Name == "primes" && (b.Profile == nil || b.Profile.Folded == "") {
			t.Errorf("no perf profile with the mode's options: the container could not sample\n%s", out)
		}
	}
	// Everything the root container wrote belongs to the workspace's owner.
	filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if filepath.Base(p) == "benchmark-env.txt" {
			return nil // the benchmark's own file, not the runner's
		}
		st := must(os.Lstat(p)).Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid {
			t.Errorf("%s belongs to uid %d, not the workspace owner %d", p, st.Uid, uid)
		}
		return nil
	})

	// "Record the baseline", as the runner user.
	script, env = step("Record the baseline")
	cmd = exec.Command("bash", "-c", script)
	cmd.Dir, cmd.Env = ws, append(gh, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Record the baseline as uid %d: %v\n%s", uid, err, out)
	}
	if _, err := os.Stat(filepath.Join(ws, ".codspeed-baseline", "results")); err != nil {
		t.Fatal(err)
	}
	// The next job's run step starts with rm -rf of the profile folder.
	rm := exec.Command("rm", "-rf", filepath.Join(ws, "codspeed-profile"), filepath.Join(ws, ".codspeed"))
	rm.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := rm.CombinedOutput(); err != nil {
		t.Fatalf("the runner user cannot remove the results: %v\n%s", err, out)
	}
}

// TestDockerOrchestratedAsDockerGroupUser: an unprivileged user of the
// docker group runs an orchestrated config; the runner in each container is
// root and must hand what it writes to that user, or the runner outside
// cannot read the target's results to merge them.
func TestDockerOrchestratedAsDockerGroupUser(t *testing.T) {
	needEngine(t)
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root to act as another user")
	}
	uid, gid := testUser(t)
	sock, err := os.Stat("/var/run/docker.sock")
	if err != nil {
		testenv.Missing(t, "the engine is not on /var/run/docker.sock: %v", err)
	}
	dockerGID := sock.Sys().(*syscall.Stat_t).Gid

	dir, err := os.MkdirTemp("", "codspeed-dockergroup-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	copyFile(t, primesStatic(t), filepath.Join(dir, "primes"), 0o755)
	os.WriteFile(filepath.Join(dir, "bench.Dockerfile"), []byte("FROM debian:bookworm-slim\n"), 0o644)
	writeConfig(t, dir, `
options: {warmup-time: 0, max-rounds: 3, cpus: "1"}
container:
  build: {context: ., dockerfile: bench.Dockerfile}
benchmarks:
  - name: primes
    exec: ./primes 1000
`)
	// The project image the run builds, tagged from this folder: untag it
	// (its name is read now: the folder is gone by the time cleanups run).
	cfg, err := codspeedconfig.Load(filepath.Join(dir, "codspeed.yml"))
	if err != nil || cfg.Container == nil {
		t.Fatalf("config: %v", err)
	}
	ref := orchestrate.ImageRef(cfg.Container)
	t.Cleanup(func() {
		if _, err := needEngine(t).ImageRemove(context.Background(), ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Logf("remove test image %s: %v", ref, err)
		}
	})
	bin := copyExecutable(t, binary, dir)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	cmd := exec.Command(bin, "run")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "CODSPEED_STORE=" + filepath.Join(dir, "store")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{dockerGID}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("codspeed run as a docker group user: %v\n%s", err, out)
	}
	runs := storeRuns(t, dir)
	if len(runs) != 1 || runs[0].Status != "complete" {
		t.Fatalf("runs %+v\n%s", runs, out)
	}
	filepath.WalkDir(filepath.Join(dir, "store"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st := must(os.Lstat(p)).Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid {
			t.Errorf("%s belongs to uid %d, not the user who ran codspeed (%d)", p, st.Uid, uid)
		}
		return nil
	})
}
