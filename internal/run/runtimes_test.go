package run

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

func TestWithRuntimes(t *testing.T) {
	base := []string{"PATH=/usr/bin:/bin", "JAVA_TOOL_OPTIONS=-Xmx1g", "HOME=/root"}
	wall := withRuntimes(base, results.Walltime, instruments.Entrypoint, "/tmp/stand-in")
	if got := lookupEnv(wall, "PATH"); got != "/tmp/stand-in:/usr/bin:/bin" {
		t.Errorf("walltime entrypoint PATH = %q", got)
	}
	if got := lookupEnv(wall, "PYTHON_PERF_JIT_SUPPORT"); got != "1" {
		t.Errorf("walltime PYTHON_PERF_JIT_SUPPORT = %q, want 1", got)
	}
	if got := lookupEnv(wall, "JAVA_TOOL_OPTIONS"); !strings.HasPrefix(got, "-Xmx1g ") || !strings.Contains(got, "-XX:+PreserveFramePointer") {
		t.Errorf("walltime JAVA_TOOL_OPTIONS = %q: the user's options first, then the profiling ones", got)
	}
	if lookupEnv(wall, "HOME") != "/root" {
		t.Error("unrelated variables must be kept")
	}
	sim := withRuntimes(base, results.Simulation, instruments.Entrypoint, "/tmp/stand-in")
	if got := lookupEnv(sim, "PYTHON_PERF_JIT_SUPPORT"); got != "0" {
		t.Errorf("simulation PYTHON_PERF_JIT_SUPPORT = %q, want 0", got)
	}
	if got := lookupEnv(sim, "JAVA_TOOL_OPTIONS"); got != "-Xmx1g" {
		t.Errorf("simulation JAVA_TOOL_OPTIONS = %q, want the user's alone", got)
	}
	exec := withRuntimes(base, results.Walltime, instruments.Exec, "/tmp/stand-in")
	if got := lookupEnv(exec, "PATH"); got != "/usr/bin:/bin" {
		t.Errorf("exec targets get no stand-in: PATH = %q", got)
	}
	for _, env := range [][]string{wall, sim, exec} {
		seen := map[string]bool{}
		for _, kv := range env {
			k, _, _ := strings.Cut(kv, "=")
			if seen[k] {
				t.Errorf("%s set twice in %q", k, env)
			}
			seen[k] = true
		}
	}
}

func TestParseNodeFlags(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"  \n", nil, false},
		{`{"flags":["--allow-natives-syntax","--hash-seed=1"]}`, []string{"--allow-natives-syntax", "--hash-seed=1"}, false},
		{`{"flags":[]}`, []string{}, false},
		{`{"flags":[" --no-opt ",""]}`, []string{"--no-opt"}, false},
		{`{"other":1}`, nil, true},
		{`{"flags":"--x"}`, nil, true},
		{`not json`, nil, true},
	} {
		got, err := parseNodeFlags([]byte(c.in))
		if (err != nil) != c.wantErr {
			t.Errorf("parseNodeFlags(%q): err %v, want error %v", c.in, err, c.wantErr)
			continue
		}
		if (got == nil) != (c.want == nil) || !slices.Equal(got, c.want) {
			t.Errorf("parseNodeFlags(%q) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

func FuzzParseNodeFlags(f *testing.F) {
	for _, s := range []string{"", `{"flags":["--a"]}`, `{"flags":null}`, `{"flags":[1]}`, "{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flags, err := parseNodeFlags([]byte(s))
		if err != nil && flags != nil {
			t.Fatalf("flags %q with error %v", flags, err)
		}
		for _, fl := range flags {
			if fl == "" || strings.TrimSpace(fl) != fl {
				t.Fatalf("flag %q not trimmed or empty", fl)
			}
		}
	})
}

// TestRealNodeSkipsTheStandIn: the stand-in's folder comes first on PATH;
// the real node is the first other one.
func TestRealNodeSkipsTheStandIn(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	standIn, other, empty := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.Symlink(self, filepath.Join(standIn, NodeWrapperName)); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(other, NodeWrapperName)
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := realNode(strings.Join([]string{standIn, empty, other}, string(os.PathListSeparator)))
	if err != nil || got != fake {
		t.Fatalf("realNode = %q, %v; want %q", got, err, fake)
	}
	if _, err := realNode(standIn); err == nil {
		t.Fatal("a PATH with only the stand-in must be an error")
	}
}

// TestStaleNodeWrappersRemoved: the stand-in folder of a runner that is gone
// is removed by the next run; a live runner's is kept.
func TestStaleNodeWrappersRemoved(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(os.TempDir(), nodeWrapperFolder+strconv.Itoa(cmd.Process.Pid)+"-1")
	live := filepath.Join(os.TempDir(), nodeWrapperFolder+strconv.Itoa(os.Getppid())+"-1")
	for _, d := range []string{dead, live} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := prepareNodeWrapper()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead runner's stand-in folder was kept: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live runner's stand-in folder was removed: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(dir, NodeWrapperName)); err != nil || target == "" {
		t.Errorf("stand-in link: %q, %v", target, err)
	}
}
