package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	_ "embed"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Fixed paths inside every benchmark container.
const (
	// RunnerPath is where the runner binary is mounted (read-only). A
	// different name than the image's own codspeed, so the runner image can
	// also be a benchmark image.
	RunnerPath = "/usr/local/bin/codspeed-runner"
	// ProfileDir is where the profile folder is mounted; pass it to the runner
	// as --profile-folder so results, perf maps and unwind data land on the
	// host.
	ProfileDir = "/codspeed/profile"
)

// Annotations the effective spec carries for settings a runtime-spec has no
// field for.
const (
	AnnotationImage        = "org.codspeed-go.image"
	AnnotationNetwork      = "org.codspeed-go.network" // "none" or "bridge"
	AnnotationCgroupParent = "org.codspeed-go.cgroup-parent"
	AnnotationMode         = "org.codspeed-go.mode"
	AnnotationCapReason    = "org.codspeed-go.capabilities"
	// AnnotationRun, when the base spec sets it, is copied to a container
	// label of the same name, so the containers of one run can be listed.
	AnnotationRun = "org.codspeed-go.run"
)

// labelSandbox marks every container this package creates, so a leftover can
// be found (`docker ps -a --filter label=org.codspeed-go.sandbox`).
const labelSandbox = "org.codspeed-go.sandbox"

// defaultCaps is the capability set Docker gives a container that asks for
// nothing (moby's oci/caps defaults). The spec lists capabilities in full;
// the HostConfig only says what differs from this set.
var defaultCaps = []string{
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// seccompProfile is the engine's default profile plus perf_event_open and bpf
// (see internal/genseccomp). It is also the file compose.yaml and the README
// hand to `docker run --security-opt seccomp=`.
//
//go:embed seccomp.json
var seccompProfile string

// SeccompProfile returns the seccomp profile (Docker's JSON format, with
// capability conditions) that benchmark containers run under.
func SeccompProfile() string { return seccompProfile }

// Mount is a host directory bind-mounted into the container.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// ErrInvalidSpec is wrapped when a spec or RunOptions cannot describe a
// container (a relative path, a missing image).
var ErrInvalidSpec = errors.New("invalid container spec")

// EffectiveSpec returns the spec a target's container runs with: a deep copy
// of base (its process args, env, cwd, resources and mounts are kept) with
// RunOptions applied on top: the runner binary, profile folder and workspace
// mounts, the CPU set, memory limit and cgroup parent when set, the mode's
// capabilities and the seccomp profile expanded for them. The caller owns
// the result; it is what is stored with the results.
func EffectiveSpec(base *specs.Spec, ro RunOptions, plan CapabilityPlan) (*specs.Spec, error) {
	s, err := copySpec(base)
	if err != nil {
		return nil, err
	}
	if ro.Image == "" {
		return nil, fmt.Errorf("%w: no image", ErrInvalidSpec)
	}
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[AnnotationImage] = ro.Image
	s.Annotations[AnnotationMode] = ro.Mode
	s.Annotations[AnnotationCapReason] = plan.Reason

	add := func(m Mount) error {
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
			return fmt.Errorf("%w: mount %s:%s: both paths must be absolute", ErrInvalidSpec, m.Source, m.Target)
		}
		opts := []string{"rbind"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = slices.DeleteFunc(s.Mounts, func(x specs.Mount) bool { return x.Destination == m.Target })
		s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: opts})
		return nil
	}
	if ro.RunnerBinary != "" {
		if err := add(Mount{Source: ro.RunnerBinary, Target: RunnerPath, ReadOnly: true}); err != nil {
			return nil, err
		}
		s.Process.Args = append([]string{RunnerPath}, ro.RunnerArgs...)
	} else if len(ro.RunnerArgs) > 0 {
		return nil, fmt.Errorf("%w: runner arguments given without a runner binary", ErrInvalidSpec)
	}
	if len(s.Process.Args) == 0 {
		return nil, fmt.Errorf("%w: no process arguments and no runner binary", ErrInvalidSpec)
	}
	if ro.ProfileVolume != "" {
		if err := add(Mount{Source: ro.ProfileVolume, Target: ProfileDir}); err != nil {
			return nil, err
		}
	}
	if ro.Workspace != nil {
		if err := add(*ro.Workspace); err != nil {
			return nil, err
		}
		if s.Process.Cwd == "" {
			s.Process.Cwd = ro.Workspace.Target
		}
	}

	if ro.CPUs != "" || ro.MemoryLimit > 0 {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
	}
	if ro.CPUs != "" {
		if s.Linux.Resources.CPU == nil {
			s.Linux.Resources.CPU = &specs.LinuxCPU{}
		}
		s.Linux.Resources.CPU.Cpus = ro.CPUs
	}
	if ro.MemoryLimit > 0 {
		if s.Linux.Resources.Memory == nil {
			s.Linux.Resources.Memory = &specs.LinuxMemory{}
		}
		lim := ro.MemoryLimit
		s.Linux.Resources.Memory.Limit = &lim
		s.Linux.Resources.Memory.Swap = &lim // no swap: a swapping benchmark measures the disk
	}
	if ro.CgroupParent != "" {
		s.Annotations[AnnotationCgroupParent] = ro.CgroupParent
	}
	if ro.Network {
		s.Annotations[AnnotationNetwork] = "bridge"
	} else {
		s.Annotations[AnnotationNetwork] = "none"
	}
	s.Linux.Namespaces = []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
	}

	caps := slices.Clone(defaultCaps)
	caps = append(caps, plan.Add...)
	slices.Sort(caps)
	caps = slices.Compact(caps)
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps,
	}
	s.Process.NoNewPrivileges = true
	// The profile's capability conditions are expanded here, for the record
	// and for the engine: the spec is the one source of the container's
	// settings.
	sc, err := seccomp.LoadProfile(seccompProfile, s)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	s.Linux.Seccomp = sc
	return s, nil
}

func copySpec(base *specs.Spec) (*specs.Spec, error) {
	s := &specs.Spec{Version: specs.Version}
	if base == nil {
		return s, nil
	}
	b, err := json.Marshal(base)
	if err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("copy spec: %w", err)
	}
	if s.Version == "" {
		s.Version = specs.Version
	}
	return s, nil
}

// ContainerConfig translates an effective spec into the engine's container
// Config and HostConfig. Everything comes from the spec; nothing is added
// here, so the stored spec is a full account of the container.
func ContainerConfig(s *specs.Spec) (*container.Config, *container.HostConfig, error) {
	if s == nil || s.Process == nil || len(s.Process.Args) == 0 {
		return nil, nil, fmt.Errorf("%w: no process", ErrInvalidSpec)
	}
	image := s.Annotations[AnnotationImage]
	if image == "" {
		return nil, nil, fmt.Errorf("%w: no %s annotation", ErrInvalidSpec, AnnotationImage)
	}
	cfg := &container.Config{
		Image:      image,
		Entrypoint: s.Process.Args[:1],
		Cmd:        s.Process.Args[1:],
		Env:        s.Process.Env,
		WorkingDir: s.Process.Cwd,
		Labels:     map[string]string{labelSandbox: "docker", AnnotationMode: s.Annotations[AnnotationMode]},
	}
	if r := s.Annotations[AnnotationRun]; r != "" {
		cfg.Labels[AnnotationRun] = r
	}
	if u := s.Process.User; u.UID != 0 || u.GID != 0 {
		cfg.User = fmt.Sprintf("%d:%d", u.UID, u.GID)
	}
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(s.Annotations[AnnotationNetwork]),
		Privileged:  false,
	}
	hc.CgroupParent = s.Annotations[AnnotationCgroupParent]
	if hc.NetworkMode == "" {
		hc.NetworkMode = "none"
	}
	for _, m := range s.Mounts {
		if m.Type != "bind" {
			return nil, nil, fmt.Errorf("%w: mount %s: type %q (only bind mounts are supported)", ErrInvalidSpec, m.Destination, m.Type)
		}
		hc.Mounts = append(hc.Mounts, mount.Mount{
			Type: mount.TypeBind, Source: m.Source, Target: m.Destination,
			ReadOnly: slices.Contains(m.Options, "ro"),
		})
	}
	if r := s.Linux.Resources; r != nil {
		if r.CPU != nil {
			hc.CpusetCpus = r.CPU.Cpus
			hc.CpusetMems = r.CPU.Mems
		}
		if r.Memory != nil {
			if r.Memory.Limit != nil {
				hc.Memory = *r.Memory.Limit
			}
			if r.Memory.Swap != nil {
				hc.MemorySwap = *r.Memory.Swap
			}
		}
		if r.Pids != nil && r.Pids.Limit != nil {
			l := *r.Pids.Limit
			hc.PidsLimit = &l
		}
	}
	if c := s.Process.Capabilities; c != nil {
		for _, capName := range c.Bounding {
			if !slices.Contains(defaultCaps, capName) {
				hc.CapAdd = append(hc.CapAdd, capName)
			}
		}
		for _, capName := range defaultCaps {
			if !slices.Contains(c.Bounding, capName) {
				hc.CapDrop = append(hc.CapDrop, capName)
			}
		}
	}
	if s.Process.NoNewPrivileges {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	if s.Linux.Seccomp == nil {
		return nil, nil, fmt.Errorf("%w: no seccomp profile (benchmark containers never run unconfined)", ErrInvalidSpec)
	}
	sc, err := json.Marshal(s.Linux.Seccomp)
	if err != nil {
		return nil, nil, fmt.Errorf("seccomp profile: %w", err)
	}
	hc.SecurityOpt = append(hc.SecurityOpt, "seccomp="+string(sc))
	return cfg, hc, nil
}

// capList renders capabilities for a log line.
func capList(caps []string) string {
	if len(caps) == 0 {
		return "none"
	}
	return strings.Join(caps, ",")
}
