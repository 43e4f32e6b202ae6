package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v1Controllers are the hierarchies a v1 sandbox joins: cpuset pins,
// cpuacct counts CPU time, memory limits and measures peak memory. The
// others (devices, freezer, ...) would only add migrations to every join.
var v1Controllers = []cgroup1.Name{cgroup1.Cpuset, cgroup1.Cpuacct, cgroup1.Memory}

// cgroupV1 is one sandbox cgroup, created in each of v1Controllers next to
// this process's own cgroup there (so it stays under whatever limits the
// runner itself is under).
type cgroupV1 struct {
	cg   cgroup1.Cgroup
	dirs map[cgroup1.Name]string // absolute directory per controller
	// orig are the launcher thread's cgroup directories before enter.
	orig map[cgroup1.Name]string
}

func newCgroupV1(name string, res *specs.LinuxResources) (*cgroupV1, error) {
	self, err := ReadProcCgroup(0)
	if err != nil {
		return nil, err
	}
	want := map[cgroup1.Name]bool{}
	for _, n := range v1Controllers {
		want[n] = true
	}
	hier := func() ([]cgroup1.Subsystem, error) {
		all, err := cgroup1.Default()
		if err != nil {
			return nil, err
		}
		var keep []cgroup1.Subsystem
		for _, s := range all {
			if want[s.Name()] {
				keep = append(keep, s)
			}
		}
		return keep, nil
	}
	path := cgroup1.NestedPath(name)
	c := &cgroupV1{dirs: map[cgroup1.Name]string{}}
	for _, n := range v1Controllers {
		p, ok := cgroupPathOf(self, string(n))
		if !ok {
			return nil, fmt.Errorf("%w: the v1 %s controller is not mounted (mount it at %s/%s)", ErrCgroupsUnavailable, n, cgroupRoot, n)
		}
		c.dirs[n] = filepath.Join(cgroupRoot, string(n), p, name)
	}
	// cgroup1.New writes cpuset.cpus and cpuset.mems (copying the parent's
	// mems when res names none) before anything can join, as v1 requires.
	cg, err := cgroup1.New(path, res, cgroup1.WithHierarchy(hier))
	if err != nil {
		err = fmt.Errorf("create v1 cgroup %s: %w", name, err)
		if isPermission(err) {
			return nil, fmt.Errorf("%w: %v (%s)", ErrCgroupsUnavailable, err, cgroupFix(err))
		}
		return nil, err
	}
	c.cg = cg
	return c, nil
}

func isPermission(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, errROFS)
}

func (c *cgroupV1) path() string {
	return strings.TrimPrefix(c.dirs[cgroup1.Cpuset], cgroupRoot)
}

// mems is the memory node list the kernel holds for the cgroup.
func (c *cgroupV1) mems() string {
	b, _ := os.ReadFile(filepath.Join(c.dirs[cgroup1.Cpuset], "cpuset.mems"))
	return strings.TrimSpace(string(b))
}

// enter moves one thread (not its whole process: v1 allows that) into the
// cgroup in every controller, remembering where it was.
func (c *cgroupV1) enter(tid int) error {
	lines, err := ReadProcCgroup(tid)
	if err != nil {
		return err
	}
	c.orig = map[cgroup1.Name]string{}
	for _, n := range v1Controllers {
		p, _ := cgroupPathOf(lines, string(n))
		c.orig[n] = filepath.Join(cgroupRoot, string(n), p)
	}
	for _, n := range v1Controllers {
		if err := writeTask(c.dirs[n], tid); err != nil {
			return err
		}
	}
	return nil
}

func (c *cgroupV1) leave(tid int) error {
	var errs []error
	for _, n := range v1Controllers {
		if d, ok := c.orig[n]; ok {
			if err := writeTask(d, tid); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func writeTask(dir string, tid int) error {
	f := filepath.Join(dir, "tasks")
	if err := os.WriteFile(f, []byte(strconv.Itoa(tid)), 0); err != nil {
		return fmt.Errorf("move thread %d to %s: %w", tid, dir, err)
	}
	return nil
}

func (c *cgroupV1) usage() (cpuNs, peakBytes int64) {
	cpuNs, _ = readInt(filepath.Join(c.dirs[cgroup1.Cpuacct], "cpuacct.usage"))
	peakBytes, _ = readInt(filepath.Join(c.dirs[cgroup1.Memory], "memory.max_usage_in_bytes"))
	return cpuNs, peakBytes
}

func (c *cgroupV1) procs() ([]int, error) {
	return readPids(filepath.Join(c.dirs[cgroup1.Cpuacct], "cgroup.procs"))
}

func (c *cgroupV1) kill() error {
	return killAll(c.procs)
}

func (c *cgroupV1) remove() error {
	if err := c.cg.Delete(); err != nil {
		return fmt.Errorf("remove cgroup %s: %w", c.path(), err)
	}
	return nil
}

func (c *cgroupV1) placement() threadPlacement { return c }
