package sandbox

import (
	"sync"
	"time"
)

// A forced exit (a second Ctrl-C) ends the runner without the orderly stop
// of what it started. Processes it started die with it (their parent-death
// signal); what lives elsewhere, a container in the engine, registers here
// how to end it at once, and the CLI runs these before it exits.

var forced struct {
	mu   sync.Mutex
	next int
	fns  map[int]func()
}

// OnForcedExit registers fn to run on a forced exit; the returned function
// unregisters it (call it once what fn ends is gone).
func OnForcedExit(fn func()) (unregister func()) {
	forced.mu.Lock()
	defer forced.mu.Unlock()
	if forced.fns == nil {
		forced.fns = map[int]func(){}
	}
	id := forced.next
	forced.next++
	forced.fns[id] = fn
	return func() {
		forced.mu.Lock()
		defer forced.mu.Unlock()
		delete(forced.fns, id)
	}
}

// ForcedExit runs every registered function, concurrently, for at most
// timeout in all.
func ForcedExit(timeout time.Duration) {
	forced.mu.Lock()
	fns := make([]func(), 0, len(forced.fns))
	for _, fn := range forced.fns {
		fns = append(fns, fn)
	}
	forced.mu.Unlock()
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(fn)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}
