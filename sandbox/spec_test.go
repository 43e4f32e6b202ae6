package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/codspeed-go/codspeed-go/testenv"
)

func TestNewSpecGolden(t *testing.T) {
	limit := int64(512 << 20)
	spec := NewSpec(Options{
		Args:             []string{"go", "test", "-bench=."},
		Env:              []string{"CODSPEED_ENV=local"},
		Cwd:              "/src",
		CPUs:             "1",
		MemoryLimitBytes: limit,
		User:             &specs.User{UID: 1000, GID: 1000},
		Capabilities:     &specs.LinuxCapabilities{Bounding: []string{"CAP_PERFMON"}},
		Mounts:           []specs.Mount{{Destination: "/profile", Type: "bind", Source: "/tmp/p", Options: []string{"rbind"}}},
	})
	path := filepath.Join(t.TempDir(), "out", "spec.json")
	if err := WriteSpec(path, spec); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Golden(t, filepath.Join("testdata", "spec.golden.json"), got)
}

func TestNewSpecDefaults(t *testing.T) {
	spec := NewSpec(Options{Args: []string{"true"}})
	allowed, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Linux.Resources.CPU.Cpus; got != DefaultCPUs(allowed).String() {
		t.Errorf("default cpus %q, want %s", got, DefaultCPUs(allowed))
	}
	if len(allowed) > 1 && spec.Linux.Resources.CPU.Cpus == "0" {
		t.Error("pinned to CPU 0 although others are allowed")
	}
	if spec.Linux.Resources.Memory != nil {
		t.Error("memory limit without one asked")
	}
	if int(spec.Process.User.UID) != os.Geteuid() && os.Getenv("SUDO_UID") == "" {
		t.Errorf("user %d, want this process's %d", spec.Process.User.UID, os.Geteuid())
	}
	if os.Geteuid() == 0 && os.Getenv("SUDO_UID") == "" && len(spec.Process.Capabilities.Effective) == 0 {
		t.Error("root process described without capabilities")
	}
}

func TestInvokingUser(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tt := range []struct {
		name       string
		getenv     func(string) string
		euid, egid int
		uid, gid   uint32
	}{
		{"root under sudo", env("SUDO_UID", "65534", "SUDO_GID", "65534"), 0, 0, 65534, 65534},
		{"root without sudo", env(), 0, 0, 0, 0},
		{"user ignores SUDO_*", env("SUDO_UID", "0", "SUDO_GID", "0"), 1000, 1000, 1000, 1000},
		{"malformed SUDO_UID", env("SUDO_UID", "x", "SUDO_GID", "1"), 0, 0, 0, 0},
		{"missing SUDO_GID", env("SUDO_UID", "12"), 0, 0, 0, 0},
	} {
		u := InvokingUser(tt.getenv, tt.euid, tt.egid)
		if u.UID != tt.uid || u.GID != tt.gid {
			t.Errorf("%s: got %d:%d, want %d:%d", tt.name, u.UID, u.GID, tt.uid, tt.gid)
		}
	}
}
