package perf

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// A JIT's /tmp/perf-<pid>.map, read after the process exited, names the
// samples in its anonymous executable memory, and is copied to the profile.
func TestJITMapPickup(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the test JIT emits x86-64 code")
	}
	c := probeOrSkip(t)
	bin := filepath.Join(t.TempDir(), "jit")
	if out, err := exec.Command("cc", "-O1", "-o", bin, "testdata/jit.c").CombinedOutput(); err != nil {
		testenv.Missing(t, "cc: %v\n%s", err, out)
	}
	s, err := Start(Config{Event: c.Event})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "150000000")
	var out strings.Builder
	cmd.Stdout = &out
	if err := s.Launcher(nil).Start(cmd); err != nil {
		s.Stop()
		t.Fatal(err)
	}
	waitErr := cmd.Wait()
	mapFile := "/tmp/perf-" + strconv.Itoa(cmd.Process.Pid) + ".map"
	t.Cleanup(func() { os.Remove(mapFile) })
	rec, err := s.Stop()
	if waitErr != nil || err != nil {
		t.Fatal(waitErr, err)
	}
	defer rec.Close()
	if pid, _ := strconv.Atoi(strings.TrimSpace(out.String())); pid != cmd.Process.Pid {
		t.Fatalf("the JIT printed pid %q, started %d", out.String(), cmd.Process.Pid)
	}

	ps := rec.Symbolize("")
	if share := frameShare(ps.Whole, "jitted_hot_loop"); share < 0.8 {
		t.Fatalf("jitted_hot_loop in %.0f%% of samples:\n%s", share*100, folded(ps.Whole))
	}
	dir := t.TempDir()
	arts, err := ps.WriteFiles(rec, filepath.Join(dir, "perf"), dir, "jit")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join("perf", "jit", "perf-"+strconv.Itoa(cmd.Process.Pid)+".map")
	if len(arts.JITMaps) != 1 || arts.JITMaps[0] != want {
		t.Fatalf("JIT maps written: %v, want [%s]", arts.JITMaps, want)
	}
	copied, err := os.ReadFile(filepath.Join(dir, want))
	if err != nil || !strings.HasSuffix(string(copied), " jitted_hot_loop\n") {
		t.Fatalf("copied JIT map: %q, %v", copied, err)
	}
	// The copy symbolizes the raw samples again once /tmp is cleaned.
	os.Remove(mapFile)
	again := rec.Symbolize(filepath.Join(dir, "perf", "jit"))
	if share := frameShare(again.Whole, "jitted_hot_loop"); share < 0.8 {
		t.Fatalf("from the copied map: jitted_hot_loop in %.0f%% of samples", share*100)
	}
}
