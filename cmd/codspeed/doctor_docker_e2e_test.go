package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// doctorModes parses `codspeed doctor`'s instrument lines: mode -> the
// rest of its line ("ok" or "unavailable: <cause>").
func doctorModes(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && slices.Contains([]string{"walltime", "simulation", "memory"}, f[0]) && (f[1] == "ok" || f[1] == "unavailable:") {
			m[f[0]] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), f[0]))
		}
	}
	return m
}

// TestDockerDoctor: in the runner image, under Docker's default seccomp
// profile, under the runner's profile with each mode's capabilities, and
// under a profile that refuses perf_event_open, `codspeed doctor` gives
// each mode the verdict that a real run of that mode then confirms: a mode
// it calls ok measures, a mode it calls unavailable fails, and for the same
// cause. (Loading an eBPF program is not enough for memory mode: attaching a
// uprobe is a perf event, so doctor attaches one too.)
func TestDockerDoctor(t *testing.T) {
	needEngine(t)
	image := runnerImage(t)
	dir := t.TempDir()
	profile, err := exec.Command("docker", "run", "--rm", image, "seccomp-profile").Output()
	if err != nil {
		t.Fatalf("seccomp-profile: %v", err)
	}
	runnerProfile := filepath.Join(dir, "seccomp.json")
	os.WriteFile(runnerProfile, profile, 0o644)
	// The same profile without perf_event_open, anywhere in it.
	var p map[string]any
	if err := json.Unmarshal(profile, &p); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, s := range p["syscalls"].([]any) {
		rule := s.(map[string]any)
		names := rule["names"].([]any)
		kept := names[:0:0]
		for _, n := range names {
			if n == "perf_event_open" {
				removed++
				continue
			}
			kept = append(kept, n)
		}
		rule["names"] = kept
	}
	if removed == 0 {
		t.Fatal("the runner's seccomp profile names no perf_event_open")
	}
	noPerfProfile := filepath.Join(dir, "seccomp-no-perf.json")
	os.WriteFile(noPerfProfile, must(json.Marshal(p)), 0o644)

	caps := []string{"--cap-add", "BPF", "--cap-add", "PERFMON"}
	if !engine.KnowsPerfmonCaps {
		caps = []string{"--cap-add", "SYS_ADMIN"}
	}
	ws := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", ws).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	cases := []struct {
		name string
		opts []string
		want map[string]*regexp.Regexp
	}{
		{"docker default profile, no capability", nil, map[string]*regexp.Regexp{
			"walltime":   regexp.MustCompile(`^ok$`),
			"simulation": regexp.MustCompile(`^ok$`),
			"memory":     regexp.MustCompile(`^unavailable: memory mode: .*(permission denied|operation not permitted)`),
		}},
		{"runner profile and the modes' capabilities", append([]string{"--security-opt", "seccomp=" + runnerProfile}, caps...), map[string]*regexp.Regexp{
			"walltime":   regexp.MustCompile(`^ok$`),
			"simulation": regexp.MustCompile(`^ok$`),
			"memory":     regexp.MustCompile(`^ok$`),
		}},
		{"perf_event_open refused", append([]string{"--security-opt", "seccomp=" + noPerfProfile}, caps...), map[string]*regexp.Regexp{
			"walltime":   regexp.MustCompile(`^ok$`),
			"simulation": regexp.MustCompile(`^ok$`),
			"memory":     regexp.MustCompile(`^unavailable: memory mode: attach a test uprobe: permission denied`),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := append([]string{"run", "--rm", "-v", ws + ":/src", "-w", "/src", "--network", "none"}, c.opts...)
			out, _ := exec.Command("docker", append(append(slices.Clone(base), image), "doctor")...).CombinedOutput()
			got := doctorModes(string(out))
			if c.opts == nil && !strings.Contains(string(out), "address randomisation stays on: seccomp refuses personality(ADDR_NO_RANDOMIZE)") {
				t.Errorf("doctor under Docker's default profile does not say that address randomisation stays on:\n%s", out)
			}
			for mode, re := range c.want {
				if !re.MatchString(got[mode]) {
					t.Errorf("doctor says %s %q, want %s\n%s", mode, got[mode], re, out)
				}
			}
			// What doctor said, a real run of each mode confirms.
			for _, mode := range []string{"walltime", "simulation", "memory"} {
				args := append(append(slices.Clone(base), image), "exec", "--mode", mode, "--warmup-time", "0", "--max-rounds", "2", "--name", "doctor-"+mode, "--", "/bin/true")
				rout, rerr := exec.Command("docker", args...).CombinedOutput()
				ok := got[mode] == "ok"
				if ok != (rerr == nil) {
					t.Errorf("doctor says %s %q, but `exec --mode %s` %v:\n%s", mode, got[mode], mode, rerr, rout)
				}
				if !ok {
					cause := got[mode][strings.Index(got[mode], ":")+1:]
					if len(cause) > 60 {
						cause = cause[:60]
					}
					if !strings.Contains(string(rout), strings.TrimSpace(cause)) {
						t.Errorf("%s: the run's error does not give doctor's cause %q:\n%s", mode, cause, rout)
					}
				}
			}
		})
	}
}
