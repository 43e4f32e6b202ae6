package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroupV2 is one sandbox cgroup in the unified hierarchy, below this
// process's own cgroup. Children are cloned straight into it (clone3 with
// CLONE_INTO_CGROUP, exec.Cmd's UseCgroupFD), so no thread ever migrates.
type cgroupV2 struct {
	m     *cgroup2.Manager
	mount string
	group string // path below mount
	dir   string
	fd    *os.File
}

// newCgroupV2 creates the cgroup. Controllers the parent does not offer are
// left out and reported in missing (cpuset and memory often are, for instance
// when they are bound to v1 on a hybrid host); the caller warns and pins by
// affinity instead.
func newCgroupV2(mount, name string, res *specs.LinuxResources) (c *cgroupV2, missing []string, err error) {
	self, err := ReadProcCgroup(0)
	if err != nil {
		return nil, nil, err
	}
	own, ok := cgroupPathOf(self, "")
	if !ok {
		return nil, nil, fmt.Errorf("%w: this process is in no cgroup2 cgroup", ErrCgroupsUnavailable)
	}
	avail := readControllers(filepath.Join(mount, own))
	// Only controllers the parent offers may be enabled (cgroup.subtree_control
	// refuses others with ENOENT), so the resources are built here rather
	// than by cgroup2.ToResources, which always asks for "cpu" too.
	r := &cgroup2.Resources{}
	if contains(avail, "memory") {
		r.Memory = &cgroup2.Memory{}
		if res.Memory != nil && res.Memory.Limit != nil {
			r.Memory.Max = res.Memory.Limit
		}
	} else {
		missing = append(missing, "memory")
	}
	var cpus, mems string
	if res.CPU != nil {
		cpus, mems = res.CPU.Cpus, res.CPU.Mems
	}
	useCpuset := contains(avail, "cpuset")
	if !useCpuset && (cpus != "" || mems != "") {
		missing = append(missing, "cpuset")
	}
	group := filepath.Join(own, name)
	m, err := cgroup2.NewManager(mount, group, r)
	if err == nil && useCpuset {
		err = m.ToggleControllers([]string{"cpuset"}, cgroup2.Enable)
		// Written before any process can join.
		for _, v := range []struct{ file, value string }{{"cpuset.cpus", cpus}, {"cpuset.mems", mems}} {
			if err == nil && v.value != "" {
				err = os.WriteFile(filepath.Join(mount, group, v.file), []byte(v.value), 0)
			}
		}
		if err != nil {
			_ = m.Delete()
		}
	}
	if err != nil {
		err = fmt.Errorf("create cgroup2 cgroup %s: %w", group, err)
		switch {
		case isPermission(err):
			return nil, nil, fmt.Errorf("%w: %v (%s)", ErrCgroupsUnavailable, err, cgroupFix(err))
		case errors.Is(err, unix.EBUSY):
			return nil, nil, fmt.Errorf("%w: %v (cgroup2 lets a cgroup that holds processes give no controllers to its children: start codspeed in its own leaf cgroup, for example systemd-run --scope -p Delegate=yes codspeed ...)", ErrCgroupsUnavailable, err)
		}
		return nil, nil, err
	}
	dir := filepath.Join(mount, group)
	fd, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = m.Delete()
		return nil, nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	return &cgroupV2{m: m, mount: mount, group: group, dir: dir, fd: fd}, missing, nil
}

func (c *cgroupV2) path() string { return c.group }

func (c *cgroupV2) mems() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "cpuset.mems.effective"))
	return strings.TrimSpace(string(b))
}

func (c *cgroupV2) usage() (cpuNs, peakBytes int64) {
	if b, err := os.ReadFile(filepath.Join(c.dir, "cpu.stat")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					cpuNs = n * 1000
				}
			}
		}
	}
	peakBytes, _ = readInt(filepath.Join(c.dir, "memory.peak"))
	return cpuNs, peakBytes
}

func (c *cgroupV2) procs() ([]int, error) {
	return readPids(filepath.Join(c.dir, "cgroup.procs"))
}

// kill uses cgroup.kill (Linux 5.14+), which also reaches processes forked
// while it runs, then makes sure by signalling what is left.
func (c *cgroupV2) kill() error {
	_ = os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0)
	return killAll(c.procs)
}

func (c *cgroupV2) remove() error {
	_ = c.fd.Close()
	if err := c.m.Delete(); err != nil {
		return fmt.Errorf("remove cgroup %s: %w", c.group, err)
	}
	return nil
}

// placement is nil: children are cloned into the cgroup, the launcher thread
// only carries the affinity.
func (c *cgroupV2) placement() threadPlacement { return nil }
