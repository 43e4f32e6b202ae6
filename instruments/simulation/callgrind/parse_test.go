package callgrind

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// render prints what the parser understood, for golden comparison: every
// part's header figures, every function's self cost and calls, and the
// folded stacks of Ir.
func render(p *Profile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "creator=%q cmd=%q pid=%d thread=%d parts=%d\n", p.Creator, p.Cmd, p.Pid, p.Thread, len(p.Parts))
	for _, pt := range p.Parts {
		fmt.Fprintf(&b, "part %d thread=%d trigger=%q\n  events=%v\n  totals=%v\n  summary=%v\n", pt.Number, pt.Thread, pt.Trigger, pt.Events, pt.Totals, pt.Summary)
		for _, f := range pt.Funcs {
			fmt.Fprintf(&b, "  fn %s [%s] self=%v\n", f.Name, f.Object, f.Self)
			for _, c := range f.Calls {
				fmt.Fprintf(&b, "    call %s x%d incl=%v\n", pt.Funcs[c.Callee].Name, c.Count, c.Inclusive)
			}
		}
		var fb bytes.Buffer
		if err := WriteFolded(&fb, pt.Stacks(pt.EventIndex("Ir"), StackOptions{})); err != nil {
			panic(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(fb.String()), "\n") {
			if l != "" {
				fmt.Fprintf(&b, "  stack %s\n", l)
			}
		}
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.callgrind")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, p)
			got := render(p)
			testenv.Golden(t, strings.TrimSuffix(f, ".callgrind")+".golden", []byte(got))
		})
	}
}

// checkConsistent verifies invariants that hold for every file callgrind
// writes: each part's totals equal the sum of its self costs, and the
// folded Ir stacks add up to the Ir total.
func checkConsistent(t *testing.T, p *Profile) {
	t.Helper()
	for _, pt := range p.Parts {
		sum := make([]int64, len(pt.Events))
		for _, f := range pt.Funcs {
			for i, v := range f.Self {
				sum[i] += v
			}
		}
		for i, e := range pt.Events {
			if sum[i] != pt.Totals[i] {
				t.Errorf("part %d: event %s: self costs sum to %d, totals say %d", pt.Number, e, sum[i], pt.Totals[i])
			}
		}
		ir := pt.EventIndex("Ir")
		var st float64
		for _, v := range pt.Stacks(ir, StackOptions{}) {
			st += v
		}
		if d := st - float64(pt.Total("Ir")); d > 1e-6*float64(pt.Total("Ir"))+1e-6 || d < -1e-6*float64(pt.Total("Ir"))-1e-6 {
			t.Errorf("part %d: stacks sum to %f, Ir total is %d", pt.Number, st, pt.Total("Ir"))
		}
	}
}

func TestHandwritten(t *testing.T) {
	p, err := ParseFile("testdata/handwritten.callgrind")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Parts) != 2 {
		t.Fatalf("parts = %d, want 2", len(p.Parts))
	}
	a := p.Parts[0]
	if name, ok := a.DumpName(); !ok || name != "prog.c::bench_a" {
		t.Errorf("dump name = %q %v", name, ok)
	}
	want := map[string]int64{"main": 8, "helper": 28, "memcpy": 40, "(below main)": 1}
	for _, f := range a.Funcs {
		if f.Self[0] != want[f.Name] {
			t.Errorf("%s self Ir = %d, want %d", f.Name, f.Self[0], want[f.Name])
		}
		if f.Name == "main" {
			// helper's two call sites merge into one arc of 4 calls.
			if len(f.Calls) != 2 {
				t.Fatalf("main calls = %+v", f.Calls)
			}
			for _, c := range f.Calls {
				callee := a.Funcs[c.Callee]
				switch callee.Name {
				case "helper":
					if c.Count != 4 || c.Inclusive[0] != 28 || c.Inclusive[1] != 1 {
						t.Errorf("main->helper = %+v", c)
					}
				case "memcpy":
					if callee.Object != "/lib/libc.so" || c.Count != 2 || c.Inclusive[0] != 40 {
						t.Errorf("main->memcpy = %+v in %s", c, callee.Object)
					}
				default:
					t.Errorf("unexpected callee %s", callee.Name)
				}
			}
		}
	}
	if got := a.Total("DLmw"); got != 1 {
		t.Errorf("DLmw total = %d", got)
	}
	b := p.Parts[1]
	if b.Total("Ir") != 100 || b.Funcs[0].Name != "main" {
		t.Errorf("part 2: totals %v funcs %+v (compressed ids must carry across parts)", b.Totals, b.Funcs)
	}
}

func TestSyntaxErrors(t *testing.T) {
	head := "events: Ir Dr\nfn=f\n"
	tests := []struct {
		name, in string
		line     int
	}{
		{"bad cost", head + "1 2 x\n", 3},
		{"too many costs", head + "1 2 3 4\n", 3},
		{"cost outside fn", "events: Ir\n1 2\n", 2},
		{"undefined compressed name", "events: Ir\nfn=(7)\n", 2},
		{"calls without cfn", head + "calls=1 2\n3 4\n", 3},
		{"calls without cost line", head + "cfn=g\ncalls=1 2\nfn=h\n", 5},
		{"bad position", head + "x 1\n", 3},
		{"unknown spec", head + "zz=1\n", 3},
		{"bad version", "version: 2\n", 1},
		{"totals too long", "events: Ir\ntotals: 1 2\n", 2},
		{"garbage", "hello world\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBytes([]byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want *SyntaxError", err)
			}
			if se.Line != tt.line {
				t.Errorf("line = %d, want %d (%v)", se.Line, tt.line, err)
			}
		})
	}
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"fib'2": "fib", "fib": "fib", "a'b": "a'b", "'3": "'3", "x'": "x'",
		"operator'12": "operator", "(below main)": "(below main)",
	} {
		if got := DisplayName(in); got != want {
			t.Errorf("DisplayName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRealValgrind profiles a program made in the test and checks the
// parser against callgrind's own account: the "Collected" line valgrind
// prints at exit equals the totals of a single whole-run dump (the
// "summary:" line also counts the final exit syscall), and the totals equal
// the sum of self costs.
func TestRealValgrind(t *testing.T) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		testenv.Missing(t, "valgrind not installed (apt-get install valgrind)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	// No stdio output and no allocator: the program runs under valgrind
	// even while a uprobe sits on malloc (see ../README.md).
	if err := os.WriteFile(src, []byte(`#include <stdio.h>
#include <unistd.h>
__attribute__((noinline)) static unsigned h(const char *s) { unsigned x = 5381; while (*s) x = x * 33 + (unsigned char)*s++; return x; }
int main(void) { char buf[64]; unsigned t = 0;
  for (int i = 0; i < 20000; i++) { snprintf(buf, sizeof buf, "key-%d", i); t += h(buf); }
  return write(1, &t, sizeof t) < 0; }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "p")
	if out, err := exec.Command("cc", "-O1", "-g", "-o", bin, src).CombinedOutput(); err != nil {
		testenv.Missing(t, "no C compiler: %v %s", err, out)
	}
	for _, compress := range []string{"yes", "no"} {
		out := filepath.Join(dir, "cg-"+compress+".out")
		cmd := exec.Command("valgrind", "--tool=callgrind", "--cache-sim=yes", "--collect-systime=nsec",
			"--dump-instr=yes", "--compress-strings="+compress, "--callgrind-out-file="+out, bin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			if strings.Contains(stderr.String(), "(SIGTRAP)") {
				testenv.Missing(t, "valgrind cannot run now: a uprobe is attached to a shared library the program uses (another process's eBPF tracing): %s", stderr.String())
			}
			t.Fatalf("valgrind: %v\n%s", err, stderr.String())
		}
		m := regexp.MustCompile(`Collected : ([0-9 ]+)`).FindStringSubmatch(stderr.String())
		if m == nil {
			t.Fatalf("no Collected line in:\n%s", stderr.String())
		}
		p, err := ParseFile(out)
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, p)
		if len(p.Parts) != 1 {
			t.Fatalf("parts = %d", len(p.Parts))
		}
		for i, f := range strings.Fields(m[1]) {
			v, _ := strconv.ParseInt(f, 10, 64)
			if p.Parts[0].Totals[i] != v {
				t.Errorf("compress=%s: %s: totals %d, valgrind collected %d", compress, p.Parts[0].Events[i], p.Parts[0].Totals[i], v)
			}
		}
		// The loop runs 20000 times: h's self cost is far above zero and the
		// call graph knows main calls h 20000 times.
		var found bool
		for _, f := range p.Parts[0].Funcs {
			for _, c := range f.Calls {
				if p.Parts[0].Funcs[c.Callee].Name == "h" && f.Name == "main" {
					found = c.Count == 20000
				}
			}
		}
		if !found {
			t.Errorf("compress=%s: main->h arc with 20000 calls not found", compress)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.callgrind")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 8192 {
			data = data[:8192]
		}
		f.Add(data)
	}
	f.Add([]byte("events: Ir\nfn=(1) a\n1 2\ncfn=(1)\ncalls=1 1\n* 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseBytes(data)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			return
		}
		for _, pt := range p.Parts {
			for _, fn := range pt.Funcs {
				if len(fn.Self) != len(pt.Events) {
					t.Fatalf("self has %d columns for %d events", len(fn.Self), len(pt.Events))
				}
				for _, c := range fn.Calls {
					if c.Callee < 0 || c.Callee >= len(pt.Funcs) || len(c.Inclusive) != len(pt.Events) {
						t.Fatalf("bad call %+v", c)
					}
				}
			}
			if len(pt.Events) > 0 {
				pt.Stacks(0, StackOptions{})
			}
		}
	})
}

// TestSeparateThreads: with --separate-threads=yes and --combine-dumps=yes a
// dump is one part per thread, all with the dump's number.
func TestSeparateThreads(t *testing.T) {
	p, err := ParseFile("testdata/threads-separate.callgrind")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Parts) != 2 || p.Parts[0].Thread != 1 || p.Parts[1].Thread != 2 || p.Parts[0].Number != p.Parts[1].Number {
		for _, pt := range p.Parts {
			t.Logf("part %d thread %d", pt.Number, pt.Thread)
		}
		t.Fatal("want one part per thread with the same number")
	}
}
