package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/sandbox/docker"
)

// TestContainerOptions: per mode exactly docs/docker.md's table, with the
// seccomp profile, never unconfined or privileged.
func TestContainerOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		modes, api, want string
	}{
		{"simulation", "1.43", "--security-opt seccomp=/p.json"},
		{"walltime", "1.43", "--cap-add PERFMON --security-opt seccomp=/p.json"},
		{"memory", "1.43", "--cap-add BPF --cap-add PERFMON --security-opt seccomp=/p.json"},
		{"walltime,memory", "1.43", "--cap-add PERFMON --cap-add BPF --security-opt seccomp=/p.json"},
		{"instrumentation", "1.41", "--security-opt seccomp=/p.json"},
		{"walltime", "1.41", "--cap-add SYS_ADMIN --security-opt seccomp=/p.json"},
		{"memory", "1.41", "--cap-add SYS_ADMIN --security-opt seccomp=/p.json"},
	} {
		r := codspeed(t, dir, "", "container-options", "--mode", tt.modes, "--engine-api", tt.api, "--seccomp", "/p.json")
		if r.code != 0 || strings.TrimSpace(r.stdout) != tt.want {
			t.Errorf("%s on API %s: exit %d, %q, want %q\n%s", tt.modes, tt.api, r.code, strings.TrimSpace(r.stdout), tt.want, r.stderr)
		}
		if strings.Contains(tt.want, "SYS_ADMIN") != strings.Contains(r.stderr, "warning: ") {
			t.Errorf("%s on API %s: the SYS_ADMIN fallback must warn:\n%s", tt.modes, tt.api, r.stderr)
		}
	}
	for _, bad := range [][]string{
		{"--mode", "walltime", "--engine-api", "1.43"},
		{"--mode", "bogus", "--engine-api", "1.43", "--seccomp", "/p.json"},
		{"--mode", "walltime", "--engine-api", "1.43", "--seccomp", "/a path.json"},
	} {
		if r := codspeed(t, dir, "", append([]string{"container-options"}, bad...)...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, r.code)
		}
	}
	r := codspeed(t, dir, "", "seccomp-profile")
	var profile map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &profile) != nil || r.stdout != docker.SeccompProfile() {
		t.Fatalf("seccomp-profile: exit %d, not the embedded profile", r.code)
	}
}
