package memory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// requireBPF skips when this host or process truly cannot run the
// instrument (not root, no BPF); on the CI host (root, kernel with BTF and
// uprobes) it runs.
func requireBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "memory instrument tests need root (CAP_BPF+CAP_PERFMON)")
	}
	if err := check(); err != nil {
		if errors.Is(err, instruments.ErrNotSupported) {
			testenv.Missing(t, "host cannot run eBPF uprobes: %v", err)
		}
		t.Fatal(err)
	}
}

var buildDir struct {
	once sync.Once
	dir  string
	err  error
}

// build compiles a testdata program once per test binary run.
func build(t *testing.T, out, src string, extra ...string) string {
	t.Helper()
	buildDir.once.Do(func() {
		buildDir.dir, buildDir.err = os.MkdirTemp("", "memtest-")
	})
	if buildDir.err != nil {
		t.Fatal(buildDir.err)
	}
	bin := filepath.Join(buildDir.dir, out)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cc := "gcc"
	if strings.HasSuffix(src, ".cc") {
		cc = "g++"
	}
	if _, err := exec.LookPath(cc); err != nil {
		testenv.Missing(t, "%s not installed: %v", cc, err)
	}
	args := append([]string{"-O2", "-fno-builtin", "-o", bin, filepath.Join("testdata", src)}, extra...)
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", cc, args, err, b)
	}
	return bin
}

// measure runs argv in a fresh session as one region.
func measure(t *testing.T, opts SessionOptions, argv ...string) Snapshot {
	t.Helper()
	s, err := NewSession(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Launch(instruments.Direct, cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, stderr.Bytes())
	}
	snap, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range s.Warnings() {
		t.Logf("warning: %s", w)
	}
	t.Logf("%v: allocs=%v frees=%v bytes=%v peak=%v untracked=%d",
		argv, snap.Stats.AllocCalls, snap.Stats.FreeCalls, snap.Stats.TotalAllocatedBytes, snap.Stats.PeakBytes, snap.Untracked)
	return snap
}

var heapUsage = regexp.MustCompile(`total heap usage: ([\d,]+) allocs, ([\d,]+) frees, ([\d,]+) bytes allocated`)

// memcheck returns valgrind memcheck's "total heap usage" figures for argv.
func memcheck(t *testing.T, argv ...string) (allocs, frees, nbytes float64) {
	t.Helper()
	if _, err := exec.LookPath("valgrind"); err != nil {
		testenv.Missing(t, "valgrind not installed: %v", err)
	}
	args := append([]string{"--tool=memcheck", "--run-libc-freeres=no", "--run-cxx-freeres=no"}, argv...)
	cmd := exec.Command("valgrind", args...)
	cmd.Stdout = io.Discard
	var out bytes.Buffer
	cmd.Stderr = &out
	err := cmd.Run()
	if err != nil {
		t.Fatalf("valgrind %v: %v\n%s", argv, err, out.Bytes())
	}
	m := heapUsage.FindSubmatch(out.Bytes())
	if m == nil {
		t.Fatalf("no heap summary in valgrind output:\n%s", out.Bytes())
	}
	num := func(b []byte) float64 {
		v, err := strconv.ParseFloat(strings.ReplaceAll(string(b), ",", ""), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return num(m[1]), num(m[2]), num(m[3])
}

func TestAgainstMemcheck(t *testing.T) {
	requireBPF(t)
	input := filepath.Join(t.TempDir(), "input")
	var buf bytes.Buffer
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&buf, "line %d of a compressible input %x\n", i, i*i)
	}
	if err := os.WriteFile(input, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pattern := build(t, "pattern", "pattern.c")
	cxx := build(t, "cxx", "cxx.cc")
	tests := []struct {
		name string
		argv []string
		tool string
	}{
		{"pattern", []string{pattern, "500"}, ""},
		{"cxx", []string{cxx, "300"}, ""},
		{"xz", []string{"xz", "-3", "-c", input}, "xz"},
		{"sort", []string{"sort", "-r", input}, "sort"},
		{"sqlite3", []string{"sqlite3", ":memory:", "create table t(a, b); with recursive c(x) as (select 1 union all select x+1 from c where x < 2000) insert into t select x, hex(randomblob(40)) from c; select count(*), sum(length(b)) from t;"}, "sqlite3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := append([]string(nil), tt.argv...)
			if tt.tool != "" {
				p, err := exec.LookPath(tt.tool)
				if err != nil {
					testenv.Missing(t, "%s not installed (apt-get install %s)", tt.tool, tt.tool)
				}
				argv[0] = p
			}
			wantAllocs, wantFrees, wantBytes := memcheck(t, argv...)
			t.Logf("memcheck: allocs=%v frees=%v bytes=%v", wantAllocs, wantFrees, wantBytes)
			for _, mode := range modes {
				t.Run(mode.name, func(t *testing.T) {
					got := measure(t, mode.opts, argv...)
					if got.Stats.AllocCalls != wantAllocs {
						t.Errorf("alloc calls = %v, memcheck says %v", got.Stats.AllocCalls, wantAllocs)
					}
					if got.Stats.FreeCalls != wantFrees {
						t.Errorf("free calls = %v, memcheck says %v", got.Stats.FreeCalls, wantFrees)
					}
					if rel := math.Abs(got.Stats.TotalAllocatedBytes-wantBytes) / max(wantBytes, 1); rel > 0.001 {
						t.Errorf("total bytes = %v, memcheck says %v (off by %.3f%%)", got.Stats.TotalAllocatedBytes, wantBytes, rel*100)
					}
				})
			}
		})
	}
}

// modes are the two ways the instrument counts C allocators: the preload
// interposer (default) and eBPF probes only.
var modes = []struct {
	name string
	opts SessionOptions
}{
	{"preload", SessionOptions{}},
	{"ebpf", SessionOptions{EBPFOnly: true}},
}

// TestMain removes the programs built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir.dir != "" {
		os.RemoveAll(buildDir.dir)
	}
	os.Exit(code)
}
