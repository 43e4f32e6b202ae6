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
)

// docBlocks returns the fenced blocks of a Markdown file whose info string
// is "sh test": the commands the docs promise work as written.
func docBlocks(t *testing.T, path string) []string {
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
		case cur == nil && strings.TrimSpace(line) == "```sh test":
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
		t.Fatalf("%s: unterminated ```sh test block", path)
	}
	return blocks
}

// imageRef matches the image names the docs use: codspeed-go and
// codspeed-go:TAG, as whole words (not codspeed-go's, not a path).
var imageRef = regexp.MustCompile(`(^|\s)codspeed-go(:[a-z0-9]+)?(\s|$)`)

// TestDockerDocs runs docs/docker.md's "sh test" blocks in order, in one
// shell, in a project folder outside the checkout, with the image names
// pointing at the images built from this tree: the seccomp profile from
// the image, simulation under the runner's profile and under Docker's
// default one, the :c variant, walltime and memory.
func TestDockerDocs(t *testing.T) {
	needEngine(t)
	runner := runnerImage(t)
	start := time.Now()
	cImage := "codspeed-go-test/runner-e2e:c"
	if out, err := exec.Command("docker", "build", "-q", "--build-arg", "RUNNER="+runner, "-t", cImage, "../../images/c").CombinedOutput(); err != nil {
		t.Fatalf("build images/c: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", cImage).Run() })
	t.Logf("images/c built in %v", time.Since(start).Round(time.Second))

	ws := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", ws).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	copyFile(t, primesStatic(t), filepath.Join(ws, "primes"), 0o755)
	copyFile(t, "../../examples/c/primes.c", filepath.Join(ws, "primes.c"), 0o644)
	os.WriteFile(filepath.Join(ws, "Makefile"), []byte("primes: primes.c\n\tcc -O2 -o primes primes.c\nbench: primes\n\t./primes 100000\n"), 0o644)

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
		default:
			t.Fatalf("docs/docker.md names image codspeed-go%s, which this test does not build", sub[2])
		}
		return sub[1] + name + sub[3]
	})
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
	t.Logf("docs/docker.md's commands ran in %v", time.Since(start).Round(time.Second))
}
