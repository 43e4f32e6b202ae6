package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// staleName matches the cgroups NewLocalWarn names by default:
// codspeed-<runner pid>-<sequence>.
var staleName = regexp.MustCompile(`^codspeed-([0-9]+)-[0-9]+$`)

// staleParents are the directories this process's sandbox cgroups are made
// in: next to its own cgroup, in each v1 controller or in the unified
// hierarchy.
func staleParents(version int, mount string) []string {
	self, err := ReadProcCgroup(0)
	if err != nil {
		return nil
	}
	if version == 2 {
		own, ok := cgroupPathOf(self, "")
		if !ok {
			return nil
		}
		return []string{filepath.Join(mount, own)}
	}
	var dirs []string
	for _, n := range v1Controllers {
		if p, ok := cgroupPathOf(self, string(n)); ok {
			dirs = append(dirs, filepath.Join(cgroupRoot, string(n), p))
		}
	}
	return dirs
}

// removeStale ends and removes the sandbox cgroups of runners that died
// without closing them (a runner killed by SIGKILL cannot): their processes
// are killed (a target's grandchildren outlive the parent-death signal,
// which reaches direct children only) and the cgroups removed. A cgroup whose
// runner is alive is left alone. It returns what it could not clean.
func removeStale(parents []string) error {
	var errs []error
	for _, parent := range parents {
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			m := staleName.FindStringSubmatch(e.Name())
			if m == nil || !e.IsDir() {
				continue
			}
			pid, _ := strconv.Atoi(m[1])
			if pid <= 0 || pid == os.Getpid() || alive(pid) {
				continue
			}
			dir := filepath.Join(parent, e.Name())
			if err := removeCgroupDir(dir); err != nil {
				errs = append(errs, fmt.Errorf("stale cgroup %s of dead runner %d: %w", dir, pid, err))
			}
		}
	}
	return errors.Join(errs...)
}

func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// removeCgroupDir kills what is left in one cgroup directory (v1 or v2) and
// removes it; child cgroups are not expected (sandbox cgroups have none).
func removeCgroupDir(dir string) error {
	_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	if err := killAll(func() ([]int, error) { return readPids(filepath.Join(dir, "cgroup.procs")) }); err != nil {
		return err
	}
	// The kernel frees a cgroup a moment after its last process is reaped.
	var err error
	for range 50 {
		if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("rmdir: %w", err)
}
