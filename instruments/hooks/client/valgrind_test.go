package client

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// TestNativeNoOps: outside valgrind the magic sequences change nothing and
// every request answers its default, 0. (The same test runs on arm64 under
// qemu in TestArm64UnderQemu.)
func TestNativeNoOps(t *testing.T) {
	if os.Getenv("CLIENT_TEST_UNDER_VALGRIND") != "" {
		t.Skip("running under valgrind on purpose")
	}
	for name, f := range map[string]func() uintptr{
		"RunningOnValgrind":    RunningOnValgrind,
		"ZeroStats":            ZeroStats,
		"StartInstrumentation": StartInstrumentation,
		"StopInstrumentation":  StopInstrumentation,
		"DumpStats":            DumpStats,
		"DumpStatsAt":          func() uintptr { return DumpStatsAt("x") },
	} {
		if got := f(); got != 0 {
			t.Errorf("%s() = %d outside valgrind, want 0", name, got)
		}
	}
	// The request default comes back untouched.
	if got := request(42, reqRunningOnValgrind, 0, 0, 0, 0, 0); got != 42 {
		t.Errorf("request default = %d, want 42", got)
	}
}

func TestRequestCodes(t *testing.T) {
	// callgrind.h: VG_USERREQ_TOOL_BASE('C','T') = 0x43 << 24 | 0x54 << 16.
	want := map[uintptr]uintptr{reqDumpStats: 0x43540000, reqZeroStats: 0x43540001, reqToggleCollect: 0x43540002,
		reqDumpStatsAt: 0x43540003, reqStartInstrumentation: 0x43540004, reqStopInstrumentation: 0x43540005}
	for got, w := range want {
		if got != w {
			t.Errorf("request code %#x, want %#x", got, w)
		}
	}
}

var (
	progMu    sync.Mutex
	progBuilt = map[string]string{}
	progDir   string
)

// buildProg builds testdata/callgrindprog for goarch once per test run.
func buildProg(t *testing.T, goarch string) string {
	t.Helper()
	progMu.Lock()
	defer progMu.Unlock()
	if bin, ok := progBuilt[goarch]; ok {
		return bin
	}
	if progDir == "" {
		d, err := os.MkdirTemp("", "callgrindprog")
		if err != nil {
			t.Fatal(err)
		}
		progDir = d
	}
	bin := filepath.Join(progDir, "callgrindprog-"+goarch)
	// A fixed heap base: Go 1.26 randomises it, and at some addresses
	// valgrind 3.19 collides with it and aborts (see instruments/simulation).
	// Toolchains without the experiment reject its name: build without it.
	var out []byte
	var err error
	for _, exp := range []string{"GOEXPERIMENT=norandomizedheapbase64", ""} {
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "./testdata/callgrindprog")
		cmd.Env = append(os.Environ(), "GOARCH="+goarch, "CGO_ENABLED=0", exp)
		if out, err = cmd.CombinedOutput(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("build callgrindprog: %v\n%s", err, out)
	}
	progBuilt[goarch] = bin
	return bin
}

// TestUnderCallgrind runs a program using the client under real valgrind:
// RUNNING_ON_VALGRIND answers 1, the client switches to callgrind requests,
// DUMP_STATS_AT produces dumps named by its string, and only the region
// between StartBenchmark and StopBenchmark is counted.
func TestUnderCallgrind(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("no client requests on %s", runtime.GOARCH)
	}
	vg, err := exec.LookPath("valgrind")
	if err != nil {
		testenv.Missing(t, "valgrind not installed (apt-get install valgrind)")
	}
	bin := buildProg(t, runtime.GOARCH)
	out := t.TempDir()
	cmd := exec.Command(vg, "--tool=callgrind", "--instr-atstart=no",
		"--callgrind-out-file="+filepath.Join(out, "callgrind.out"), bin)
	// As the simulation instrument runs Go programs: without asynchronous
	// preemption, whose SIGURG can make callgrind 3.19 abort (threads.c
	// post_signal assertion; seen about once in 150 runs under load).
	cmd.Env = append(os.Environ(), "CODSPEED_HOOKS_DIR="+t.TempDir(), "GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("valgrind: %v\n%s\n%s", err, stdout, excerpt(stderr.String()))
	}
	for _, want := range []string{"running_on_valgrind=1", "active=true valgrind=true"} {
		if !strings.Contains(string(stdout), want) {
			t.Fatalf("output lacks %q:\n%s", want, stdout)
		}
	}
	dumps := map[string]int64{} // desc -> total Ir
	files, _ := filepath.Glob(filepath.Join(out, "callgrind.out*"))
	for _, f := range files {
		desc, total := readDump(t, f)
		dumps[desc] = total
	}
	t.Logf("dumps: %v", dumps)
	if _, ok := dumps["Trigger: Client Request: Metadata: callgrindprog 1.0"]; !ok {
		t.Errorf("no metadata dump")
	}
	if _, ok := dumps["Trigger: Client Request: direct dump"]; !ok {
		t.Errorf("no dump named by DumpStatsAt's string")
	}
	ir, ok := dumps["Trigger: Client Request: prog.go::BenchmarkWork"]
	if !ok {
		t.Fatalf("no benchmark dump")
	}
	// work(100000) is at least 3 instructions per iteration; the second
	// call ran with instrumentation off and must be missing from every dump.
	if ir < 300000 || ir > 2000000 {
		t.Errorf("benchmark dump counted %d instructions, want the one measured call (~300k-1M)", ir)
	}
	if d := dumps["Trigger: Client Request: direct dump"]; d > 10000 {
		t.Errorf("region after StopBenchmark was counted: %d instructions", d)
	}
}

var totalsRe = regexp.MustCompile(`^(?:totals|summary):\s+(\d+)`)

func readDump(t *testing.T, path string) (desc string, total int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "desc: "); ok && strings.HasPrefix(d, "Trigger:") {
			desc = d
		}
		if m := totalsRe.FindStringSubmatch(line); m != nil {
			total, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	return desc, total
}

// TestProgNatively: the same program outside valgrind and without a runner
// is inactive and every request answers 0.
func TestProgNatively(t *testing.T) {
	bin := buildProg(t, runtime.GOARCH)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "CODSPEED_HOOKS_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "running_on_valgrind=0\nactive=false valgrind=false\ndump_stats_at=0\n"
	if string(out) != want {
		t.Fatalf("output\n%s\nwant\n%s", out, want)
	}
}

// magicSequence returns the encodings of valgrind's preamble and request
// instruction inside function fn of a disassembly.
func magicSequence(t *testing.T, objdump, file, fn string) []string {
	t.Helper()
	out, err := exec.Command(objdump, "-d", file).Output()
	if err != nil {
		t.Fatalf("%s -d %s: %v", objdump, file, err)
	}
	var seq []string
	in := false
	// "  4d:	48 87 db             	xchg   %rbx,%rbx" or "a6338:	93cc0d8c 	ror	x12, x12, #3"
	insn := regexp.MustCompile(`^\s*[0-9a-f]+:\s+((?:[0-9a-f]{2} )+|[0-9a-f]{8})\s+(\S+)`)
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(line, ">:") {
			in = strings.Contains(line, fn)
			continue
		}
		if m := insn.FindStringSubmatch(line); in && m != nil {
			switch m[2] {
			case "rol", "ror", "xchg", "orr":
				seq = append(seq, strings.TrimSpace(m[1]))
			}
		}
	}
	return seq
}

// TestMagicMatchesValgrindHeader compiles valgrind.h's RUNNING_ON_VALGRIND
// with gcc for amd64 and arm64 and checks that the Go assembly emits the
// very same magic instructions, byte for byte. Valgrind recognises the
// sequence by its bytes, so this is what makes arm64 right although this
// host cannot run valgrind on arm64.
func TestMagicMatchesValgrindHeader(t *testing.T) {
	if _, err := os.Stat("/usr/include/valgrind/valgrind.h"); err != nil {
		testenv.Missing(t, "valgrind.h not installed (apt-get install valgrind)")
	}
	arches := []struct{ goarch, gcc, objdump string }{
		{"amd64", "x86_64-linux-gnu-gcc", "x86_64-linux-gnu-objdump"},
		{"arm64", "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-objdump"},
	}
	src := filepath.Join(t.TempDir(), "vg.c")
	os.WriteFile(src, []byte("#include <valgrind/valgrind.h>\nunsigned long f(void) { return RUNNING_ON_VALGRIND; }\n"), 0o644)
	for _, a := range arches {
		t.Run(a.goarch, func(t *testing.T) {
			for _, tool := range []string{a.gcc, a.objdump} {
				if _, err := exec.LookPath(tool); err != nil {
					t.Skipf("%s not installed (apt-get install gcc-aarch64-linux-gnu binutils-x86-64-linux-gnu)", tool)
				}
			}
			obj := filepath.Join(t.TempDir(), "vg.o")
			if out, err := exec.Command(a.gcc, "-O2", "-I/usr/include", "-c", src, "-o", obj).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", a.gcc, err, out)
			}
			want := magicSequence(t, a.objdump, obj, "<f>")
			got := magicSequence(t, a.objdump, buildProg(t, a.goarch), "clientRequest")
			if len(want) != 5 || strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("Go emits %q, valgrind.h %q", got, want)
			}
		})
	}
}

// TestArm64UnderQemu runs this package's tests built for arm64 under
// qemu-aarch64-static: the arm64 assembly executes and answers defaults.
func TestArm64UnderQemu(t *testing.T) {
	if runtime.GOARCH == "arm64" {
		t.Skip("already on arm64")
	}
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		testenv.Missing(t, "qemu-aarch64-static not installed (apt-get install qemu-user-static)")
	}
	if testing.Short() {
		t.Skip("builds a second test binary")
	}
	bin := filepath.Join(t.TempDir(), "client.test")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build arm64 test: %v\n%s", err, out)
	}
	out, err := exec.Command(qemu, bin, "-test.run=^(TestNativeNoOps|TestRequestCodes)$", "-test.v").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNativeNoOps") {
		t.Fatalf("arm64 tests under qemu: %v\n%s", err, out)
	}
}

// excerpt keeps the head of valgrind's report (where an assertion or a
// crash is named) and its end (the program's last words) for a failure
// message.
func excerpt(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = append(append(lines[:25:25], "[...]"), lines[len(lines)-15:]...)
	}
	return strings.Join(lines, "\n")
}
