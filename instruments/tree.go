package instruments

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TreeGrace is how long a cancelled tree has after SIGINT before SIGKILL.
const TreeGrace = time.Second

// TreeWaitDelay bounds how long Wait waits, once the tree was killed, for
// output pipes held open by a process that left the group (setsid).
const TreeWaitDelay = 2 * time.Second

// OwnTree makes cmd the leader of its own process group, ended as a whole:
//
//   - When cmd's context is cancelled or its deadline passes, the whole group
//     (the target's children and grandchildren, the test binary under `go
//     test`, a script's pipeline) gets SIGINT, as from a terminal, so that
//     programs that clean up on it do (`go test` removes its go-build work
//     folder), and SIGKILL TreeGrace later if any of it is left; Wait
//     returns once none of it runs.
//   - A terminal's Ctrl-C (SIGINT to the foreground process group) reaches the
//     runner only: the runner decides what to stop and what to keep, so a
//     benchmark never dies of the interrupt before the runner has seen it.
//   - If the runner dies, even of SIGKILL, the kernel sends cmd SIGKILL
//     (the parent-death signal); what cmd started is ended with its cgroup by
//     the sandbox, or by the next run's clean-up of stale cgroups.
//
// cmd must come from exec.CommandContext; fields of cmd.SysProcAttr the
// caller set are kept. Call it before Start.
func OwnTree(cmd *exec.Cmd) {
	TreeAttr(cmd)
	cmd.Cancel = func() error { return interruptTree(cmd) }
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = TreeWaitDelay
	}
}

// TreeAttr sets what OwnTree sets in cmd.SysProcAttr (own process group,
// parent-death signal) without the context's Cancel: for commands made
// without a context, which the caller kills with KillTree.
func TreeAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	if cmd.SysProcAttr.Pdeathsig == 0 {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
}

// interruptTree sends SIGINT to cmd's process group and returns once no
// process of it runs any more (zombies aside), sending SIGKILL to what is
// left after TreeGrace: Wait, which waits for Cancel, then returns with the
// tree gone. (A shell's background jobs ignore SIGINT; SIGKILL ends them.)
func interruptTree(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	pgid := cmd.Process.Pid
	err := syscall.Kill(-pgid, syscall.SIGINT)
	if waitGroupGone(pgid, TreeGrace) {
		return err
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	waitGroupGone(pgid, TreeGrace)
	return err
}

// waitGroupGone polls until no live process is in process group pgid, for
// at most d; it reports whether the group is gone.
func waitGroupGone(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !groupAlive(pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupAlive reports whether a process that is not a zombie is in process
// group pgid (from /proc/<pid>/stat: pid (comm) state ppid pgrp ...).
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 3 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// KillTree sends SIGKILL to the process group cmd leads (see OwnTree), and to
// cmd itself should it have left the group.
func KillTree(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if kerr := cmd.Process.Kill(); err != nil && kerr == nil {
		err = nil
	}
	return err
}
