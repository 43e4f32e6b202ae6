package perf

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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

// runJIT runs testdata/jit.c's program under a session and returns the
// recording and the program's pid; its map is removed at cleanup.
func runJIT(t *testing.T) (*Recording, int) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the test JIT emits x86-64 code")
	}
	c := probeOrSkip(t)
	bin := filepath.Join(t.TempDir(), "jit")
	if out, err := exec.Command("cc", "-O1", "-o", bin, "testdata/jit.c").CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	s, err := Start(Config{Event: c.Event})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "100000000")
	if err := s.Launcher(nil).Start(cmd); err != nil {
		s.Stop()
		t.Fatal(err)
	}
	waitErr := cmd.Wait()
	t.Cleanup(func() { os.Remove("/tmp/perf-" + strconv.Itoa(cmd.Process.Pid) + ".map") })
	rec, err := s.Stop()
	if waitErr != nil || err != nil {
		t.Fatal(waitErr, err)
	}
	t.Cleanup(rec.Close)
	return rec, cmd.Process.Pid
}

// A perf map replaced by a symbolic link (to a secret) or owned by another
// user than the benchmark's is neither used nor copied into the profile.
func TestJITMapUntrusted(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the foreign-owner case needs root (chown)")
	}
	for _, plant := range []string{"symlink", "foreign owner"} {
		t.Run(plant, func(t *testing.T) {
			rec, pid := runJIT(t)
			mapFile := "/tmp/perf-" + strconv.Itoa(pid) + ".map"
			switch plant {
			case "symlink":
				secret := filepath.Join(t.TempDir(), "secret")
				if err := os.WriteFile(secret, []byte("1000 100000000000 SECRET\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				os.Remove(mapFile)
				if err := os.Symlink(secret, mapFile); err != nil {
					t.Fatal(err)
				}
			case "foreign owner":
				if err := os.Chown(mapFile, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			}
			ps := rec.Symbolize("")
			if frameShare(ps.Whole, "jitted_hot_loop") > 0 || strings.Contains(folded(ps.Whole), "SECRET") {
				t.Fatalf("the untrusted map was used:\n%s", folded(ps.Whole))
			}
			if len(ps.Warnings) != 1 || !strings.Contains(ps.Warnings[0], mapFile) {
				t.Errorf("warnings %q, want one naming %s", ps.Warnings, mapFile)
			}
			dir := t.TempDir()
			arts, err := ps.WriteFiles(rec, filepath.Join(dir, "perf"), dir, "jit")
			if err != nil {
				t.Fatal(err)
			}
			if len(arts.JITMaps) != 0 {
				t.Errorf("untrusted map copied: %v", arts.JITMaps)
			}
		})
	}
}

// node --perf-prof writes a jitdump (no perf map) into its working
// directory; the walltime profile finds it through the mapping V8 makes of
// it, names the JavaScript functions the samples are in, and keeps the
// symbols in the profile folder's perf map.
func TestJITDumpNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is not installed (.ci/run installs nodejs): %v", err)
		}
		t.Skip("node is not installed")
	}
	c := probeOrSkip(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "fib.js")
	src := "function fibonacci(n) { return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2); }\n" +
		"let t = 0; const end = Date.now() + 1500; while (Date.now() < end) t += fibonacci(25); console.log(t);\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Start(Config{Event: c.Event})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--perf-prof", "--interpreted-frames-native-stack", script)
	cmd.Dir = dir
	if err := s.Launcher(nil).Start(cmd); err != nil {
		s.Stop()
		t.Fatal(err)
	}
	waitErr := cmd.Wait()
	rec, err := s.Stop()
	if waitErr != nil || err != nil {
		t.Fatal(waitErr, err)
	}
	defer rec.Close()
	pid := strconv.Itoa(cmd.Process.Pid)
	if _, err := os.Stat(filepath.Join(dir, "jit-"+pid+".dump")); err != nil {
		t.Fatalf("node wrote no jitdump: %v", err)
	}
	ps := rec.Symbolize("")
	var js, total float64
	for _, st := range ps.Whole.Stacks() {
		total += st.Value
		for _, f := range st.Frames {
			if strings.Contains(f, "fibonacci") && strings.Contains(f, "fib.js") {
				js += st.Value
				break
			}
		}
	}
	t.Logf("%.0f of %.0f samples under a JavaScript fibonacci frame; warnings %q", js, total, ps.Warnings)
	if total == 0 || js/total < 0.5 {
		t.Fatalf("fibonacci in %.0f of %.0f samples:\n%.3000s", js, total, folded(ps.Whole))
	}
	out := t.TempDir()
	arts, err := ps.WriteFiles(rec, filepath.Join(out, "perf"), out, "node")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join("perf", "jit", "perf-"+pid+".map")
	if !slices.Contains(arts.JITMaps, want) {
		t.Fatalf("JIT maps %v, want %s", arts.JITMaps, want)
	}
	data, err := os.ReadFile(filepath.Join(out, want))
	if err != nil || !strings.Contains(string(data), "fibonacci") {
		t.Fatalf("kept map (%v) does not name fibonacci:\n%.500s", err, data)
	}
}
