package walltime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// warnings records what the instrument tells the user.
type warnings struct {
	instruments.NopProgress
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Warn(msg string) {
	w.mu.Lock()
	w.msgs = append(w.msgs, msg)
	w.mu.Unlock()
}

func canSample(t *testing.T) {
	t.Helper()
	if _, err := perf.Probe(); err != nil {
		testenv.Missing(t, "this host cannot sample: %v", err)
	}
}

func buildPrimes(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "primes")
	// -fno-inline keeps count_primes a function of its own at -O2.
	out, err := exec.Command("cc", "-O2", "-g", "-fno-inline", "-fno-omit-frame-pointer", "-o", bin, "../../examples/c/primes.c").CombinedOutput()
	if err != nil {
		testenv.Missing(t, "cc: %v\n%s", err, out)
	}
	return bin
}

func primesTarget(bin string) instruments.Target {
	zero, rounds := time.Duration(0), int64(4)
	return instruments.Target{Name: "primes", Kind: instruments.Exec, Command: bin + " 2000000 5",
		Args: []string{bin, "2000000", "5"}, Options: instruments.Options{WarmupTime: &zero, MaxRounds: &rounds}}
}

func readArtifact(t *testing.T, folder, rel string) string {
	t.Helper()
	if rel == "" || filepath.IsAbs(rel) {
		t.Fatalf("artifact path %q is not relative to the profile folder", rel)
	}
	b, err := os.ReadFile(filepath.Join(folder, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The flame graph of the C example names its hot function, and the results
// say which event was sampled.
func TestExecTargetProfile(t *testing.T) {
	canSample(t)
	bin := buildPrimes(t)
	folder := t.TempDir()
	w := &warnings{}
	in := New("", Options{Perf: true})
	benches, err := in.Measure(context.Background(), primesTarget(bin), instruments.Env{ProfileFolder: folder, Progress: w})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.msgs) > 0 {
		t.Errorf("warnings: %q", w.msgs)
	}
	p := benches[0].Profile
	if p == nil || (p.Event != perf.EventCPUClock && p.Event != perf.EventCycles) {
		t.Fatalf("profile %+v", p)
	}
	foldedText := readArtifact(t, folder, p.Folded)
	if !strings.Contains(foldedText, ";main;count_primes ") {
		t.Errorf("folded stacks lack main;count_primes:\n%s", foldedText)
	}
	if svg := readArtifact(t, folder, p.Flamegraph); !strings.Contains(svg, "count_primes") {
		t.Errorf("flame graph does not name count_primes")
	}
	if p.Raw != "" {
		t.Errorf("a raw samples file %q was written: nothing reads one", p.Raw)
	}
	dir := filepath.Join(folder, filepath.Dir(p.Folded))
	maps, _ := filepath.Glob(filepath.Join(dir, "maps", "perf-*.map"))
	if len(maps) != 4 {
		t.Errorf("%d symbol maps, want one per round (4): %v", len(maps), maps)
	}
	for _, m := range maps {
		if b, _ := os.ReadFile(m); !strings.Contains(string(b), " count_primes\n") {
			t.Errorf("%s lacks count_primes:\n%s", m, b)
		}
	}
	if cfi, _ := filepath.Glob(filepath.Join(dir, "unwind", "*")); len(cfi) != 0 {
		t.Errorf("unwind tables written (nothing reads them): %v", cfi)
	}
}

// Go benchmarks run by `go test -bench` get the samples under their own
// Benchmark function.
func TestGoEntrypointProfile(t *testing.T) {
	canSample(t)
	if testing.Short() {
		t.Skip("builds and runs a Go test binary")
	}
	folder := t.TempDir()
	rounds := int64(1)
	dir, _ := filepath.Abs("../../examples/go/wordfreq")
	target := instruments.Target{Name: "wordfreq", Kind: instruments.Entrypoint, Dir: dir,
		Command: "go test -run ^$ -bench . -benchtime 150ms", Args: []string{"go", "test", "-run", "^$", "-bench", ".", "-benchtime", "150ms"},
		Options: instruments.Options{MinRounds: &rounds}}
	w := &warnings{}
	benches, err := New("", Options{Perf: true}).Measure(context.Background(), target, instruments.Env{ProfileFolder: folder, Progress: w, BaseEnv: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]results.Benchmark{}
	for _, b := range benches {
		byName[b.Name] = b
	}
	for name, fn := range map[string]string{"BenchmarkCount": "wordfreq.Count", "BenchmarkTop/words=1000": "wordfreq.Top"} {
		b, ok := byName[name]
		if !ok || b.Profile == nil {
			t.Fatalf("%s: no profile (benchmarks %v)", name, benches)
		}
		text := readArtifact(t, folder, b.Profile.Folded)
		if !strings.Contains(text, fn+";") && !strings.Contains(text, fn+" ") {
			t.Errorf("%s profile does not name %s:\n%s", name, fn, grepLines(text, ".test;"))
		}
		if other := map[string]string{"BenchmarkCount": ".BenchmarkTop", "BenchmarkTop/words=1000": ".BenchmarkCount;"}[name]; strings.Contains(text, other) {
			t.Errorf("%s's profile holds samples of %s", name, other)
		}
	}
}

// When sampling is not permitted the benchmark still runs, and one warning
// (not one per target) says what to change.
func TestProfilingNotPermitted(t *testing.T) {
	bin := buildPrimes(t)
	in := New("", Options{Perf: true})
	calls := 0
	in.prof.probe = func() (perf.Capability, error) {
		calls++
		return perf.Capability{}, fmt.Errorf("perf: sampling not permitted: run `sudo sysctl kernel.perf_event_paranoid=2`: %w: %w", perf.ErrNotPermitted, instruments.ErrNotSupported)
	}
	w := &warnings{}
	for range 2 {
		benches, err := in.Measure(context.Background(), primesTarget(bin), instruments.Env{ProfileFolder: t.TempDir(), Progress: w})
		if err != nil || len(benches) != 1 || benches[0].Stats == nil || benches[0].Profile != nil {
			t.Fatalf("benches %+v, err %v", benches, err)
		}
	}
	if calls != 1 || len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "sysctl kernel.perf_event_paranoid=2") {
		t.Fatalf("%d probes, warnings %q", calls, w.msgs)
	}
}

// TestSeccompChild runs only as the child of TestProfilingUnderSeccomp.
func TestSeccompChild(t *testing.T) {
	if os.Getenv("WALLTIME_TEST_SECCOMP_CHILD") == "" {
		t.Skip("runs as the child of TestProfilingUnderSeccomp")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_PERF_EVENT_OPEN, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog))); errno != 0 {
		t.Fatal(errno)
	}
	w := &warnings{}
	benches, err := New("", Options{Perf: true}).Measure(context.Background(), primesTarget(os.Getenv("WALLTIME_TEST_SECCOMP_CHILD")), instruments.Env{ProfileFolder: t.TempDir(), Progress: w})
	fmt.Printf("BENCHES: %d STATS: %v PROFILE: %v ERR: %v\n", len(benches), len(benches) == 1 && benches[0].Stats != nil, len(benches) == 1 && benches[0].Profile != nil, err)
	for _, m := range w.msgs {
		fmt.Printf("WARNING: %s\n", m)
	}
}

// Under a real seccomp filter that refuses perf_event_open, as in a default
// Docker container.
func TestProfilingUnderSeccomp(t *testing.T) {
	bin := buildPrimes(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSeccompChild$", "-test.v")
	cmd.Env = append(os.Environ(), "WALLTIME_TEST_SECCOMP_CHILD="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "BENCHES: 1 STATS: true PROFILE: false ERR: <nil>") || strings.Count(s, "WARNING: ") != 1 ||
		!strings.Contains(s, "WARNING: profiling skipped, the benchmarks still run: perf: perf_event_open is blocked by a seccomp filter") {
		t.Fatalf("child output:\n%s", s)
	}
	t.Log(s)
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Go benchmarks are timed unsampled: every sample of the recording comes
// from the profiling pass's test binary, none from the timed run's.
func TestGoTimedRoundsUnsampled(t *testing.T) {
	canSample(t)
	if testing.Short() {
		t.Skip("builds and runs a Go test binary")
	}
	folder := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pids")
	rounds := int64(3)
	dir, _ := filepath.Abs("testdata/pidbench")
	target := instruments.Target{Name: "pidbench", Kind: instruments.Entrypoint, Dir: dir,
		Command: "go test -run ^$ -bench . -benchtime 100ms", Args: []string{"go", "test", "-run", "^$", "-bench", ".", "-benchtime", "100ms"},
		Env: []string{"PIDBENCH_FILE=" + pidFile}, Options: instruments.Options{MinRounds: &rounds}}
	w := &warnings{}
	benches, err := New("", Options{Perf: true}).Measure(context.Background(), target, instruments.Env{ProfileFolder: folder, Progress: w, BaseEnv: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 1 || len(benches[0].Samples) != 3 || benches[0].Profile == nil {
		t.Fatalf("benchmarks %+v", benches)
	}
	pids, _ := os.ReadFile(pidFile)
	lines := strings.Fields(string(pids))
	if len(lines) == 0 {
		t.Fatalf("the benchmark recorded no pid")
	}
	timed := lines[0]
	// The profile folder keeps, per sampled process, the symbols its
	// samples hit (maps/perf-<pid>.map): the timed test binary has none.
	maps, _ := filepath.Glob(filepath.Join(folder, filepath.Dir(benches[0].Profile.Folded), "maps", "perf-*.map"))
	var fromTimed, fromOthers int
	for _, m := range maps {
		if filepath.Base(m) == "perf-"+timed+".map" {
			fromTimed++
		} else {
			fromOthers++
		}
	}
	if fromTimed > 0 {
		t.Errorf("the timed test binary (pid %s) was sampled: %v", timed, maps)
	}
	if len(lines) != 2 {
		t.Errorf("test binaries %v, want the timed run's and the profiling pass's", lines)
	}
	if fromOthers == 0 {
		t.Errorf("the profiling pass recorded no sample: %v", maps)
	}
}
