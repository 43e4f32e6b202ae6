package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gone reports whether pid no longer runs (exited and reaped, or a zombie).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// TestRunnerKilledLeavesNothing: a runner killed by SIGKILL cannot clean up.
// Its target (direct child) must die with it (parent-death signal), and what
// the target forked, still in the runner's sandbox cgroup, must be ended and
// the cgroup removed by the next sandbox created on the host.
func TestRunnerKilledLeavesNothing(t *testing.T) {
	requireRoot(t)
	if !Probe().CanCreateCgroups {
		t.Fatal("root but cannot create cgroups")
	}
	marker := fmt.Sprintf("%d.%d", 60+os.Getpid()%30, time.Now().UnixNano()%1000)
	t.Cleanup(func() { exec.Command("pkill", "-KILL", "-f", "sleep "+marker).Run() })
	runner := helperCmd(t, "runner")
	runner.Env = append(runner.Env, "SANDBOX_TEST_MARKER="+marker)
	out, err := runner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	runner.Stderr = &stderr
	if err := runner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if runner.ProcessState == nil {
			runner.Process.Kill()
			runner.Wait()
		}
	})
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("runner helper said nothing")
	}
	f := strings.Fields(sc.Text())
	if len(f) != 3 || f[0] != "ready" {
		t.Fatalf("runner helper: %q", sc.Text())
	}
	child, _ := strconv.Atoi(f[1])
	cgroup := f[2]
	time.Sleep(200 * time.Millisecond) // the sleeps are forked
	sleeps, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output()
	if len(strings.Fields(string(sleeps))) < 2 { // the sh and its sleeps
		t.Fatalf("grandchildren: %q", sleeps)
	}
	runner.Process.Signal(syscall.SIGKILL)
	runner.Wait()

	deadline := time.Now().Add(2 * time.Second)
	for !gone(child) {
		if time.Now().After(deadline) {
			t.Fatalf("the target (pid %d) outlived its runner killed by SIGKILL", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
	dirs := staleParents(1, cgroupRoot)
	if hostCgroupMode() == CgroupV2 {
		dirs = staleParents(2, cgroupRoot)
	}
	var left []string
	for _, d := range dirs {
		p := filepath.Join(d, filepath.Base(cgroup))
		if _, err := os.Stat(p); err == nil {
			left = append(left, p)
		}
	}
	if len(left) == 0 {
		t.Fatalf("the dead runner's cgroup %s is already gone: nothing to test", cgroup)
	}

	// The next run's sandbox cleans up.
	s, err := NewLocal(NewSpec(Options{Args: []string{"true"}}), LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, p := range left {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("stale cgroup %s not removed", p)
		}
	}
	if pids, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output(); len(pids) > 0 {
		t.Errorf("the dead runner's grandchildren still run: %s", pids)
	}
}
