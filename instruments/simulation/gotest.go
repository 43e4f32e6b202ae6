package simulation

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/simulation/callgrind"
	"github.com/codspeed-go/codspeed-go/results"
)

// IsGoTest reports whether argv is a `go test` command that runs
// benchmarks (it has a -bench flag): such commands are measured per
// benchmark and per op by the Go method of this package rather than as one
// process. `go test` without -bench runs no benchmark and is not matched.
func IsGoTest(args []string) bool {
	if len(args) < 2 || filepath.Base(args[0]) != "go" || args[1] != "test" {
		return false
	}
	for _, a := range args[2:] {
		if a == "-args" || a == "--args" {
			break
		}
		n := strings.TrimLeft(a, "-")
		if len(n) < len(a) && (n == "bench" || strings.HasPrefix(n, "bench=") || n == "test.bench" || strings.HasPrefix(n, "test.bench=")) {
			return true
		}
	}
	return false
}

// goTestArgs is a `go test` command line split into what the Go method
// needs.
type goTestArgs struct {
	dir      string   // -C
	pkgs     []string // package patterns (default ".")
	bench    string   // -bench regexp
	build    []string // flags for go list / go test -c
	binFlags []string // flags passed to the test binary
	ignored  []string // flags that make no sense here
}

// Flags of `go test` that take a value, split by where they go.
var (
	goBuildValueFlags = map[string]bool{"asmflags": true, "buildmode": true, "compiler": true, "gccgoflags": true,
		"gcflags": true, "installsuffix": true, "ldflags": true, "mod": true, "modfile": true, "overlay": true,
		"pgo": true, "pkgdir": true, "tags": true, "toolexec": true, "p": true}
	goBuildBoolFlags = map[string]bool{"a": true, "race": true, "msan": true, "asan": true, "trimpath": true,
		"linkshared": true, "buildvcs": true, "cover": true, "work": true, "x": true, "n": true}
	goTestValueFlags = map[string]bool{"bench": true, "benchtime": true, "blockprofile": true, "blockprofilerate": true,
		"count": true, "coverprofile": true, "covermode": true, "coverpkg": true, "cpu": true, "cpuprofile": true,
		"fuzz": true, "fuzztime": true, "fuzzminimizetime": true, "list": true, "memprofile": true,
		"memprofilerate": true, "mutexprofile": true, "mutexprofilefraction": true, "outputdir": true,
		"parallel": true, "run": true, "skip": true, "timeout": true, "trace": true, "shuffle": true, "o": true,
		"exec": true, "vet": true, "C": true}
)

func parseGoTestArgs(argv []string) (goTestArgs, error) {
	var g goTestArgs
	args := argv[2:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-args" || a == "--args" {
			g.binFlags = append(g.binFlags, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			g.pkgs = append(g.pkgs, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		name = strings.TrimPrefix(name, "test.")
		if !hasVal && (goBuildValueFlags[name] || goTestValueFlags[name]) {
			if i+1 >= len(args) {
				return g, fmt.Errorf("go test flag -%s needs a value", name)
			}
			i++
			val = args[i]
		}
		switch {
		case name == "C":
			g.dir = val
		case name == "bench":
			g.bench = val
		case goBuildValueFlags[name]:
			g.build = append(g.build, "-"+name+"="+val)
		case goBuildBoolFlags[name]:
			g.build = append(g.build, a)
		case name == "short" || name == "timeout" || name == "failfast":
			f := "-test." + name
			if hasVal || name == "timeout" {
				f += "=" + val
			}
			g.binFlags = append(g.binFlags, f)
		default:
			// -run, -benchtime, -count, -cpu, -benchmem, -v, -json...:
			// the method fixes its own.
			g.ignored = append(g.ignored, a)
		}
	}
	if len(g.pkgs) == 0 {
		g.pkgs = []string{"."}
	}
	return g, nil
}

// goPackage is what `go list` says about a package.
type goPackage struct {
	ImportPath   string
	Dir          string
	TestGoFiles  []string
	XTestGoFiles []string
	Error        *struct{ Err string }
}

// goEnv is the environment the test binaries run with: one P and no
// automatic GC make the Go runtime's own work (scheduling, background
// marking) independent of wall time.
var goEnv = []string{"GOMAXPROCS=1", "GOGC=off"}

// measureGo measures `go test -bench` benchmarks per op; see README.md.
func (in *Instrument) measureGo(ctx context.Context, p Probe, t instruments.Target, argv []string, env instruments.Env) ([]results.Benchmark, error) {
	g, err := parseGoTestArgs(argv)
	if err != nil {
		return nil, err
	}
	if len(g.ignored) > 0 {
		env.Progress.Warn(fmt.Sprintf("simulation fixes its own iteration counts; ignoring go test flags %s", strings.Join(g.ignored, " ")))
	}
	dir := t.Dir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	if g.dir != "" {
		if filepath.IsAbs(g.dir) {
			dir = g.dir
		} else {
			dir = filepath.Join(dir, g.dir)
		}
	}
	levels := splitBenchRegexp(g.bench)
	top, err := regexp.Compile(levels[0])
	if err != nil {
		return nil, fmt.Errorf("go test -bench %q: %w", g.bench, err)
	}
	baseEnv := in.envFor(t, env)
	pkgs, err := goList(ctx, dir, baseEnv, g)
	if err != nil {
		return nil, err
	}
	root := gitRoot(dir)
	binDir, err := os.MkdirTemp("", "codspeed-gotest-")
	if err != nil {
		return nil, fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(binDir)

	var out []results.Benchmark
	for _, pkg := range pkgs {
		if pkg.Error != nil {
			return out, fmt.Errorf("package %s: %s", pkg.ImportPath, pkg.Error.Err)
		}
		decls, err := benchmarkDecls(pkg)
		if err != nil {
			return out, err
		}
		any := false
		for name := range decls {
			if top.MatchString(name) {
				any = true
			}
		}
		if !any {
			continue
		}
		env.Progress.Phase(pkg.ImportPath, "building")
		bin := filepath.Join(binDir, slug(pkg.ImportPath)+".test")
		build := exec.CommandContext(ctx, "go", append(append([]string{"test", "-c", "-o", bin}, g.build...), pkg.ImportPath)...)
		build.Dir, build.Env = dir, baseEnv
		if o, err := build.CombinedOutput(); err != nil {
			return out, fmt.Errorf("go test -c %s: %w\n%s", pkg.ImportPath, err, o)
		}
		env.Progress.Phase(pkg.ImportPath, "listing benchmarks")
		leaves, err := in.discover(ctx, bin, pkg.Dir, g, baseEnv, env)
		if err != nil {
			return out, fmt.Errorf("package %s: %w", pkg.ImportPath, err)
		}
		for i, lf := range leaves {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			levels := strings.Split(lf.name, "/")
			file := decls[levels[0]]
			relFile := filepath.ToSlash(rel(root, file))
			if file == "" {
				relFile = filepath.ToSlash(rel(root, pkg.Dir))
			}
			b := results.Benchmark{Name: lf.name, URI: relFile + "::" + strings.Join(levels, "::")}
			env.Progress.Phase(lf.name, "simulating")
			env.Progress.Step(i, len(leaves))
			if lf.failed != "" {
				b.Error = lf.failed
				out = append(out, b)
				continue
			}
			if err := in.measureGoLeaf(ctx, p, &b, lf, bin, pkg.Dir, g, baseEnv, env); err != nil {
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				b.Error = err.Error()
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no benchmark matched -bench %q in %s", g.bench, strings.Join(g.pkgs, " "))
	}
	return out, nil
}

// goLeaf is a benchmark that runs iterations (one without sub-benchmarks).
type goLeaf struct {
	name    string
	nsPerOp float64
	failed  string
}

var benchLineRe = regexp.MustCompile(`^(Benchmark\S*)\s+(\d+)\s+([0-9.e+]+) ns/op`)

// discover runs the test binary natively, briefly, to learn the leaf
// benchmarks (sub-benchmarks exist only at run time) and their speed.
func (in *Instrument) discover(ctx context.Context, bin, dir string, g goTestArgs, baseEnv []string, env instruments.Env) ([]goLeaf, error) {
	args := append([]string{"-test.run=^$", "-test.bench=" + g.bench, "-test.benchtime=10ms"}, g.binFlags...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, append(append([]string{}, baseEnv...), goEnv...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, env.Stderr
	launcher := env.Launcher
	if launcher == nil {
		launcher = instruments.Direct
	}
	if err := launcher.Start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	waitErr := cmd.Wait()
	var leaves []goLeaf
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := sc.Text()
		if m := benchLineRe.FindStringSubmatch(line); m != nil {
			ns, _ := strconv.ParseFloat(m[3], 64)
			leaves = append(leaves, goLeaf{name: m[1], nsPerOp: ns})
		} else if name, ok := strings.CutPrefix(strings.TrimSpace(line), "--- FAIL: "); ok {
			name = strings.Fields(name)[0]
			leaves = append(leaves, goLeaf{name: name, failed: "benchmark failed in its discovery run: " + line})
		}
	}
	if env.Stdout != nil {
		_, _ = io.Copy(env.Stdout, bytes.NewReader(stdout.Bytes()))
	}
	if waitErr != nil && len(leaves) == 0 {
		return nil, fmt.Errorf("run %s: %w", filepath.Base(bin), waitErr)
	}
	return leaves, nil
}

// Timer functions of package testing. Their names are callgrind patterns,
// where '*' is a wildcard: it matches the literal '*' too.
const (
	fnStartTimer = "testing.(*B).StartTimer"
	fnResetTimer = "testing.(*B).ResetTimer"
	fnStopTimer  = "testing.(*B).StopTimer"
)

// measureGoLeaf measures one leaf benchmark per op: two callgrind runs of
// the test binary with -test.benchtime=<n>x for n = lo and hi, each giving
// the cost of its timed regions; the difference divided by hi-lo is the
// cost of one iteration (README.md says why it is exact).
func (in *Instrument) measureGoLeaf(ctx context.Context, p Probe, b *results.Benchmark, lf goLeaf, bin, dir string, g goTestArgs, baseEnv []string, env instruments.Env) error {
	delta := iterationsFor(lf.nsPerOp, in.opts.GoTargetNs)
	lo, hi := int64(2), 2+delta
	outDir, err := newOutDir(env.ProfileFolder, lf.name)
	if err != nil {
		return err
	}
	sel := benchSelector(lf.name)
	var timed [2]Counts
	var stacks map[string]float64
	var raw []string
	for k, n := range []int64{lo, hi} {
		runDir := filepath.Join(outDir, "n"+strconv.FormatInt(n, 10))
		args := append([]string{bin, "-test.run=^$", "-test.bench=" + sel, "-test.benchtime=" + strconv.FormatInt(n, 10) + "x"}, g.binFlags...)
		inv := invocation{
			outDir: runDir, instrAtStart: true, dir: dir, argv: args,
			env:   append(append([]string{}, baseEnv...), goEnv...),
			extra: []string{"--dump-after=" + fnStartTimer, "--dump-after=" + fnResetTimer, "--dump-before=" + fnStopTimer},
		}
		if err := in.run(ctx, p, inv, env); err != nil {
			return err
		}
		profs, files, err := loadProfiles(runDir)
		if err != nil {
			return err
		}
		c, st, nTimed := timedCost(profs)
		if nTimed == 0 {
			return fmt.Errorf("no timed region found in the callgrind profile of %s (testing.(*B).StartTimer/StopTimer not seen)", lf.name)
		}
		timed[k] = c
		if k == 1 {
			stacks, raw = st, files
		}
	}
	per := timed[1].PerOp(timed[0], float64(hi-lo))
	st := Stats(in.opts.CostModel, per)
	b.Simulation = &st
	b.GoBench = &results.GoBench{Iterations: hi - lo}
	b.Profile, err = writeProfile(env.ProfileFolder, outDir, "stacks", stacks, raw)
	return err
}

// timedCost adds up the dumps that cover a timed region of package
// testing: those that start when StartTimer or ResetTimer returns and end
// when StopTimer is entered. Dumps that end at StartTimer/ResetTimer hold
// untimed work (setup before ResetTimer, code between StopTimer and
// StartTimer, and the timer calls themselves, which stop the world to read
// memory statistics). It also returns the Ir stacks of the timed dumps.
func timedCost(profs []*callgrind.Profile) (Counts, map[string]float64, int) {
	var c Counts
	stacks := map[string]float64{}
	n := 0
	for _, prof := range profs {
		open := false
		for _, part := range prof.Parts {
			trig := part.Trigger
			ends := strings.HasPrefix(trig, "--dump-before=") && strings.HasSuffix(trig, fnStopTimer)
			if open && ends {
				c = c.Add(CountsOf(part))
				for k, v := range part.Stacks(part.EventIndex("Ir"), callgrind.StackOptions{}) {
					stacks[k] += v
				}
				n++
			}
			open = strings.HasPrefix(trig, "--dump-after=") && (strings.HasSuffix(trig, fnStartTimer) || strings.HasSuffix(trig, fnResetTimer))
		}
	}
	return c, stacks, n
}

// iterationsFor picks the iteration difference: enough iterations for about
// targetNs of native time, rounded down to 1, 2 or 5 times a power of ten
// so that small speed changes between runs rarely change it, within
// [100, 10^7].
func iterationsFor(nsPerOp, targetNs float64) int64 {
	n := int64(1e7)
	if nsPerOp > 0 {
		n = int64(targetNs / nsPerOp)
	}
	n = max(100, min(n, 1e7))
	p := int64(1)
	for p*10 <= n {
		p *= 10
	}
	switch {
	case n >= 5*p:
		return 5 * p
	case n >= 2*p:
		return 2 * p
	}
	return p
}

// benchSelector is a -test.bench pattern matching exactly the benchmark
// named name ("BenchmarkX/sub/subsub"), one anchored element per level.
func benchSelector(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// splitBenchRegexp splits a -bench pattern into per-level patterns like
// package testing does (at '/' outside brackets and parentheses).
func splitBenchRegexp(s string) []string {
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

func goList(ctx context.Context, dir string, env []string, g goTestArgs) ([]goPackage, error) {
	args := append(append([]string{"list", "-e", "-json=ImportPath,Dir,TestGoFiles,XTestGoFiles,Error"}, g.build...), g.pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", strings.Join(g.pkgs, " "), err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// benchmarkDecls maps each Benchmark function of a package's test files to
// the file that declares it.
func benchmarkDecls(pkg goPackage) (map[string]string, error) {
	decls := map[string]string{}
	fset := token.NewFileSet()
	for _, name := range append(append([]string{}, pkg.TestGoFiles...), pkg.XTestGoFiles...) {
		path := filepath.Join(pkg.Dir, name)
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !isBenchmarkName(fd.Name.Name) || fd.Type.Params.NumFields() != 1 {
				continue
			}
			decls[fd.Name.Name] = path
		}
	}
	return decls, nil
}

// isBenchmarkName applies the go tool's rule: "Benchmark" followed by
// nothing or by a character that is not a lower-case letter.
func isBenchmarkName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Benchmark")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLower(r)
}

// gitRoot is the top of the git work tree holding dir (URIs are relative
// to it, as CodSpeed's), or dir itself outside git.
func gitRoot(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return dir
	}
	return strings.TrimSpace(string(out))
}
