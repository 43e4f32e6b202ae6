package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
)

// startInGroup starts codspeed as a shell starts a job: leader of its own
// process group, so that a signal to the group reaches it and everything in
// the group, as a terminal's Ctrl-C does.
func startInGroup(t *testing.T, dir string, args ...string) (*exec.Cmd, *bufio.Scanner, *lockedBuffer) {
	t.Helper()
	cmd := newCmd(dir, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errb := &lockedBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	})
	return cmd, bufio.NewScanner(stdout), errb
}

// ctrlC sends SIGINT to the whole process group, as a terminal does.
func ctrlC(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func benchNames(f *results.File) []string {
	var names []string
	for _, b := range f.Benchmarks {
		names = append(names, b.Name)
	}
	return names
}

// TestCtrlCExecEveryTime: a terminal's Ctrl-C reaches the benchmark's process
// as well as the runner unless the runner keeps its children out of the
// terminal's process group; `timeout -s INT` signals the runner twice at once. Whatever the moment (warmup, a round, between
// rounds), every try must end the same way: exit 130, the run partial, the
// finished benchmark kept, the interrupted one not kept and named missing.
func TestCtrlCExecEveryTime(t *testing.T) {
	if testing.Short() {
		t.Skip("ten interrupted runs")
	}
	for i := range 10 {
		dir := t.TempDir()
		writeConfig(t, dir, fmt.Sprintf(`options:
  warmup-time: 0
  max-rounds: 2
benchmarks:
  - name: quick
    exec: %[1]s 1000
  - name: slow
    exec: %[1]s 300000
    options: {warmup-time: 200ms, max-rounds: 100000, max-time: 20s}
  - name: never
    exec: %[1]s 1000
`, primes))
		pf := filepath.Join(dir, "pf")
		cmd, events, errb := startInGroup(t, dir, "run", "--profile-folder", pf, "--message-format", "json")
		if !events.Scan() || !strings.Contains(events.Text(), `"quick"`) {
			t.Fatalf("try %d: first event %q\n%s", i, events.Text(), errb)
		}
		// Spread the interrupts over warmup and measured rounds.
		time.Sleep(time.Duration(50+i*70) * time.Millisecond)
		start := time.Now()
		if i%2 == 1 {
			// As `timeout -s INT` does: the command, then its whole group
			// (the command included), at once: one interrupt, not two.
			cmd.Process.Signal(syscall.SIGINT)
		}
		ctrlC(t, cmd)
		for events.Scan() {
		}
		err := cmd.Wait()
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("try %d: took %v to stop", i, took)
		}
		if code := exitCode(err); code != exitInterrupted {
			t.Fatalf("try %d: exit %d, want %d\n%s", i, code, exitInterrupted, errb)
		}
		f := readOnlyResults(t, pf)
		if names := benchNames(f); !slices.Equal(names, []string{"quick"}) {
			t.Fatalf("try %d: kept %v, want [quick]\n%s", i, names, errb)
		}
		runs := storeRuns(t, dir)
		if runs[0].Status != results.StatusPartial || strings.Join(runs[0].Missing, ",") != "walltime: slow,walltime: never" {
			t.Fatalf("try %d: run record status %s missing %v\n%s", i, runs[0].Status, runs[0].Missing, errb)
		}
	}
}

// TestCtrlCGoTarget: Ctrl-C while `go test -bench` runs its second benchmark
// keeps the first (every round ran), drops the one in flight and names the
// target missing.
func TestCtrlCGoTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and interrupts go test")
	}
	pkg := t.TempDir()
	for name, body := range map[string]string{
		"go.mod": "module ctrlc\n\ngo 1.22\n",
		"b_test.go": `package ctrlc

import (
	"testing"
	"time"
)

func BenchmarkAFast(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = i * i
	}
}

func BenchmarkBSlow(b *testing.B) {
	for i := 0; i < b.N; i++ {
		time.Sleep(time.Millisecond)
	}
}
`} {
		if err := os.WriteFile(filepath.Join(pkg, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Compiled once, so each try interrupts the benchmarks, not the build.
	if out, err := exec.Command("go", "test", "-C", pkg, "-run=^$", "-bench=AFast", "-benchtime=1x", ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for i := range 3 {
		dir := t.TempDir()
		writeConfig(t, dir, fmt.Sprintf(`benchmarks:
  - name: gotarget
    entrypoint: go test -C %s -run=^$ -bench=. -benchtime=100ms .
  - name: never
    exec: %s 1000
`, pkg, primes))
		pf := filepath.Join(dir, "pf")
		cmd, events, errb := startInGroup(t, dir, "run", "--profile-folder", pf, "--message-format", "json")
		// BenchmarkAFast runs 5 rounds of ~100 ms, then BenchmarkBSlow starts.
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(errb.String(), "BenchmarkBSlow") {
			if time.Now().After(deadline) {
				t.Fatalf("try %d: BenchmarkBSlow never started\n%s", i, errb)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(i*150) * time.Millisecond)
		ctrlC(t, cmd)
		for events.Scan() {
		}
		if code := exitCode(cmd.Wait()); code != exitInterrupted {
			t.Fatalf("try %d: exit %d, want %d\n%s", i, code, exitInterrupted, errb)
		}
		f := readOnlyResults(t, pf)
		if names := benchNames(f); !slices.Equal(names, []string{"BenchmarkAFast"}) || f.Benchmarks[0].Stats.Rounds != 5 {
			t.Fatalf("try %d: kept %v, want BenchmarkAFast with 5 rounds\n%s", i, names, errb)
		}
		runs := storeRuns(t, dir)
		if runs[0].Status != results.StatusPartial || strings.Join(runs[0].Missing, ",") != "walltime: gotarget,walltime: never" {
			t.Fatalf("try %d: run record status %s missing %v\n%s", i, runs[0].Status, runs[0].Missing, errb)
		}
	}
}

// TestSecondCtrlCForcesExit: a target whose escaped grandchild holds the
// output open keeps the runner waiting after the first Ctrl-C; the second
// one exits at once, with 130.
func TestSecondCtrlCForcesExit(t *testing.T) {
	dir := t.TempDir()
	marker := "71.4321" // a sleep duration no other process uses
	t.Cleanup(func() { exec.Command("pkill", "-f", "sleep "+marker).Run() })
	cmd, _, errb := startInGroup(t, dir, "run", "--no-sandbox", "--", "setsid sleep "+marker+"; sleep "+marker)
	time.Sleep(700 * time.Millisecond)
	ctrlC(t, cmd)
	time.Sleep(600 * time.Millisecond) // past the window in which a repeat is the same interrupt
	start := time.Now()
	ctrlC(t, cmd)
	err := cmd.Wait()
	if took := time.Since(start); took > time.Second {
		t.Fatalf("took %v to exit after the second Ctrl-C", took)
	}
	if code := exitCode(err); code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, errb)
	}
}
