package gobench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// TestCommand is a `go test -bench` command line split into what an
// instrument that builds the test binary itself (`go test -c`) and runs one
// benchmark at a time needs.
type TestCommand struct {
	Dir   string   // -C, as written (relative to the command's directory)
	Pkgs  []string // package patterns (default ".")
	Bench string   // -bench regexp
	// Build holds the build flags, for `go list` and `go test -c`.
	Build []string
	// BinFlags are flags for the test binary that do not change what is
	// measured (-test.short, -test.timeout, -test.failfast, and what
	// follows -args).
	BinFlags []string
	// Ignored are flags the instrument replaces with its own and that change
	// what is run or reported (-benchtime, -count, -cpu, -run selecting
	// tests, profiles, ...): worth a warning.
	Ignored []string
	// Harmless are flags the instrument drops without consequence: -run
	// selecting no test (the README's `-run='^$'`, which is what the runner
	// does anyway), -v, -benchmem, -json.
	Harmless []string
}

// Flags of `go test` that take a value, split by where they go.
var (
	buildValueFlags = map[string]bool{"asmflags": true, "buildmode": true, "compiler": true, "gccgoflags": true,
		"gcflags": true, "installsuffix": true, "ldflags": true, "mod": true, "modfile": true, "overlay": true,
		"pgo": true, "pkgdir": true, "tags": true, "toolexec": true, "p": true}
	buildBoolFlags = map[string]bool{"a": true, "race": true, "msan": true, "asan": true, "trimpath": true,
		"linkshared": true, "buildvcs": true, "cover": true, "work": true, "x": true, "n": true}
	testValueFlags = map[string]bool{"bench": true, "benchtime": true, "blockprofile": true, "blockprofilerate": true,
		"count": true, "coverprofile": true, "covermode": true, "coverpkg": true, "cpu": true, "cpuprofile": true,
		"fuzz": true, "fuzztime": true, "fuzzminimizetime": true, "list": true, "memprofile": true,
		"memprofilerate": true, "mutexprofile": true, "mutexprofilefraction": true, "outputdir": true,
		"parallel": true, "run": true, "skip": true, "timeout": true, "trace": true, "shuffle": true, "o": true,
		"exec": true, "vet": true, "C": true}
)

// ParseTestCommand splits argv, a `go test` command line (argv[0] "go",
// argv[1] "test"), into a TestCommand. The only error is a value flag at
// the end of the line without its value.
func ParseTestCommand(argv []string) (TestCommand, error) {
	var g TestCommand
	if len(argv) < 2 {
		return g, fmt.Errorf("not a go test command line: %q", argv)
	}
	args := argv[2:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-args" || a == "--args" {
			g.BinFlags = append(g.BinFlags, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			g.Pkgs = append(g.Pkgs, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		name = strings.TrimPrefix(name, "test.")
		if !hasVal && (buildValueFlags[name] || testValueFlags[name]) {
			if i+1 >= len(args) {
				return g, fmt.Errorf("go test flag -%s needs a value", name)
			}
			i++
			val = args[i]
		}
		switch {
		case name == "C":
			g.Dir = val
		case name == "bench":
			g.Bench = val
		case buildValueFlags[name]:
			g.Build = append(g.Build, "-"+name+"="+val)
		case buildBoolFlags[name]:
			g.Build = append(g.Build, a)
		case name == "short" || name == "timeout" || name == "failfast":
			f := "-test." + name
			if hasVal || name == "timeout" {
				f += "=" + val
			}
			g.BinFlags = append(g.BinFlags, f)
		default:
			if !hasVal && (buildValueFlags[name] || testValueFlags[name]) {
				a += "=" + val // as one word in messages
			}
			if harmlessFlag(name, val) {
				g.Harmless = append(g.Harmless, a)
			} else {
				g.Ignored = append(g.Ignored, a)
			}
		}
	}
	if len(g.Pkgs) == 0 {
		g.Pkgs = []string{"."}
	}
	return g, nil
}

// harmlessFlag reports whether dropping the go test flag name=val changes
// nothing an instrument that runs one benchmark at a time measures or
// reports: verbosity and output format, -benchmem (the instruments count
// allocations themselves), and a -run that selects no test.
func harmlessFlag(name, val string) bool {
	switch name {
	case "v", "benchmem", "json":
		return true
	case "run":
		return RunSelectsNoTest(val)
	}
	return false
}

// RunSelectsNoTest reports whether a -run pattern selects no test, example
// or fuzz target whatever the package: its first level matches only the
// empty string (`^$`, `$^`), or it is anchored to a literal that no Test,
// Example or Fuzz name can start with (`^#`, `^NONE`). An unanchored
// pattern such as `XXX` could select TestXXX, so it is not.
func RunSelectsNoTest(pattern string) bool {
	re, err := syntax.Parse(SplitBenchRegexp(pattern)[0], syntax.Perl)
	if err != nil {
		return false
	}
	re = re.Simplify()
	if matchesOnlyEmpty(re) {
		return true
	}
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[1].Op != syntax.OpLiteral || re.Sub[1].Flags&syntax.FoldCase != 0 {
		return false
	}
	if op := re.Sub[0].Op; op != syntax.OpBeginText && op != syntax.OpBeginLine {
		return false
	}
	lit := string(re.Sub[1].Rune)
	for _, kind := range []string{"Test", "Example", "Fuzz"} {
		if strings.HasPrefix(lit, kind) || strings.HasPrefix(kind, lit) {
			return false
		}
	}
	return true
}

// matchesOnlyEmpty reports whether re can match nothing but empty text:
// anchors and empty matches, however combined.
func matchesOnlyEmpty(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		return true
	case syntax.OpConcat, syntax.OpAlternate, syntax.OpCapture, syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		for _, sub := range re.Sub {
			if !matchesOnlyEmpty(sub) {
				return false
			}
		}
		return len(re.Sub) > 0
	}
	return false
}

// WorkDir is the directory the go command runs in: dir, moved by -C.
func (g TestCommand) WorkDir(dir string) string {
	if g.Dir == "" {
		return dir
	}
	if filepath.IsAbs(g.Dir) {
		return g.Dir
	}
	return filepath.Join(dir, g.Dir)
}

// TopLevelRegexp compiles the first level of the -bench pattern, which
// selects top-level Benchmark functions.
func (g TestCommand) TopLevelRegexp() (*regexp.Regexp, error) {
	re, err := regexp.Compile(SplitBenchRegexp(g.Bench)[0])
	if err != nil {
		return nil, fmt.Errorf("go test -bench %q: %w", g.Bench, err)
	}
	return re, nil
}

// Package is what `go list` says about a package.
type Package struct {
	ImportPath   string
	Dir          string
	TestGoFiles  []string
	XTestGoFiles []string
	Error        *struct{ Err string }
}

// BenchmarkDecls maps each Benchmark function of the package's test files
// to the file that declares it.
func (p Package) BenchmarkDecls() (map[string]string, error) {
	var files []string
	for _, name := range append(append([]string{}, p.TestGoFiles...), p.XTestGoFiles...) {
		files = append(files, filepath.Join(p.Dir, name))
	}
	return BenchmarkDecls(files)
}

// MatchingBenchmarks returns the package's Benchmark declarations (function
// -> file) and whether any of them is selected by top; a package that go
// list could not load is an error naming it.
func (p Package) MatchingBenchmarks(top *regexp.Regexp) (map[string]string, bool, error) {
	if p.Error != nil {
		return nil, false, fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
	}
	decls, err := p.BenchmarkDecls()
	if err != nil {
		return nil, false, err
	}
	for name := range decls {
		if top.MatchString(name) {
			return decls, true, nil
		}
	}
	return decls, false, nil
}

// TestBinaryPath is where the index-th package's test binary goes in dir.
// Numbered: import paths that share their first 80 bytes make the same
// instruments.FileName, and a second binary at the same path would be taken
// for the first (the memory session caches ELF scans by path).
func TestBinaryPath(dir string, index int, importPath string) string {
	return filepath.Join(dir, fmt.Sprintf("%03d-%s.test", index+1, instruments.FileName(importPath, "pkg")))
}

// BuildTestBinary compiles pkg's test binary to bin (`go test -c` with the
// command's build flags), in dir with env. The error carries go's output.
func BuildTestBinary(ctx context.Context, dir string, env []string, g TestCommand, pkg, bin string) error {
	args := append(append([]string{"test", "-c", "-o", bin}, g.Build...), pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	instruments.OwnTree(cmd) // go runs the compiler and linker as children
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// ListPackages runs `go list` for the command's packages, in dir with env.
func ListPackages(ctx context.Context, dir string, env []string, g TestCommand) ([]Package, error) {
	args := append(append([]string{"list", "-e", "-json=ImportPath,Dir,TestGoFiles,XTestGoFiles,Error"}, g.Build...), g.Pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", strings.Join(g.Pkgs, " "), err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// Leaf is a benchmark that runs iterations (one without sub-benchmarks),
// as a run of the test binary listed it.
type Leaf struct {
	Name    string  // full name without the GOMAXPROCS suffix
	NsPerOp float64 // from the listing run
	// Failed is the "--- FAIL:" line of a benchmark that failed in the
	// listing run ("" when it did not).
	Failed string
}

// Leaves lists the leaf benchmarks of a test binary's -test.bench output in
// order: sub-benchmarks exist only at run time, so running the binary
// briefly is the only way to learn them. Benchmarks that failed are listed
// with Failed set.
func Leaves(out []byte) []Leaf {
	res, _ := Parse(bytes.NewReader(out), "benchmark listing")
	byLine := map[int]Result{}
	for _, r := range res {
		byLine[r.Line] = r
	}
	var leaves []Leaf
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if r, ok := byLine[n]; ok {
			leaves = append(leaves, Leaf{Name: r.Name, NsPerOp: r.NsPerOp})
		} else if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "--- FAIL: "); ok {
			if f := strings.Fields(rest); len(f) > 0 && strings.HasPrefix(f[0], "Benchmark") {
				leaves = append(leaves, Leaf{Name: trimProcs([]byte(f[0])), Failed: strings.TrimSpace(sc.Text())})
			}
		}
	}
	return leaves
}

// Selector is a -test.bench pattern matching exactly the benchmark named
// name ("BenchmarkX/sub/subsub"), one anchored element per level.
func Selector(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// SplitBenchRegexp splits a -bench pattern into per-level patterns like
// package testing does (at '/' outside brackets and parentheses).
func SplitBenchRegexp(s string) []string {
	if s == "" {
		return []string{"."}
	}
	var out []string
	depth, cs, start := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			cs++
		case ']':
			if cs > 0 {
				cs--
			}
		case '(':
			if cs == 0 {
				depth++
			}
		case ')':
			if cs == 0 && depth > 0 {
				depth--
			}
		case '\\':
			i++
		case '/':
			if depth == 0 && cs == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
