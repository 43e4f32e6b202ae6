package simulation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// TestDeadlineEndsTree: when the context's deadline passes (or it is
// cancelled), the whole tree under valgrind ends, not only valgrind: here a
// target whose shell forks two grandchildren.
func TestDeadlineEndsTree(t *testing.T) {
	in := needValgrind(t)
	marker := fmt.Sprintf("%d.%d", 60+os.Getpid()%30, time.Now().UnixNano()%1000)
	t.Cleanup(func() { exec.Command("pkill", "-KILL", "-f", "sleep "+marker).Run() })
	env := testEnv(t)
	// No pipe for a grandchild to hold: Measure returns when valgrind ends.
	env.Stdout, env.Stderr = nil, nil
	tg := instruments.Target{Name: "tree", Kind: instruments.Exec,
		Command: "sleep " + marker + " & sleep " + marker + "; wait"}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	start := time.Now()
	_, err := in.Measure(ctx, tg, env)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Measure: %v, want the deadline", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	time.Sleep(300 * time.Millisecond)
	if left, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output(); len(left) > 0 {
		t.Fatalf("the target's children outlived the deadline: pids %s", left)
	}
}
