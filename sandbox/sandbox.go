// Package sandbox decides where a target runs: a local process in its own
// cgroup pinned to CPUs, a local process with affinity pinning only, or a
// container. One interface above all of them; nothing above this package knows
// which one ran.
package sandbox

import (
	"os/exec"

	"github.com/codspeed-go/codspeed-go/results"
)

// Sandbox is a place where a target's processes run. It satisfies
// instruments.Launcher.
type Sandbox interface {
	// Start starts cmd inside the sandbox; the caller waits on it.
	Start(cmd *exec.Cmd) error
	// Usage reports where the processes ran and what they used so far
	// (cgroup CPU time, peak memory).
	Usage() results.Sandbox
	// Close releases the sandbox (removes its cgroup).
	Close() error
}

// None runs processes as plain children, unpinned.
type None struct{}

func (None) Start(cmd *exec.Cmd) error { return cmd.Start() }
func (None) Usage() results.Sandbox    { return results.Sandbox{Kind: "none"} }
func (None) Close() error              { return nil }
