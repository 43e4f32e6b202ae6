package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Options say what a target needs from the place it runs in. NewSpec turns
// them into the OCI runtime-spec that every sandbox (local cgroup, affinity,
// Docker) is built from, so one description says where a run happened.
type Options struct {
	// Args, Env and Cwd describe the benchmark process.
	Args []string
	Env  []string
	Cwd  string
	// CPUs is a cpuset list ("1", "2-3"); empty picks DefaultCPUs of the
	// CPUs this process may use.
	CPUs string
	// MemoryLimitBytes caps the target's memory; 0 means no limit.
	MemoryLimitBytes int64
	// User runs the benchmark process; nil means the invoking user (see
	// InvokingUser).
	User *specs.User
	// Capabilities the benchmark process holds; nil means what it will
	// actually hold: the bounding set when it runs as root, none when it runs
	// as another user.
	Capabilities *specs.LinuxCapabilities
	// Mounts the benchmark sees beyond the host's file system (the Docker
	// sandbox adds its volumes here).
	Mounts   []specs.Mount
	Hostname string
}

// NewSpec describes where a target runs. Host facts it needs (the CPUs this
// process may use, the invoking user, the capability bounding set) are read
// here; when one cannot be read the field is left empty and the sandbox that
// consumes the spec reports the problem. The caller owns the returned spec;
// NewLocal records the cgroup it creates in Linux.CgroupsPath and the memory
// nodes in Linux.Resources.CPU.Mems, so write the spec after creating the
// sandbox.
func NewSpec(opts Options) *specs.Spec {
	cpus := opts.CPUs
	if cpus == "" {
		if allowed, err := AllowedCPUs(); err == nil {
			cpus = DefaultCPUs(allowed).String()
		}
	}
	u := InvokingUser(os.Getenv, os.Geteuid(), os.Getegid())
	if opts.User != nil {
		u = *opts.User
	}
	caps := opts.Capabilities
	if caps == nil {
		caps = processCapabilities(u)
	}
	env := opts.Env
	if env == nil {
		env = []string{}
	}
	res := &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: cpus}}
	if opts.MemoryLimitBytes > 0 {
		limit := opts.MemoryLimitBytes
		res.Memory = &specs.LinuxMemory{Limit: &limit}
	}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			User:         u,
			Args:         append([]string(nil), opts.Args...),
			Env:          append([]string(nil), env...),
			Cwd:          opts.Cwd,
			Capabilities: caps,
		},
		Root:     &specs.Root{Path: "/"},
		Hostname: opts.Hostname,
		Mounts:   append([]specs.Mount(nil), opts.Mounts...),
		Linux:    &specs.Linux{Resources: res},
	}
}

// InvokingUser is the user the benchmark runs as: the user who ran sudo when
// this process is root and SUDO_UID/SUDO_GID are set (the benchmark should not
// run with the privileges the instruments need), this process's effective
// user otherwise. Supplementary groups are looked up in the user database and
// left empty when it does not know the user.
func InvokingUser(getenv func(string) string, euid, egid int) specs.User {
	u := specs.User{UID: uint32(euid), GID: uint32(egid)}
	if euid == 0 {
		uid, errU := strconv.ParseUint(getenv("SUDO_UID"), 10, 32)
		gid, errG := strconv.ParseUint(getenv("SUDO_GID"), 10, 32)
		if errU == nil && errG == nil {
			u = specs.User{UID: uint32(uid), GID: uint32(gid)}
		}
	}
	if pw, err := user.LookupId(strconv.FormatUint(uint64(u.UID), 10)); err == nil {
		u.Username = pw.Username
		if gids, err := pw.GroupIds(); err == nil {
			for _, g := range gids {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil && uint32(n) != u.GID {
					u.AdditionalGids = append(u.AdditionalGids, uint32(n))
				}
			}
		}
	}
	return u
}

// processCapabilities is what a process exec'd as u holds: root keeps the
// bounding set in all of its sets; any other user holds none (exec by a
// non-root user without file capabilities clears them).
func processCapabilities(u specs.User) *specs.LinuxCapabilities {
	bnd, err := readCapabilitySet("/proc/self/status", "CapBnd")
	if err != nil {
		return &specs.LinuxCapabilities{}
	}
	names := bnd.Names()
	if u.UID != 0 {
		return &specs.LinuxCapabilities{Bounding: names}
	}
	return &specs.LinuxCapabilities{Bounding: names, Effective: names, Permitted: names}
}

// WriteSpec writes spec as indented JSON (the config.json of an OCI bundle)
// to path, creating its directory; it is written next to the results so a
// run can be reproduced.
func WriteSpec(path string, spec *specs.Spec) error {
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode runtime spec: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return fmt.Errorf("write runtime spec: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o666); err != nil {
		return fmt.Errorf("write runtime spec: %w", err)
	}
	return nil
}

// ReadSpec reads a spec written by WriteSpec.
func ReadSpec(path string) (*specs.Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read runtime spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read runtime spec %s: %w", path, err)
	}
	return &s, nil
}
