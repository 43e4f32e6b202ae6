package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/results"
)

// Sandbox kinds, as written in results.Sandbox.Kind.
const (
	KindLocal     = "local"     // own cgroup + pinned CPUs
	KindAffinity  = "affinity"  // pinned CPUs only
	KindContainer = "container" // inside an isolating container, pinned CPUs only
)

// EnvContainerSandbox, set to 1 by whoever started this runner inside a
// container made for one target (the Docker sandbox does), says the container
// is the sandbox: New then pins by affinity only and makes no cgroup.
const EnvContainerSandbox = "CODSPEED_SANDBOX_CONTAINER"

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("sandbox closed")

var errROFS = unix.EROFS

// LocalOptions tune the local sandbox; the zero value decides everything from
// the host.
type LocalOptions struct {
	// CgroupVersion forces 1 or 2; 0 uses v1 on v1 and hybrid hosts (where
	// the controllers live) and v2 on unified hosts.
	CgroupVersion int
	// Cgroup2Mount is where the unified hierarchy is mounted (default: the
	// host's, /sys/fs/cgroup or /sys/fs/cgroup/unified).
	Cgroup2Mount string
	// AffinityOnly skips cgroups: the target is only pinned to its CPUs.
	AffinityOnly bool
	// Name of the cgroup to create; default codspeed-<pid>-<sequence>.
	Name string
}

// cgroupBackend is a created cgroup of either version.
type cgroupBackend interface {
	path() string
	mems() string
	usage() (cpuNs, peakBytes int64)
	kill() error
	remove() error
	placement() threadPlacement
}

// local runs targets as child processes of this runner, pinned to CPUs and,
// for KindLocal, inside their own cgroup.
type local struct {
	kind     string
	cpus     CPUSet
	memLimit int64
	cred     *syscall.Credential
	cg       cgroupBackend
	v2fd     int // cgroup2 directory to clone children into, -1 if none
	l        *launcher

	mu       sync.Mutex
	closed   bool
	forkedAt time.Time // of the last Start
}

var cgroupSeq atomic.Int64

// New decides where targets run, in this order: inside a container that is
// the sandbox (EnvContainerSandbox, or a container whose cgroups cannot be
// created) by affinity only ("already isolated"); with o.AffinityOnly by
// affinity only; in an own cgroup when this process can create one; by
// affinity only otherwise. The warnings say what was chosen when it is less
// than a cgroup, and what to change. Errors are for requests no sandbox can
// honour (CPUs this process may not use, a user it cannot switch to).
func New(spec *specs.Spec, o LocalOptions) (Sandbox, []string, error) {
	caps := Probe()
	if os.Getenv(EnvContainerSandbox) == "1" || (caps.InContainer && !caps.CanCreateCgroups && !o.AffinityOnly) {
		why := caps.ContainerEvidence
		if os.Getenv(EnvContainerSandbox) == "1" {
			why = EnvContainerSandbox + "=1"
		}
		s, err := newPinned(spec, KindContainer)
		if err != nil {
			return nil, nil, err
		}
		return s, []string{fmt.Sprintf("running inside a container (%s): already isolated, the target is pinned by CPU affinity only", why)}, nil
	}
	if o.AffinityOnly {
		s, err := newPinned(spec, KindAffinity)
		if err != nil {
			return nil, nil, err
		}
		return s, []string{"cgroups not used (affinity only requested): the target is pinned by CPU affinity only; no CPU usage or peak memory figures"}, nil
	}
	var warnings []string
	if caps.CanCreateCgroups {
		s, w, err := NewLocalWarn(spec, o)
		if err == nil {
			return s, w, nil
		}
		if !errors.Is(err, ErrCgroupsUnavailable) {
			return nil, nil, err
		}
		caps.CgroupError = err
	}
	s, err := newPinned(spec, KindAffinity)
	if err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, fmt.Sprintf("no cgroup for the target (%v): it is pinned by CPU affinity only, without CPU usage or peak memory figures", caps.CgroupError))
	return s, warnings, nil
}

// NewLocal creates a cgroup for one target and a launcher that starts
// processes in it; see NewLocalWarn, which also returns what could not be
// applied.
func NewLocal(spec *specs.Spec, o LocalOptions) (Sandbox, error) {
	s, _, err := NewLocalWarn(spec, o)
	return s, err
}

// NewLocalWarn creates the sandbox cgroup described by spec (CPUs, memory
// limit), named o.Name, next to this process's cgroup, and records its path
// and memory nodes in spec.Linux. On a cgroup2 hierarchy that lacks a
// controller the spec asks for, the cgroup is made without it and a warning
// says so (CPUs are then pinned by affinity, which the launcher always sets).
// Errors wrap ErrCgroupsUnavailable when this process may not create cgroups.
// The caller owns the sandbox and must Close it.
func NewLocalWarn(spec *specs.Spec, o LocalOptions) (Sandbox, []string, error) {
	if o.AffinityOnly {
		s, err := newPinned(spec, KindAffinity)
		return s, nil, err
	}
	s, err := prepare(spec, KindLocal)
	if err != nil {
		return nil, nil, err
	}
	name := o.Name
	if name == "" {
		name = fmt.Sprintf("codspeed-%d-%d", os.Getpid(), cgroupSeq.Add(1))
	}
	res := &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: s.cpus.String()}}
	if spec.Linux != nil && spec.Linux.Resources != nil && spec.Linux.Resources.CPU != nil {
		res.CPU.Mems = spec.Linux.Resources.CPU.Mems
	}
	if s.memLimit > 0 {
		limit := s.memLimit
		res.Memory = &specs.LinuxMemory{Limit: &limit}
	}
	version := o.CgroupVersion
	mode := hostCgroupMode()
	if version == 0 {
		switch mode {
		case CgroupV1, CgroupHybrid:
			version = 1
		case CgroupV2:
			version = 2
		default:
			return nil, nil, fmt.Errorf("%w: no cgroup file system at %s", ErrCgroupsUnavailable, cgroupRoot)
		}
	}
	var warnings []string
	mount := o.Cgroup2Mount
	if mount == "" {
		mount = cgroupRoot
		if mode == CgroupHybrid {
			mount = hybridUnified
		}
	}
	// Cgroups left by runners that were killed (SIGKILL, OOM killer) are
	// ended and removed first, with whatever still runs in them.
	if err := removeStale(staleParents(version, mount)); err != nil {
		warnings = append(warnings, err.Error())
	}
	switch version {
	case 1:
		cg, err := newCgroupV1(name, res)
		if err != nil {
			return nil, nil, err
		}
		s.cg = cg
	case 2:
		cg, missing, err := newCgroupV2(mount, name, res)
		if err != nil {
			return nil, nil, err
		}
		s.cg = cg
		s.v2fd = int(cg.fd.Fd())
		for _, m := range missing {
			switch m {
			case "cpuset":
				warnings = append(warnings, "the cgroup2 hierarchy offers no cpuset controller: CPUs pinned by affinity only (enable it with echo +cpuset > <parent>/cgroup.subtree_control)")
			case "memory":
				msg := "the cgroup2 hierarchy offers no memory controller: no peak memory figure"
				if s.memLimit > 0 {
					msg += " and the memory limit is not applied"
				}
				warnings = append(warnings, msg+" (enable it with echo +memory > <parent>/cgroup.subtree_control)")
			}
		}
	default:
		return nil, nil, fmt.Errorf("cgroup version %d: want 1 or 2", version)
	}
	s.l, err = startLauncher(s.cpus, s.cg.placement())
	if err != nil {
		_ = s.cg.remove()
		return nil, nil, fmt.Errorf("start launcher in cgroup %s: %w", s.cg.path(), err)
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	spec.Linux.CgroupsPath = s.cg.path()
	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	spec.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: s.cpus.String(), Mems: s.cg.mems()}
	return s, warnings, nil
}

// newPinned makes an affinity-only sandbox of the given kind.
func newPinned(spec *specs.Spec, kind string) (*local, error) {
	s, err := prepare(spec, kind)
	if err != nil {
		return nil, err
	}
	if s.l, err = startLauncher(s.cpus, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// prepare checks what spec asks of any local sandbox: CPUs this process may
// use, and a user it can run the target as.
func prepare(spec *specs.Spec, kind string) (*local, error) {
	s := &local{kind: kind, v2fd: -1}
	allowed, err := AllowedCPUs()
	if err != nil {
		return nil, err
	}
	var list string
	if spec.Linux != nil && spec.Linux.Resources != nil {
		if cpu := spec.Linux.Resources.CPU; cpu != nil {
			list = cpu.Cpus
		}
		if m := spec.Linux.Resources.Memory; m != nil && m.Limit != nil {
			s.memLimit = *m.Limit
		}
	}
	if s.cpus, err = ParseCPUSet(list); err != nil {
		return nil, fmt.Errorf("sandbox cpus: %w", err)
	}
	if len(s.cpus) == 0 {
		s.cpus = DefaultCPUs(allowed)
	}
	if !allowed.Contains(s.cpus) {
		return nil, fmt.Errorf("%w: CPUs %s asked, this process may run on %s only (choose among them with --cpus)", ErrCPUsUnavailable, s.cpus, allowed)
	}
	if spec.Process != nil {
		u := spec.Process.User
		euid := os.Geteuid()
		switch {
		case int(u.UID) == euid && int(u.GID) == os.Getegid():
		case euid == 0:
			s.cred = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.AdditionalGids}
		default:
			return nil, fmt.Errorf("run the target as uid %d gid %d: only root can switch users (this process runs as uid %d)", u.UID, u.GID, euid)
		}
	}
	return s, nil
}

// Start starts cmd from the launcher thread, so the child is born pinned and,
// for KindLocal, inside the cgroup. It fills in cmd.SysProcAttr (creating it
// when nil): the user of the spec's process when it differs from this one
// (Credential, unless the caller set one) and, on cgroup2, CgroupFD. The
// caller waits on cmd.
// ForkThread is the launcher thread's id: every process of the sandbox is
// forked by it (instruments.ThreadLauncher), so a profiler can follow them by
// inheritance from that thread.
func (s *local) ForkThread() int { return s.l.tid }

// RunsAs is the user the sandbox's processes run as
// (instruments.RunsAs).
func (s *local) RunsAs() (uid, gid int) {
	if s.cred != nil {
		return int(s.cred.Uid), int(s.cred.Gid)
	}
	return os.Geteuid(), os.Getegid()
}

func (s *local) Start(cmd *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.SysProcAttr.Pdeathsig == 0 {
		// The target dies with the runner, even if the runner is killed
		// (the signal follows the launcher thread, which lives as long as
		// the runner or the sandbox).
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if s.cred != nil && cmd.SysProcAttr.Credential == nil {
		c := *s.cred
		cmd.SysProcAttr.Credential = &c
	}
	if s.v2fd >= 0 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = s.v2fd
	}
	at, err := s.l.start(cmd)
	s.forkedAt = at
	return err
}

// ForkedAt is when the last Start forked, read on the launcher thread just
// before the fork (instruments.ForkClock): a round timed from there leaves
// out the hand-off to that thread.
func (s *local) ForkedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forkedAt
}

// Usage reports the cgroup's CPU time and peak memory so far (zero for the
// affinity kinds, which have no cgroup to read).
func (s *local) Usage() results.Sandbox {
	u := results.Sandbox{Kind: s.kind, CPUs: s.cpus.String(), MemoryLimitBytes: s.memLimit}
	if s.cg != nil {
		u.Cgroup = s.cg.path()
		u.CPUUsageNs, u.PeakMemoryBytes = s.cg.usage()
	}
	return u
}

// Close takes the launcher thread out of the cgroup, kills what is left in
// it and removes it. Close is idempotent.
func (s *local) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if err := s.l.stop(); err != nil {
		errs = append(errs, err)
	}
	if s.cg != nil {
		if err := s.cg.kill(); err != nil {
			errs = append(errs, err)
		}
		if err := s.cg.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sandbox: %w", err)
	}
	return nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func readPids(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// killAll SIGKILLs the processes procs lists until it lists none, for up to
// five seconds (processes forked meanwhile are caught by the next pass).
// This process is never signalled: should a launcher thread fail to leave,
// the runtime ends that thread and the listing drops this PID.
func killAll(procs func() ([]int, error)) error {
	self := os.Getpid()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still in the sandbox cgroup after SIGKILL", pids)
		}
		for _, p := range pids {
			if p != self {
				_ = unix.Kill(p, unix.SIGKILL)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}
