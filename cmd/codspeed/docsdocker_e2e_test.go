package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
)

// docBlocks returns the fenced blocks of a Markdown file whose info string
// is "sh test": the commands the docs promise work as written.
func docBlocks(t *testing.T, path string) []string {
	return fencedBlocks(t, path, "sh")
}

// fencedBlocks returns the fenced blocks of a Markdown file whose info
// string is "LANG test".
func fencedBlocks(t *testing.T, path, lang string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []string
	var cur *strings.Builder
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```"+lang+" test":
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil && strings.HasPrefix(strings.TrimSpace(line), "```"):
			t.Fatalf("%s:%d: %q inside a \"sh test\" block: a closing fence stands alone", path, n, line)
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if cur != nil {
		t.Fatalf("%s: unterminated ```%s test block", path, lang)
	}
	return blocks
}

// simResult returns the simulation figures of the benchmark named name
// among the workspace's stored results.
func simResult(t *testing.T, ws, name string) results.SimulationStats {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(ws, ".codspeed", "runs", "*", "simulation", "results", "*.json"))
	for _, p := range files {
		f, err := results.ReadResults(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range f.Benchmarks {
			if b.Name == name && b.Simulation != nil {
				return *b.Simulation
			}
		}
	}
	t.Fatalf("no simulation result named %q in %v", name, files)
	return results.SimulationStats{}
}

// imageRef matches the image names the docs use: codspeed-go and
// codspeed-go:TAG, as whole words (not codspeed-go's, not a path).
var imageRef = regexp.MustCompile(`(^|\s)codspeed-go(:[a-z0-9]+)?(\s|$)`)

// TestDockerDocs runs docs/docker.md's "sh test" blocks in order, in one
// shell, in a project folder outside the checkout, with the image names
// pointing at the images built from this tree: the seccomp profile from
// the image, simulation under the runner's profile and under Docker's
// default one, the :c and :go variants, walltime and memory; then builds
// its "dockerfile test" block (the runner added to one's own image) and
// measures in it.
func TestDockerDocs(t *testing.T) {
	needEngine(t)
	runner := runnerImage(t)
	start := time.Now()
	cImage := "codspeed-go-test/runner-e2e:c"
	if out, err := exec.Command("docker", "build", "-q", "--build-arg", "RUNNER="+runner, "-t", cImage, "../../images/c").CombinedOutput(); err != nil {
		t.Fatalf("build images/c: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", cImage).Run() })
	goImage := "codspeed-go-test/runner-e2e:go"
	if out, err := exec.Command("docker", "build", "-q", "--build-arg", "RUNNER="+runner, "-t", goImage, "../../images/go").CombinedOutput(); err != nil {
		t.Fatalf("build images/go: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", goImage).Run() })
	t.Logf("images/c and images/go built in %v", time.Since(start).Round(time.Second))
	// The Go block's cache volumes, under names of the test's own.
	vols := map[string]string{"gomod:": "codspeed-go-test-gomod:", "gocache:": "codspeed-go-test-gocache:"}
	t.Cleanup(func() {
		for _, v := range vols {
			exec.Command("docker", "volume", "rm", strings.TrimSuffix(v, ":")).Run()
		}
	})

	ws := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", ws).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	copyFile(t, primesStatic(t), filepath.Join(ws, "primes"), 0o755)
	copyFile(t, "../../examples/c/primes.c", filepath.Join(ws, "primes.c"), 0o644)
	os.WriteFile(filepath.Join(ws, "Makefile"), []byte("primes: primes.c\n\tcc -O2 -o primes primes.c\nbench: primes\n\t./primes 100000\n"), 0o644)
	// A Go module for the :go block.
	os.WriteFile(filepath.Join(ws, "go.mod"), []byte("module example.com/docsbench\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(ws, "sum_test.go"), []byte("package docsbench\n\nimport \"testing\"\n\nfunc BenchmarkSum(b *testing.B) {\n\tfor i := 0; i < b.N; i++ {\n\t\ts := 0\n\t\tfor j := 0; j < 10000; j++ {\n\t\t\ts += j\n\t\t}\n\t\t_ = s\n\t}\n}\n"), 0o644)

	blocks := docBlocks(t, "../../docs/docker.md")
	if len(blocks) < 4 {
		t.Fatalf("docs/docker.md has %d \"sh test\" blocks, want the seccomp, simulation, default-seccomp and walltime/memory ones", len(blocks))
	}
	script := strings.Join(blocks, "\n")
	script = imageRef.ReplaceAllStringFunc(script, func(m string) string {
		sub := imageRef.FindStringSubmatch(m)
		name := runner
		switch sub[2] {
		case "":
		case ":c":
			name = cImage
		case ":go":
			name = goImage
		default:
			t.Fatalf("docs/docker.md names image codspeed-go%s, which this test does not build", sub[2])
		}
		return sub[1] + name + sub[3]
	})
	for from, to := range vols {
		script = strings.ReplaceAll(script, " "+from, " "+to)
	}
	if !engine.KnowsPerfmonCaps {
		// Engines before 23.0: the documented substitute.
		script = strings.ReplaceAll(script, "--cap-add BPF --cap-add PERFMON", "--cap-add SYS_ADMIN")
		script = strings.ReplaceAll(script, "--cap-add PERFMON", "--cap-add SYS_ADMIN")
	}
	cmd := exec.Command("bash", "-eux", "-c", script) // no pipefail: a block may pipe an expected failure into grep
	cmd.Dir = ws
	cmd.Env = append(os.Environ(), "PWD="+ws)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docs/docker.md's commands: %v\n%s", err, out)
	}
	for _, mode := range []string{"simulation", "walltime", "memory"} {
		hostResult(t, ws, mode, "primes")
	}
	hostResult(t, ws, "walltime", "BenchmarkSum")
	// Under Docker's default profile the run kept address randomisation on,
	// said why in the results, and counted what the runner's profile counts
	// for the same binary (the :c block rebuilt ./primes in between: it is
	// measured again here).
	if out, err := exec.Command("docker", "run", "--rm", "-v", ws+":/src", "-w", "/src", "--security-opt", "seccomp="+filepath.Join(ws, "seccomp.json"), runner,
		"exec", "--mode", "simulation", "--name", "primes-runner-profile", "--", "./primes", "100000").CombinedOutput(); err != nil {
		t.Fatalf("simulation under the runner's profile: %v\n%s", err, out)
	}
	withR, withoutR := simResult(t, ws, "primes-runner-profile"), simResult(t, ws, "primes-default-seccomp")
	if withR.AddressRandomization != "" || !strings.Contains(withoutR.AddressRandomization, "seccomp refuses personality") {
		t.Errorf("address_randomization: %q with the runner's profile, %q with Docker's default", withR.AddressRandomization, withoutR.AddressRandomization)
	}
	if withR.Instructions != withoutR.Instructions || withR.L1Misses != withoutR.L1Misses || withR.LLMisses != withoutR.LLMisses {
		t.Errorf("counts with randomisation off %+v, on %+v", withR, withoutR)
	}
	t.Logf("docs/docker.md's commands ran in %v", time.Since(start).Round(time.Second))

	// The own-image recipe, built as written (FROM the runner built here)
	// and measuring in simulation.
	recipes := fencedBlocks(t, "../../docs/docker.md", "dockerfile")
	if len(recipes) != 1 {
		t.Fatalf("docs/docker.md has %d \"dockerfile test\" blocks, want the own-image recipe", len(recipes))
	}
	recipe := strings.Replace(recipes[0], "FROM codspeed-go AS codspeed", "FROM "+runner+" AS codspeed", 1)
	if recipe == recipes[0] {
		t.Fatal("the own-image recipe no longer starts FROM codspeed-go AS codspeed")
	}
	rdir := t.TempDir()
	os.WriteFile(filepath.Join(rdir, "Dockerfile"), []byte(recipe), 0o644)
	own := "codspeed-go-test/own-image:latest"
	if out, err := exec.Command("docker", "build", "-q", "-t", own, rdir).CombinedOutput(); err != nil {
		t.Fatalf("build the own-image recipe: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", own).Run() })
	out, err = exec.Command("docker", "run", "--rm", "-v", ws+":/src", "-w", "/src", "--security-opt", "seccomp="+filepath.Join(ws, "seccomp.json"), own,
		"codspeed", "exec", "--mode", "simulation", "--name", "own-image-primes", "--", "./primes", "100000").CombinedOutput()
	if err != nil {
		t.Fatalf("simulation in the own-image recipe's image: %v\n%s", err, out)
	}
	hostResult(t, ws, "simulation", "own-image-primes")
}
