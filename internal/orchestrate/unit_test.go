package orchestrate

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// compile builds a tiny C program with the given compiler and flags, so the
// runner lookup is tested on real ELF files of each kind.
func compile(t *testing.T, dir, name, cc string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath(cc); err != nil {
		testenv.Missing(t, "%s not installed: %v", cc, err)
	}
	src := filepath.Join(dir, "main.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	args := append(flags, "-o", out, src)
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", cc, args, err, b)
	}
	return out
}

func TestFindRunner(t *testing.T) {
	t.Run("static exe of the image's arch", func(t *testing.T) {
		dir := t.TempDir()
		exe := compile(t, dir, "codspeed", "cc", "-static")
		got, err := FindRunner(exe, "amd64")
		if err != nil || got != exe {
			t.Fatalf("got %q, %v; want the executable itself", got, err)
		}
	})
	t.Run("dynamic exe, static binary beside it", func(t *testing.T) {
		dir := t.TempDir()
		exe := compile(t, dir, "codspeed", "cc")
		beside := compile(t, dir, RunnerBinaryName("amd64"), "cc", "-static")
		got, err := FindRunner(exe, "amd64")
		if err != nil || got != beside {
			t.Fatalf("got %q, %v; want %s", got, err, beside)
		}
	})
	t.Run("other arch in bin beside it", func(t *testing.T) {
		dir := t.TempDir()
		exe := compile(t, dir, "codspeed", "cc", "-static")
		if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		arm := compile(t, filepath.Join(dir, "bin"), RunnerBinaryName("arm64"), "aarch64-linux-gnu-gcc", "-static")
		got, err := FindRunner(exe, "arm64")
		if err != nil || got != arm {
			t.Fatalf("got %q, %v; want %s", got, err, arm)
		}
	})
	t.Run("only wrong ones", func(t *testing.T) {
		dir := t.TempDir()
		exe := compile(t, dir, "codspeed", "cc")
		compile(t, dir, RunnerBinaryName("amd64"), "cc") // dynamic too
		_, err := FindRunner(exe, "amd64")
		if !errors.Is(err, ErrNoRunnerBinary) {
			t.Fatalf("got %v, want ErrNoRunnerBinary", err)
		}
		for _, want := range []string{"dynamically linked", "make build-linux", "CGO_ENABLED=0"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message lacks %q: %v", want, err)
			}
		}
		_, err = FindRunner(exe, "arm64")
		if !errors.Is(err, ErrNoRunnerBinary) || !strings.Contains(err.Error(), "is for amd64") {
			t.Fatalf("arm64 image: %v", err)
		}
	})
	t.Run("not an executable", func(t *testing.T) {
		dir := t.TempDir()
		exe := filepath.Join(dir, "codspeed")
		os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
		if _, err := FindRunner(exe, "amd64"); !errors.Is(err, ErrNoRunnerBinary) || !strings.Contains(err.Error(), "not an ELF") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestContainerPath(t *testing.T) {
	for _, tc := range []struct {
		host, want string
		ok         bool
	}{
		{"/home/me/proj", "/src", true},
		{"/home/me/proj/bench/c", "/src/bench/c", true},
		{"/home/me/proj/../proj/x", "/src/x", true},
		{"/home/me/project2", "", false},
		{"/home/me", "", false},
		{"/etc", "", false},
	} {
		got, err := ContainerPath("/home/me/proj", tc.host)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ContainerPath(%q) = %q, %v; want %q ok=%v", tc.host, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "--no-container") {
			t.Errorf("message does not say what to do: %v", err)
		}
	}
}

func TestRunnerArgs(t *testing.T) {
	ms := 200 * time.Millisecond
	rounds := int64(5)
	opts := instruments.Options{WarmupTime: &ms, MaxRounds: &rounds}
	for _, tc := range []struct {
		name string
		t    instruments.Target
		show bool
		want string
	}{
		{"exec", instruments.Target{Name: "primes 2M", Kind: instruments.Exec, Command: "./primes 2000000", Args: []string{"./primes", "2000000"}, Options: opts},
			false, "exec --mode walltime --profile-folder /codspeed/profile --working-directory /src/b --no-container --cpus 1 --name primes 2M --warmup-time 200ms --max-rounds 5 -- ./primes 2000000"},
		{"exec with a shell line", instruments.Target{Name: "pipe", Kind: instruments.Exec, Command: "a | b"},
			true, "exec --mode walltime --profile-folder /codspeed/profile --working-directory /src/b --no-container --cpus 1 --name pipe --show-output -- bash -c a | b"},
		{"entrypoint", instruments.Target{Name: "go", Kind: instruments.Entrypoint, Command: "go test -bench=. ./...", Args: []string{"go", "test", "-bench=.", "./..."}},
			false, "run --mode walltime --profile-folder /codspeed/profile --working-directory /src/b --no-container --cpus 1 -- go test -bench=. ./..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RunnerArgs(results.Walltime, tc.t, "/src/b", "1", tc.show)
			if strings.Join(got, " ") != tc.want {
				t.Errorf("got  %s\nwant %s", strings.Join(got, " "), tc.want)
			}
			if tc.t.Kind == instruments.Entrypoint && got[len(got)-1] != tc.t.Command {
				t.Errorf("entrypoint command not passed as one line: %q", got)
			}
		})
	}
}

func TestImageRef(t *testing.T) {
	img := &config.Container{Image: "registry.example/bench:1"}
	if got := ImageRef(img); got != "registry.example/bench:1" {
		t.Errorf("image: %s", got)
	}
	a := ImageRef(&config.Container{Build: &config.Build{Context: "/home/me/My Proj"}})
	b := ImageRef(&config.Container{Build: &config.Build{Context: "/home/me/My Proj", Dockerfile: "bench.Dockerfile"}})
	c := ImageRef(&config.Container{Build: &config.Build{Context: "/other/My Proj"}})
	if !strings.HasPrefix(a, "codspeed-bench/my-proj:") || a == b || a == c {
		t.Errorf("build refs %s %s %s: want distinct, lowercase, named after the context", a, b, c)
	}
	if a != ImageRef(&config.Container{Build: &config.Build{Context: "/home/me/My Proj"}}) {
		t.Error("build ref not stable")
	}
}

func TestCollect(t *testing.T) {
	pf := t.TempDir()
	dir := filepath.Join(pf, "targets", "01-x")
	f := &results.File{Instrument: results.Instrument{Type: results.Walltime}, Benchmarks: []results.Benchmark{
		{Name: "x", Profile: &results.Profile{Folded: "profiles/x.folded", Flamegraph: "profiles/x.svg"},
			Sandbox: &results.Sandbox{Kind: "container", CPUs: "1", CPUUsageNs: 42}},
		{Name: "y", Error: "exit 1"},
	}}
	if _, err := results.WriteResults(dir, f); err != nil {
		t.Fatal(err)
	}
	sb := results.Sandbox{Kind: "docker", CPUs: "1", ContainerImage: "img:1"}
	got, err := collect(pf, dir, sb)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "x" || got[1].Error != "exit 1" {
		t.Fatalf("benchmarks %+v", got)
	}
	if p := got[0].Profile; p.Folded != "targets/01-x/profiles/x.folded" || p.Flamegraph != "targets/01-x/profiles/x.svg" {
		t.Errorf("profile paths not relative to the mode's folder: %+v", p)
	}
	if s := got[0].Sandbox; s.Kind != "docker" || s.ContainerImage != "img:1" || s.CPUUsageNs != 42 {
		t.Errorf("sandbox %+v", s)
	}
	if s := got[1].Sandbox; s == nil || s.Kind != "docker" {
		t.Errorf("sandbox of a failed benchmark %+v", s)
	}
	if m := collectMetadata(dir); m != nil {
		t.Errorf("metadata %s from a file without any", m)
	}
	f.Metadata = map[string]json.RawMessage{"async_warning": json.RawMessage(`"Profiling is inaccurate due to async operations"`)}
	f.Creator.Pid = 2
	if _, err := results.WriteResults(dir, f); err != nil {
		t.Fatal(err)
	}
	if m := collectMetadata(dir); string(m["async_warning"]) != `"Profiling is inaccurate due to async operations"` {
		t.Errorf("the container runner's metadata was lost: %s", m)
	}
	os.Remove(filepath.Join(dir, "results", "2.json"))
	os.WriteFile(filepath.Join(dir, "results", "bad.json"), []byte("{"), 0o644)
	if _, err := collect(pf, dir, sb); err == nil {
		t.Error("a corrupt results file must be an error")
	}
	if got := lastLine("a\nerror: boom\n\n"); got != "error: boom" {
		t.Errorf("lastLine %q", got)
	}
	tb := &tailBuffer{max: 4}
	tb.Write([]byte("abcdef"))
	tb.Write([]byte("gh"))
	if tb.String() != "efgh" {
		t.Errorf("tail %q", tb.String())
	}
}

// The outer run's profiling flags reach the runner inside the container,
// before the command.
func TestRunnerArgsPassFlags(t *testing.T) {
	tg := instruments.Target{Name: "b", Kind: instruments.Exec, Args: []string{"./b"}}
	got := strings.Join(RunnerArgs(results.Walltime, tg, "/src", "1", false, "--enable-perf=false", "--perf-unwinding-mode", "dwarf"), " ")
	if !strings.Contains(got, "--enable-perf=false --perf-unwinding-mode dwarf -- ./b") {
		t.Fatalf("args: %s", got)
	}
}
