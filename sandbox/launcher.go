package sandbox

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// launcher forks targets from one dedicated OS thread that already sits where
// the targets must run: pinned to the sandbox's CPUs and, on cgroup v1, a
// member of the sandbox's cgroups. A child inherits its parent thread's
// affinity and cgroups at fork, so it is in place before it runs a single
// instruction of its own; there is no window in which it runs elsewhere, and
// no per-start cgroup write.
//
// Why a parked thread rather than moving the calling thread for each start:
// a v1 cgroup migration takes the cgroup threadgroup lock, which is slow
// (an RCU grace period on many kernels), and the walltime harness starts the
// target once per round. Paying it twice when the sandbox opens and closes
// keeps Start at the cost of a channel hand-off.
//
// Go runtime facts this relies on: a goroutine that called LockOSThread runs
// alone on its thread, and the runtime creates new threads from a clean
// template thread rather than from a locked one, so no other thread inherits
// the pinned thread's placement. exec.Cmd.Start forks from the calling
// thread. The I/O-copying goroutines Start may create run on other threads.
//
// Caller-visible consequence: Pdeathsig, when a caller sets it, fires when
// the launcher thread exits (at Close), not when the caller's thread does.
type launcher struct {
	tid     int // the launcher thread, which forks every process
	reqs    chan launchReq
	done    chan error
	started chan struct{}
}

type launchReq struct {
	cmd *exec.Cmd
	res chan launchRes
}

type launchRes struct {
	err error
	at  time.Time // just before the fork, on the launcher thread
}

// threadPlacement moves the calling thread (by TID) into the sandbox and
// back out.
type threadPlacement interface {
	enter(tid int) error
	leave(tid int) error
}

// startLauncher starts the launcher thread, pins it to cpus and, when place is
// not nil, moves it into place. It returns once the thread is in place.
func startLauncher(cpus CPUSet, place threadPlacement) (*launcher, error) {
	l := &launcher{reqs: make(chan launchReq), done: make(chan error, 1), started: make(chan struct{}, 1)}
	ready := make(chan error, 1)
	go l.run(cpus, place, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return l, nil
}

func (l *launcher) run(cpus CPUSet, place threadPlacement, ready chan<- error) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	if tid == unix.Getpid() {
		// This is the main thread, whose cgroups /proc/self/cgroup reports
		// as the whole runner's: it must never move. Keep it locked while a
		// new goroutine starts (so that one lands on another thread), then
		// hand it back.
		go l.run(cpus, place, ready)
		<-l.started
		runtime.UnlockOSThread()
		return
	}
	l.started <- struct{}{}
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		runtime.UnlockOSThread()
		ready <- fmt.Errorf("launcher: sched_getaffinity: %w", err)
		return
	}
	// restore puts the thread back where it was; if that fails the thread
	// stays locked and the runtime terminates it when this goroutine returns,
	// so a misplaced thread never runs other goroutines.
	restore := func() error {
		var errs []error
		if place != nil {
			if err := place.leave(tid); err != nil {
				errs = append(errs, err)
			}
		}
		if err := unix.SchedSetaffinity(0, &orig); err != nil {
			errs = append(errs, fmt.Errorf("launcher: restore affinity: %w", err))
		}
		if len(errs) == 0 {
			runtime.UnlockOSThread()
		}
		return errors.Join(errs...)
	}
	if place != nil {
		if err := place.enter(tid); err != nil {
			_ = restore()
			ready <- err
			return
		}
	}
	// Set after entering: joining a v1 cpuset rewrites the thread's mask.
	mask := cpus.Mask()
	if err := unix.SchedSetaffinity(0, &mask); err != nil {
		_ = restore()
		ready <- fmt.Errorf("launcher: sched_setaffinity %s: %w", cpus, err)
		return
	}
	l.tid = tid
	ready <- nil
	for r := range l.reqs {
		at := time.Now()
		r.res <- launchRes{err: r.cmd.Start(), at: at}
	}
	l.done <- restore()
}

// start runs cmd.Start on the launcher thread.
// It returns the time read on that thread just before the fork.
func (l *launcher) start(cmd *exec.Cmd) (time.Time, error) {
	res := make(chan launchRes, 1)
	l.reqs <- launchReq{cmd: cmd, res: res}
	r := <-res
	return r.at, r.err
}

// stop takes the thread out of the sandbox and ends the launcher. Start must
// not be called concurrently with or after stop.
func (l *launcher) stop() error {
	close(l.reqs)
	return <-l.done
}
