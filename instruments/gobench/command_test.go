package gobench

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
)

func TestParseTestCommand(t *testing.T) {
	for _, tt := range []struct {
		name string
		argv string
		want TestCommand
		err  string
	}{
		{name: "plain", argv: "go test -bench=.",
			want: TestCommand{Pkgs: []string{"."}, Bench: "."}},
		{name: "split values and packages", argv: "go test -C sub -bench Foo/bar -tags x -race -benchmem -count 3 ./a ./b",
			want: TestCommand{Dir: "sub", Pkgs: []string{"./a", "./b"}, Bench: "Foo/bar",
				Build: []string{"-tags=x", "-race"}, Ignored: []string{"-count=3"}, Harmless: []string{"-benchmem"}}},
		// The README's own command line: nothing to warn about.
		{name: "README", argv: "go test -run=^$ -bench=. ./...",
			want: TestCommand{Pkgs: []string{"./..."}, Bench: ".", Harmless: []string{"-run=^$"}}},
		{name: "examples/codspeed.yml", argv: "go test -run=^$ -bench=. -benchtime=100ms -benchmem ./examples/go/wordfreq",
			want: TestCommand{Pkgs: []string{"./examples/go/wordfreq"}, Bench: ".", Ignored: []string{"-benchtime=100ms"}, Harmless: []string{"-run=^$", "-benchmem"}}},
		{name: "flags that change what runs", argv: "go test -run TestFoo -v -cpu 1,2 -test.run=^# -bench=.",
			want: TestCommand{Pkgs: []string{"."}, Bench: ".", Ignored: []string{"-run=TestFoo", "-cpu=1,2"}, Harmless: []string{"-v", "-test.run=^#"}}},
		{name: "test. prefix and binary flags", argv: "go test -test.bench=X -short -timeout=1m -failfast -args -my 1",
			want: TestCommand{Pkgs: []string{"."}, Bench: "X",
				BinFlags: []string{"-test.short", "-test.timeout=1m", "-test.failfast", "-my", "1"}}},
		{name: "missing value", argv: "go test -bench", err: "-bench needs a value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTestCommand(strings.Fields(tt.argv))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := ParseTestCommand([]string{"go"}); err == nil {
		t.Error("a one-word command line parsed")
	}
}

func TestRunSelectsNoTest(t *testing.T) {
	for pattern, want := range map[string]bool{
		"^$": true, "$^": true, "^$/x": true, `^\z`: true, "^#": true, "^NONE$": true, "^(?:$)": true,
		"XXX": false, "NONE": false, ".": false, "": false, "^Test": false, "^Te": false, "^Example_x": false,
		"^Fuzz": false, "^(?i)test": false, "^$|TestA": false, "[": false, "^x|y": false,
	} {
		if got := RunSelectsNoTest(pattern); got != want {
			t.Errorf("RunSelectsNoTest(%q) = %v, want %v", pattern, got, want)
		}
	}
	// What the patterns said to select nothing really select nothing.
	for _, name := range []string{"Test", "TestA", "Example", "ExampleFoo_bar", "Fuzz", "FuzzX", "Test_a/b"} {
		for _, pattern := range []string{"^$", "$^", "^#", "^NONE$"} {
			if regexp.MustCompile(pattern).MatchString(name) {
				t.Errorf("%q matches %q", pattern, name)
			}
		}
	}
}

func TestWorkDir(t *testing.T) {
	for _, tt := range []struct{ c, dir, want string }{
		{"", "/w", "/w"}, {"sub", "/w", "/w/sub"}, {"/abs", "/w", "/abs"},
	} {
		if got := (TestCommand{Dir: tt.c}).WorkDir(tt.dir); got != tt.want {
			t.Errorf("WorkDir(-C %q, %q) = %q, want %q", tt.c, tt.dir, got, tt.want)
		}
	}
}

func TestSplitBenchRegexpAndSelector(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"", []string{"."}},
		{"A/b", []string{"A", "b"}},
		{"A(x/y)/b", []string{"A(x/y)", "b"}},
		{"A[/]/b", []string{"A[/]", "b"}},
		{`A\/b`, []string{`A\/b`}},
	} {
		if got := SplitBenchRegexp(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitBenchRegexp(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := Selector("BenchmarkX/n=1.5/a+b"), `^BenchmarkX$/^n=1\.5$/^a\+b$`; got != want {
		t.Errorf("Selector = %q, want %q", got, want)
	}
	re, err := TestCommand{Bench: "Sort/n=1"}.TopLevelRegexp()
	if err != nil || !re.MatchString("BenchmarkSort") || re.MatchString("BenchmarkMap") {
		t.Errorf("TopLevelRegexp = %v, %v", re, err)
	}
	if _, err := (TestCommand{Bench: "("}).TopLevelRegexp(); err == nil {
		t.Error("bad -bench pattern compiled")
	}
}

const listing = `goos: linux
pkg: example.com/m
BenchmarkA-2     	     100	      1000 ns/op
BenchmarkB/n=1   	      10	     20000 ns/op	      16 B/op	       1 allocs/op
--- FAIL: BenchmarkC
    x_test.go:9: boom
BenchmarkD/sub#01-2	       5	    300000 ns/op
FAIL
`

func TestLeaves(t *testing.T) {
	want := []Leaf{
		{Name: "BenchmarkA", NsPerOp: 1000},
		{Name: "BenchmarkB/n=1", NsPerOp: 20000},
		{Name: "BenchmarkC", Failed: "--- FAIL: BenchmarkC"},
		{Name: "BenchmarkD/sub#01", NsPerOp: 300000},
	}
	if got := Leaves([]byte(listing)); !reflect.DeepEqual(got, want) {
		t.Errorf("Leaves =\n%+v\nwant\n%+v", got, want)
	}
}

func FuzzParseTestCommand(f *testing.F) {
	f.Add("go test -bench=. -C x ./...")
	f.Add("go test -bench -args")
	f.Add("go test --test.bench=A/b -tags=a,b -- -x")
	f.Fuzz(func(t *testing.T, line string) {
		g, err := ParseTestCommand(strings.Fields(line))
		if err == nil && len(g.Pkgs) == 0 {
			t.Errorf("no package for %q", line)
		}
	})
}

func FuzzLeaves(f *testing.F) {
	f.Add(listing)
	f.Add("BenchmarkX 1 1 ns/op\n--- FAIL: \n")
	f.Fuzz(func(t *testing.T, out string) {
		for _, l := range Leaves([]byte(out)) {
			if !strings.HasPrefix(l.Name, "Benchmark") {
				t.Errorf("leaf %q from %q", l.Name, out)
			}
		}
	})
}

func TestMatchingBenchmarks(t *testing.T) {
	dir := t.TempDir()
	src := "package p\n\nimport \"testing\"\n\nfunc BenchmarkSort(b *testing.B) {}\nfunc BenchmarkFind(b *testing.B) {}\nfunc Benchmarkx(b *testing.B) {}\n"
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Package{ImportPath: "example.com/p", Dir: dir, TestGoFiles: []string{"p_test.go"}}
	decls, ok, err := p.MatchingBenchmarks(regexp.MustCompile("Sort"))
	if err != nil || !ok || len(decls) != 2 || decls["BenchmarkSort"] != filepath.Join(dir, "p_test.go") {
		t.Fatalf("decls %v, matched %v, err %v", decls, ok, err)
	}
	if _, ok, _ := p.MatchingBenchmarks(regexp.MustCompile("^Nothing$")); ok {
		t.Fatal("nothing should match")
	}
	broken := Package{ImportPath: "example.com/q", Error: &struct{ Err string }{"no Go files"}}
	if _, _, err := broken.MatchingBenchmarks(regexp.MustCompile(".")); err == nil || !strings.Contains(err.Error(), "example.com/q: no Go files") {
		t.Fatalf("error %v", err)
	}
}

func TestTestBinaryPath(t *testing.T) {
	long := strings.Repeat("example.com/very/long/module/path/", 4)
	a, b := TestBinaryPath("d", 0, long+"a"), TestBinaryPath("d", 1, long+"b")
	if a == b || a != filepath.Join("d", "001-"+instruments.FileName(long+"a", "pkg")+".test") {
		t.Errorf("paths %q and %q: want distinct, numbered from 001", a, b)
	}
}
