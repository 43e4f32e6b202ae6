package memory

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

// TestCancelEndsTree: cancelling a measurement ends the target's whole tree
// (a shell and the two processes it forked), not only its first process.
func TestCancelEndsTree(t *testing.T) {
	requireBPF(t)
	marker := fmt.Sprintf("%d.%d", 60+os.Getpid()%30, time.Now().UnixNano()%1000)
	t.Cleanup(func() { exec.Command("pkill", "-KILL", "-f", "sleep "+marker).Run() })
	tg := instruments.Target{Name: "tree", Kind: instruments.Exec,
		Command: "sleep " + marker + " & sleep " + marker + "; wait"}
	env := instruments.Env{ProfileFolder: t.TempDir(), Launcher: instruments.Direct, BaseEnv: os.Environ()}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	_, err := (&Instrument{}).Measure(ctx, tg, env)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Measure: %v, want context.Canceled", err)
	}
	time.Sleep(300 * time.Millisecond)
	if left, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output(); len(left) > 0 {
		t.Fatalf("the target's children outlived the cancel: pids %s", left)
	}
}
