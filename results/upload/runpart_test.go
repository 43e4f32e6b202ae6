package upload

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestNextRunPartSequence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), RunStateDir)
	for want := 0; want < 3; want++ {
		got, err := NextRunPart(dir, "jenkins-nightly bench/9")
		if err != nil || got != want {
			t.Fatalf("NextRunPart = %d, %v; want %d", got, err, want)
		}
	}
	// Another run id has its own counter.
	if got, err := NextRunPart(dir, "11893460077"); err != nil || got != 0 {
		t.Errorf("other run: %d, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("state files: %v", entries)
	}
	if PartID("walltime", 0) != "walltime" || PartID("walltime", 2) != "walltime-2" {
		t.Error("PartID")
	}
	// A corrupt counter is an error naming the file, not a silent reset.
	for _, e := range entries {
		os.WriteFile(filepath.Join(dir, e.Name()), []byte("garbage"), 0o644)
	}
	if _, err := NextRunPart(dir, "11893460077"); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("corrupt counter: %v", err)
	}
}

func TestStateDir(t *testing.T) {
	if got := StateDir(&Source{RepositoryRootPath: "/repo/"}, "/repo/sub"); got != "/repo/.codspeed/run-state" {
		t.Errorf("StateDir in a checkout = %q", got)
	}
	if got := StateDir(&Source{}, "/work"); got != "/work/.codspeed/run-state" {
		t.Errorf("StateDir without a root = %q", got)
	}
}

func TestNextRunPartGoroutines(t *testing.T) {
	dir := t.TempDir()
	const n = 32
	got := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx, err := NextRunPart(dir, "run")
			if err != nil {
				t.Error(err)
			}
			got[i] = idx
		}()
	}
	wg.Wait()
	checkDistinct(t, got)
}

// TestNextRunPartProcesses runs several copies of the test binary at once,
// each taking run parts: flock must keep separate processes apart.
func TestNextRunPartProcesses(t *testing.T) {
	if dir := os.Getenv("RUNPART_HELPER_DIR"); dir != "" {
		for range 10 {
			idx, err := NextRunPart(dir, "shared-run")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fmt.Println("runpart-index", idx)
		}
		return
	}
	dir := t.TempDir()
	const procs = 6
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*strings.Builder, procs)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestNextRunPartProcesses$")
		cmds[i].Env = append(os.Environ(), "RUNPART_HELPER_DIR="+dir)
		outs[i] = &strings.Builder{}
		cmds[i].Stdout = outs[i]
		cmds[i].Stderr = os.Stderr
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	var all []int
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper %d: %v", i, err)
		}
		// The test binary adds its own lines (PASS, coverage); only the
		// tagged ones are indexes.
		for _, line := range strings.Split(outs[i].String(), "\n") {
			v, ok := strings.CutPrefix(line, "runpart-index ")
			if !ok {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("helper %d printed %q", i, line)
			}
			all = append(all, n)
		}
	}
	if len(all) != procs*10 {
		t.Fatalf("%d indexes from %d processes, want %d", len(all), procs, procs*10)
	}
	checkDistinct(t, all)
}

func checkDistinct(t *testing.T, got []int) {
	t.Helper()
	sort.Ints(got)
	for i, v := range got {
		if v != i {
			t.Fatalf("indexes %v: want each of 0..%d exactly once", got, len(got)-1)
		}
	}
}
