package run

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// processInstrument runs the target's command as simulation and memory do:
// its output goes to env's writers, a non-zero exit fails the target.
type processInstrument struct{}

func (processInstrument) Mode() string { return results.Memory }
func (processInstrument) Check() error { return nil }
func (processInstrument) Measure(ctx context.Context, t instruments.Target, env instruments.Env) ([]results.Benchmark, error) {
	cmd := exec.CommandContext(ctx, "sh", t.Command)
	cmd.Stdout, cmd.Stderr = env.Stdout, env.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", t.Command, err)
	}
	return []results.Benchmark{{Name: t.Name, URI: "exec_harness::" + t.Name, Memory: &results.MemoryStats{AllocCalls: 1}}}, nil
}

// TestFailureShowsStderrTail: a target whose output is not shown still
// shows the end of its standard error when it fails, in full where the
// table has only the first line of the error; with --show-output the output
// is there as it came, and not repeated.
func TestFailureShowsStderrTail(t *testing.T) {
	// A script file: the error names the command, which must not quote
	// its own output.
	script := filepath.Join(t.TempDir(), "broken.sh")
	os.WriteFile(script, []byte(`i=0; while [ $i -lt 400 ]; do echo "noise line $i" >&2; i=$((i+1)); done; echo "fatal: the input is missing" >&2; exit 4`), 0o755)
	for _, show := range []bool{false, true} {
		t.Run(fmt.Sprintf("show=%v", show), func(t *testing.T) {
			var out, errb bytes.Buffer
			req := Request{
				Modes:       []string{results.Memory},
				Targets:     []instruments.Target{{Name: "broken", Command: script, Kind: instruments.Exec}},
				Instruments: map[string]instruments.Instrument{results.Memory: processInstrument{}},
				NoSandbox:   true, Store: &results.Store{Root: t.TempDir()},
				ShowOutput: show, Out: &out, Err: &errb, Progress: NewProgress(&errb, false),
			}
			if show {
				// Exec targets' shown output goes to the process's stderr
				// (a file, for the harness): use an entrypoint here.
				req.Targets[0].Kind = instruments.Entrypoint
			}
			o, err := Execute(context.Background(), req)
			if err != nil || o.Failed != 1 {
				t.Fatalf("Execute: %v, %+v", err, o)
			}
			got := errb.String()
			if !strings.Contains(got, "error: broken: ") || !strings.Contains(got, "exit status 4") {
				t.Fatalf("the failure is not reported:\n%s", got)
			}
			if n := strings.Count(got, "fatal: the input is missing"); n != 1 {
				t.Fatalf("the last stderr line appears %d times, want once:\n%s", n, got)
			}
			if !show {
				if !strings.Contains(got, "    | fatal: the input is missing") || !strings.Contains(got, "    | noise line 399") {
					t.Fatalf("no stderr tail:\n%s", got)
				}
				if strings.Contains(got, "noise line 0\n") || len(got) > 4096 {
					t.Fatalf("the tail is not a tail (%d bytes):\n%s", len(got), got)
				}
			} else if !strings.Contains(got, "noise line 0\n") {
				t.Fatalf("--show-output did not show the whole output:\n%s", got)
			}
			// The table keeps one line per failure.
			if !strings.Contains(out.String(), "broken: FAILED: ") || strings.Contains(out.String(), "fatal:") {
				t.Fatalf("table: %q", out.String())
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 16}
	fmt.Fprint(tb, "short\n")
	if tb.String() != "short\n" {
		t.Fatalf("%q", tb.String())
	}
	for i := 0; i < 20; i++ {
		fmt.Fprintf(tb, "line %02d\n", i)
	}
	// The last 16 bytes, from a line start.
	if got := tb.String(); got != "line 19\n" && got != "line 18\nline 19\n" {
		t.Fatalf("%q", got)
	}
}
