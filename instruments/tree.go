package instruments

import (
	"os/exec"
	"syscall"
	"time"
)

// TreeWaitDelay bounds how long Wait waits, once the tree was killed, for
// output pipes held open by a process that left the group (setsid).
const TreeWaitDelay = 2 * time.Second

// OwnTree makes cmd the leader of its own process group, ended as a whole:
//
//   - When cmd's context is cancelled or its deadline passes, SIGKILL goes to
//     the whole group (the target's children and grandchildren, the test
//     binary under `go test`, a script's pipeline), not only to cmd.
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
	cmd.Cancel = func() error { return KillTree(cmd) }
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
