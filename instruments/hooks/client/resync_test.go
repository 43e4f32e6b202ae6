package client

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/instruments/hooks"
)

// slowRunner answers the handshake at once, then serves each later request
// with the step of the same index: it waits, writes the first split bytes of
// its answer, waits again, then writes the rest.
type step struct {
	before, mid time.Duration
	split       int
	answer      hooks.Command
}

func slowRunner(t *testing.T, dir string, steps []step) {
	t.Helper()
	ctlPath, ackPath := filepath.Join(dir, hooks.CtlFIFOName), filepath.Join(dir, hooks.AckFIFOName)
	for _, p := range []string{ctlPath, ackPath} {
		if err := unix.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctl, err := os.OpenFile(ctlPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := os.OpenFile(ackPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close(); ack.Close() })
	go func() {
		for i := 0; ; i++ {
			cmd, err := hooks.ReadFrame(ctl)
			if err != nil {
				return
			}
			switch cmd.(type) {
			case hooks.SetVersion:
				ack.Write(hooks.AppendFrame(nil, hooks.Ack{}))
				i--
				continue
			case hooks.GetIntegrationMode:
				ack.Write(hooks.AppendFrame(nil, hooks.IntegrationModeResponse{Mode: hooks.ModeWalltime}))
				i--
				continue
			}
			if i >= len(steps) {
				ack.Write(hooks.AppendFrame(nil, hooks.Ack{}))
				continue
			}
			s := steps[i]
			frame := hooks.AppendFrame(nil, s.answer)
			time.Sleep(s.before)
			ack.Write(frame[:s.split])
			time.Sleep(s.mid)
			ack.Write(frame[s.split:])
		}
	}()
}

// TestLateAnswerDoesNotShiftLaterOnes: a request that times out leaves its
// answer owed; when it comes, the client skips it and the next request gets
// its own answer, also when the timeout cut the late answer in two.
func TestLateAnswerDoesNotShiftLaterOnes(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, split := range []int{0, 2, 6} {
		dir := t.TempDir()
		slowRunner(t, dir, []step{
			// Request 1 times out; its answer (a refusal) comes late,
			// possibly in two parts across the deadline.
			{before: 3 * timeout / 2, split: split, mid: timeout, answer: hooks.Err{}},
			// Request 2 is answered at once with an Ack.
			{split: 0, answer: hooks.Ack{}},
		})
		c, err := ConnectWith(Options{Dir: dir, Timeout: timeout, IgnoreValgrind: true})
		if err != nil || !c.Active() {
			t.Fatalf("connect: active=%v err=%v", c.Active(), err)
		}
		if err := c.StartBenchmark(); !errors.Is(err, ErrNoAnswer) {
			t.Fatalf("split %d: first request: %v, want ErrNoAnswer", split, err)
		}
		// The late refusal arrives while (or before) this request waits;
		// its own answer is the Ack.
		time.Sleep(timeout)
		if err := c.StopBenchmark(); err != nil {
			t.Errorf("split %d: second request got %v: the late answer of the first was taken for its own", split, err)
		}
		if err := c.CurrentBenchmark("x"); err != nil {
			t.Errorf("split %d: third request: %v", split, err)
		}
		c.Close()
	}
}

// TestDroppedAnswerDoesNotPoisonLaterOnes: a runner that never answers one
// request costs that request and the next (which waits for the missing
// answer), not every later one.
func TestDroppedAnswerDoesNotPoisonLaterOnes(t *testing.T) {
	const timeout = 100 * time.Millisecond
	dir := t.TempDir()
	// Request 1 is never answered (the step waits forever); it is the
	// only one: later requests are answered at once.
	slowRunner(t, dir, []step{{before: time.Hour, answer: hooks.Ack{}}})
	c, err := ConnectWith(Options{Dir: dir, Timeout: timeout, IgnoreValgrind: true})
	if err != nil || !c.Active() {
		t.Fatalf("connect: active=%v err=%v", c.Active(), err)
	}
	defer c.Close()
	if err := c.StartBenchmark(); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("first request: %v, want ErrNoAnswer", err)
	}
	// The runner is stuck on request 1, so request 2 times out too; from
	// then on the client owes nothing it will not get.
	if err := c.StopBenchmark(); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("second request: %v, want ErrNoAnswer", err)
	}
	if c.late != 1 {
		t.Errorf("late = %d after a dropped answer, want 1 (only the last request's)", c.late)
	}
}
