package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3"
	"golang.org/x/sys/unix"
)

// Sentinels wrapped by the errors of this package, for errors.Is.
var (
	// ErrCgroupsUnavailable: this process cannot create cgroups (not root,
	// read-only cgroupfs, no delegation, no cgroupfs at all).
	ErrCgroupsUnavailable = errors.New("cannot create cgroups")
	// ErrCPUsUnavailable: the requested CPUs are not ones this process may
	// run on.
	ErrCPUsUnavailable = errors.New("requested CPUs are not available")
)

// CgroupMode is how the host's cgroup file systems are laid out.
type CgroupMode int

const (
	CgroupUnavailable CgroupMode = iota
	// CgroupV1: only v1 hierarchies, one per controller.
	CgroupV1
	// CgroupHybrid: v1 hierarchies plus a cgroup2 mount at
	// /sys/fs/cgroup/unified, which usually holds no controllers.
	CgroupHybrid
	// CgroupV2: the unified hierarchy only.
	CgroupV2
)

func (m CgroupMode) String() string {
	switch m {
	case CgroupV1:
		return "v1"
	case CgroupHybrid:
		return "hybrid"
	case CgroupV2:
		return "v2"
	}
	return "unavailable"
}

// hostCgroupMode maps containerd's detection onto CgroupMode.
func hostCgroupMode() CgroupMode {
	switch cgroups.Mode() {
	case cgroups.Legacy:
		return CgroupV1
	case cgroups.Hybrid:
		return CgroupHybrid
	case cgroups.Unified:
		return CgroupV2
	}
	return CgroupUnavailable
}

const (
	cgroupRoot      = "/sys/fs/cgroup"
	hybridUnified   = "/sys/fs/cgroup/unified"
	tracefsPath     = "/sys/kernel/tracing"
	btfPath         = "/sys/kernel/btf/vmlinux"
	paranoidPath    = "/proc/sys/kernel/perf_event_paranoid"
	onlineCPUsPath  = "/sys/devices/system/cpu/online"
	tracefsMagic    = 0x74726163
	debugfsTracing  = "/sys/kernel/debug/tracing"
	paranoidUnknown = -100
)

// Capabilities are the facts about this host and process that decide where
// and how targets can run. Probe fills them; the sandbox, the instruments and
// `codspeed doctor` read the same values.
type Capabilities struct {
	CgroupMode CgroupMode
	// Cgroup2Mount is the unified hierarchy's mount point ("" when none);
	// Cgroup2Controllers are the controllers available at this process's
	// cgroup in it.
	Cgroup2Mount       string
	Cgroup2Controllers []string
	// UseV1 is true when the sandbox drives v1 controllers (v1 and hybrid
	// hosts, where the controllers are bound to v1).
	UseV1 bool
	// CanCreateCgroups: a probe cgroup was created and removed where the
	// sandbox would create one; CgroupError says why not.
	CanCreateCgroups bool
	CgroupError      error
	// CPUSet: the cpuset controller is available where the sandbox creates
	// cgroups.
	CPUSet bool
	// OnlineCPUs are the host's CPUs; AllowedCPUs those this process may
	// run on.
	OnlineCPUs  CPUSet
	AllowedCPUs CPUSet
	// PerfEventParanoid is kernel.perf_event_paranoid (-100 when unreadable).
	PerfEventParanoid int
	// Root: effective UID 0. CapEff is the effective capability set.
	Root   bool
	CapEff CapabilitySet
	// InContainer and the evidence that says so (/.dockerenv, ...).
	InContainer       bool
	ContainerEvidence string
	TracefsMounted    bool
	BTF               bool
}

// Probe inspects this host and process. It creates and removes one empty
// cgroup to learn whether the sandbox could; nothing else is changed.
func Probe() Capabilities {
	var c Capabilities
	c.CgroupMode = hostCgroupMode()
	c.UseV1 = c.CgroupMode == CgroupV1 || c.CgroupMode == CgroupHybrid
	switch c.CgroupMode {
	case CgroupHybrid:
		c.Cgroup2Mount = hybridUnified
	case CgroupV2:
		c.Cgroup2Mount = cgroupRoot
	}
	self, selfErr := ReadProcCgroup(0)
	if c.Cgroup2Mount != "" && selfErr == nil {
		if p, ok := cgroupPathOf(self, ""); ok {
			c.Cgroup2Controllers = readControllers(filepath.Join(c.Cgroup2Mount, p))
		}
	}
	c.CanCreateCgroups, c.CgroupError = probeCreate(c, self, selfErr)
	if c.UseV1 {
		_, err := os.Stat(filepath.Join(cgroupRoot, "cpuset", "cpuset.cpus"))
		c.CPUSet = err == nil
	} else {
		c.CPUSet = contains(c.Cgroup2Controllers, "cpuset")
	}
	if b, err := os.ReadFile(onlineCPUsPath); err == nil {
		c.OnlineCPUs, _ = ParseCPUSet(string(b))
	}
	c.AllowedCPUs, _ = AllowedCPUs()
	c.PerfEventParanoid = paranoidUnknown
	if b, err := os.ReadFile(paranoidPath); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			c.PerfEventParanoid = n
		}
	}
	c.Root = os.Geteuid() == 0
	c.CapEff, _ = readCapabilitySet("/proc/self/status", "CapEff")
	c.InContainer, c.ContainerEvidence = detectContainer("/", os.Getenv)
	c.TracefsMounted = isTracefs(tracefsPath) || isTracefs(debugfsTracing)
	_, err := os.Stat(btfPath)
	c.BTF = err == nil
	return c
}

func readControllers(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// probeCreate makes and removes an empty cgroup where NewLocal would make
// one: next to this process's cpuset cgroup on v1, below its cgroup2 cgroup
// on v2.
func probeCreate(c Capabilities, self []ProcCgroup, selfErr error) (bool, error) {
	if c.CgroupMode == CgroupUnavailable {
		return false, fmt.Errorf("%w: no cgroup file system at %s (mount cgroup2 there, or run on a host that has one)", ErrCgroupsUnavailable, cgroupRoot)
	}
	if selfErr != nil {
		return false, fmt.Errorf("%w: %v", ErrCgroupsUnavailable, selfErr)
	}
	var dir string
	if c.UseV1 {
		p, ok := cgroupPathOf(self, "cpuset")
		if !ok {
			return false, fmt.Errorf("%w: this process is in no cpuset cgroup (mount the v1 cpuset controller at %s/cpuset)", ErrCgroupsUnavailable, cgroupRoot)
		}
		dir = filepath.Join(cgroupRoot, "cpuset", p)
	} else {
		p, _ := cgroupPathOf(self, "")
		dir = filepath.Join(c.Cgroup2Mount, p)
	}
	probe := filepath.Join(dir, fmt.Sprintf("codspeed-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return false, fmt.Errorf("%w: %v (%s)", ErrCgroupsUnavailable, err, cgroupFix(err))
	}
	if err := os.Remove(probe); err != nil {
		return true, fmt.Errorf("remove probe cgroup %s: %w", probe, err)
	}
	return true, nil
}

// cgroupFix says what to change when a cgroup cannot be created.
func cgroupFix(err error) string {
	switch {
	case errors.Is(err, unix.EROFS):
		return "the cgroup file system is mounted read-only, as in a default container: run with the container as the sandbox, or give the container a writable cgroup (docker run --cgroupns=private with cgroup v2, or --privileged)"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		if os.Geteuid() != 0 {
			return "run codspeed as root (sudo codspeed ...; the benchmark itself still runs as you), or start it in a delegated cgroup: systemd-run --user --scope -p Delegate=yes codspeed ..."
		}
		return "root is not allowed to write the cgroup file system here (user namespace or LSM policy): run on the host or with a delegated cgroup"
	}
	return "check that the cgroup file system is mounted and writable"
}

// detectContainer looks for the marks container engines leave: Docker's
// /.dockerenv, Podman's /run/.containerenv, the container= variable systemd
// and Podman set, and a PID 1 placed in an engine's cgroup.
func detectContainer(root string, getenv func(string) string) (bool, string) {
	for _, f := range []string{".dockerenv", "run/.containerenv"} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			return true, "/" + f + " exists"
		}
	}
	if v := getenv("container"); v != "" {
		return true, "container=" + v + " is set"
	}
	if b, err := os.ReadFile(filepath.Join(root, "proc/1/cgroup")); err == nil {
		if lines, err := ParseProcCgroup("/proc/1/cgroup", string(b)); err == nil {
			for _, l := range lines {
				for _, mark := range []string{"/docker", "/kubepods", "/containerd", "/lxc", "/libpod", "/machine.slice"} {
					if strings.Contains(l.Path, mark) {
						return true, "PID 1 is in cgroup " + l.Path
					}
				}
			}
		}
	}
	return false, ""
}

func isTracefs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == tracefsMagic
}

// Report writes the probe results for `codspeed doctor`: one line per fact,
// and for each lack what to change.
func (c Capabilities) Report(w io.Writer) error {
	var b strings.Builder
	line := func(ok bool, what, detail, fix string) {
		mark := "ok  "
		if !ok {
			mark = "MISS"
		}
		fmt.Fprintf(&b, "[%s] %-22s %s\n", mark, what, detail)
		if !ok && fix != "" {
			fmt.Fprintf(&b, "       fix: %s\n", fix)
		}
	}
	mode := c.CgroupMode.String()
	switch c.CgroupMode {
	case CgroupHybrid:
		mode += fmt.Sprintf(" (v1 controllers under %s/<controller>, cgroup2 at %s with controllers [%s]): the sandbox uses v1", cgroupRoot, c.Cgroup2Mount, strings.Join(c.Cgroup2Controllers, " "))
	case CgroupV1:
		mode += " (controllers under " + cgroupRoot + "/<controller>)"
	case CgroupV2:
		mode += fmt.Sprintf(" (unified at %s, controllers [%s])", c.Cgroup2Mount, strings.Join(c.Cgroup2Controllers, " "))
	}
	line(c.CgroupMode != CgroupUnavailable, "cgroups", mode, "mount cgroup2 at /sys/fs/cgroup")
	detail := "yes"
	if !c.CanCreateCgroups {
		detail = "no"
		if c.CgroupError != nil {
			detail = c.CgroupError.Error()
		}
	}
	line(c.CanCreateCgroups, "create cgroups", detail, "without it targets are pinned by CPU affinity only (no CPU usage or peak memory figures)")
	cpusetFix := "enable the cpuset controller: echo +cpuset > <parent>/cgroup.subtree_control (v2), or mount it (v1); pinning falls back to CPU affinity"
	line(c.CPUSet, "cpuset controller", yesNo(c.CPUSet), cpusetFix)
	line(len(c.AllowedCPUs) > 0, "CPUs", fmt.Sprintf("online %s, this process may use %s, default pin %s", c.OnlineCPUs, c.AllowedCPUs, DefaultCPUs(c.AllowedCPUs)), "")
	if len(c.AllowedCPUs) == 1 {
		line(false, "dedicated CPU", "only one CPU: the benchmark shares it with the runner", "give the runner at least two CPUs")
	}
	privileged := c.CapEff.Has(CapPerfmon) || c.CapEff.Has(CapSysAdmin)
	pOK := privileged || (c.PerfEventParanoid != paranoidUnknown && c.PerfEventParanoid <= 2)
	pDetail := strconv.Itoa(c.PerfEventParanoid)
	if c.PerfEventParanoid == paranoidUnknown {
		pDetail = "unreadable (" + paranoidPath + ")"
	}
	if privileged {
		pDetail += " (does not apply: CAP_PERFMON or CAP_SYS_ADMIN held)"
	}
	line(pOK, "perf_event_paranoid", pDetail, "sysctl -w kernel.perf_event_paranoid=2 (user-space profiling of own processes), or run as root / grant CAP_PERFMON")
	capFix := map[int]string{
		CapPerfmon:  "needed for perf sampling without a permissive perf_event_paranoid: run as root or setcap cap_perfmon+ep on the codspeed binary (Docker: --cap-add PERFMON; engines that do not know that name, such as 20.10, need SYS_ADMIN)",
		CapBPF:      "needed by the memory instrument's eBPF programs: run as root or setcap cap_bpf,cap_perfmon+ep (Docker: --cap-add BPF; engines that do not know that name need SYS_ADMIN)",
		CapSysAdmin: "covers perf and BPF on kernels before 5.8: run as root",
	}
	for _, cp := range []int{CapPerfmon, CapBPF, CapSysAdmin} {
		line(c.CapEff.Has(cp), capabilityNames[cp], yesNo(c.CapEff.Has(cp)), capFix[cp])
	}
	if c.InContainer {
		fmt.Fprintf(&b, "[info] %-22s yes (%s): when cgroups cannot be created the container is taken as the sandbox\n", "in container", c.ContainerEvidence)
	} else {
		fmt.Fprintf(&b, "[info] %-22s no\n", "in container")
	}
	line(c.TracefsMounted, "tracefs", yesNo(c.TracefsMounted), "mount -t tracefs nodev "+tracefsPath+" (only tracepoint-based probes need it)")
	line(c.BTF, "BTF", yesNo(c.BTF), "the kernel lacks "+btfPath+": use a kernel built with CONFIG_DEBUG_INFO_BTF=y (the memory instrument needs it)")
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// InContainer reports whether this process runs in a container, and the
// evidence (the same test Probe makes).
func InContainer() (bool, string) { return detectContainer("/", os.Getenv) }
