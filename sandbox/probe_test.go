package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDetectContainer(t *testing.T) {
	mk := func(files map[string]string) string {
		root := t.TempDir()
		for f, body := range files {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	noEnv := func(string) string { return "" }
	for _, tt := range []struct {
		name     string
		files    map[string]string
		getenv   func(string) string
		want     bool
		evidence string
	}{
		{"bare host", map[string]string{"proc/1/cgroup": "0::/init.scope\n"}, noEnv, false, ""},
		{"docker", map[string]string{".dockerenv": ""}, noEnv, true, "/.dockerenv"},
		{"podman", map[string]string{"run/.containerenv": ""}, noEnv, true, "/run/.containerenv"},
		{"v1 docker pid 1", map[string]string{"proc/1/cgroup": "4:memory:/docker/abc\n0::/\n"}, noEnv, true, "/docker/abc"},
		{"kubernetes", map[string]string{"proc/1/cgroup": "0::/kubepods/besteffort/pod1\n"}, noEnv, true, "kubepods"},
		{"nspawn env", nil, func(k string) string {
			if k == "container" {
				return "systemd-nspawn"
			}
			return ""
		}, true, "container=systemd-nspawn"},
	} {
		got, ev := detectContainer(mk(tt.files), tt.getenv)
		if got != tt.want || !strings.Contains(ev, tt.evidence) {
			t.Errorf("%s: got %v %q, want %v %q", tt.name, got, ev, tt.want, tt.evidence)
		}
	}
}

// TestProbeHost checks the probe against facts of this host kind that other
// means confirm: Debian 12 as root with a hybrid cgroup layout.
func TestProbeHost(t *testing.T) {
	c := Probe()
	var buf bytes.Buffer
	if err := c.Report(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", buf.String())
	for _, key := range []string{"cgroups", "create cgroups", "cpuset controller", "CPUs", "perf_event_paranoid", "CAP_PERFMON", "CAP_BPF", "CAP_SYS_ADMIN", "in container", "tracefs", "BTF"} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("report lacks %q", key)
		}
	}
	if !strings.Contains(buf.String(), "fix:") && (!c.TracefsMounted || !c.CanCreateCgroups) {
		t.Error("a lack is reported without a fix")
	}
	allowed, _ := AllowedCPUs()
	if c.AllowedCPUs.String() != allowed.String() || !c.OnlineCPUs.Contains(c.AllowedCPUs) {
		t.Errorf("CPUs: online %s allowed %s", c.OnlineCPUs, c.AllowedCPUs)
	}
	b, _ := os.ReadFile(paranoidPath)
	if got := strings.TrimSpace(string(b)); got != "" && got != strconv.Itoa(c.PerfEventParanoid) {
		t.Errorf("paranoid %d, file says %s", c.PerfEventParanoid, got)
	}
	_, err := os.Stat(btfPath)
	if c.BTF != (err == nil) {
		t.Errorf("BTF %v but stat says %v", c.BTF, err)
	}
	if os.Geteuid() == 0 {
		if c.CgroupMode != CgroupUnavailable && !c.CanCreateCgroups {
			t.Errorf("root cannot create cgroups: %v", c.CgroupError)
		}
		if !c.CapEff.Has(CapSysAdmin) {
			t.Error("root without CAP_SYS_ADMIN in CapEff")
		}
	}
	if c.CgroupMode == CgroupHybrid && (!c.UseV1 || c.Cgroup2Mount != hybridUnified) {
		t.Errorf("hybrid host: UseV1 %v, cgroup2 at %q", c.UseV1, c.Cgroup2Mount)
	}
}
