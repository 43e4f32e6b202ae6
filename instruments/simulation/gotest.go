package simulation

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/instruments/simulation/callgrind"
	"github.com/codspeed-go/codspeed-go/results"
)

// goEnv is the environment the test binaries run with, added to base (which
// envFor already gave GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off): one P and no automatic GC
// make the Go runtime's own work (scheduling, background marking)
// independent of wall time.
func goEnv(base []string) []string {
	return append(append([]string{}, base...), "GOMAXPROCS=1", "GOGC=off")
}

// measureGo measures `go test -bench` benchmarks per op; see README.md.
func (in *Instrument) measureGo(ctx context.Context, p Probe, t instruments.Target, argv []string, env instruments.Env) ([]results.Benchmark, error) {
	g, err := gobench.ParseTestCommand(argv)
	if err != nil {
		return nil, err
	}
	if len(g.Ignored) > 0 {
		env.Progress.Warn(fmt.Sprintf("simulation fixes its own iteration counts; ignoring go test flags %s", strings.Join(g.Ignored, " ")))
	}
	dir := t.Dir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	dir = g.WorkDir(dir)
	top, err := g.TopLevelRegexp()
	if err != nil {
		return nil, err
	}
	baseEnv := in.envFor(t, env)
	pkgs, err := gobench.ListPackages(ctx, dir, baseEnv, g)
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
	for pi, pkg := range pkgs {
		decls, matched, err := pkg.MatchingBenchmarks(top)
		if err != nil {
			return out, err
		}
		if !matched {
			continue
		}
		env.Progress.Phase(pkg.ImportPath, "building")
		bin := gobench.TestBinaryPath(binDir, pi, pkg.ImportPath)
		if err := buildTestBinary(ctx, dir, baseEnv, g, pkg.ImportPath, bin); err != nil {
			return out, err
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
		return nil, fmt.Errorf("%w: no benchmark matched -bench %q in %s", instruments.ErrNoBenchmarks, g.Bench, strings.Join(g.Pkgs, " "))
	}
	return out, nil
}

// fixedHeapExperiment turns off Go 1.26's randomised heap base: with it
// the heap lands at a random address in every run, which changes simulated
// cache behaviour run to run and, at some addresses, collides with
// valgrind's own memory and makes it abort.
const fixedHeapExperiment = "norandomizedheapbase64"

// buildTestBinary runs `go test -c`, with a fixed heap base when the
// toolchain knows the experiment (older ones have no randomisation and
// reject the name, so the build is retried without it).
func buildTestBinary(ctx context.Context, dir string, env []string, g gobench.TestCommand, pkg, bin string) error {
	exp := fixedHeapExperiment
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GOEXPERIMENT="); ok && v != "" {
			exp = v + "," + fixedHeapExperiment
		}
	}
	err := gobench.BuildTestBinary(ctx, dir, append(append([]string{}, env...), "GOEXPERIMENT="+exp), g, pkg, bin)
	if err != nil && strings.Contains(err.Error(), fixedHeapExperiment) {
		err = gobench.BuildTestBinary(ctx, dir, env, g, pkg, bin)
	}
	return err
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
func (in *Instrument) discover(ctx context.Context, bin, dir string, g gobench.TestCommand, baseEnv []string, env instruments.Env) ([]goLeaf, error) {
	args := append([]string{"-test.run=^$", "-test.bench=" + g.Bench, "-test.benchtime=10ms"}, g.BinFlags...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, goEnv(baseEnv)
	instruments.OwnTree(cmd)
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
		} else if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "--- FAIL: "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				leaves = append(leaves, goLeaf{name: f[0], failed: "benchmark failed in its discovery run: " + line})
			}
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
	// A goroutine that sysmon asked to yield (because it ran for 10ms of
	// wall time) notices it in runtime.newstack, which reschedules through
	// gopreempt_m (usually inlined) and goschedImpl.
	fnNewstack    = "runtime.newstack"
	fnPreempt     = "runtime.gopreempt_m"
	fnGoschedImpl = "runtime.goschedImpl"
)

// preemptionCost estimates the cost of the preemptions recorded in a part:
// the self cost of every function weighted by the share of its calls that
// descend from a preemption (newstack's calls into gopreempt_m or
// goschedImpl), the share propagating along the call arcs. Callgrind's
// inclusive costs cannot be used: the scheduler switches stacks and never
// returns normally. Functions only the scheduler calls get share 1; ones
// the benchmark calls too (locks) are split by call counts. Only runtime
// functions take a share, and nothing propagates through runtime.gogo (the
// jump back into the preempted goroutine).
func preemptionCost(part *callgrind.Part) Counts {
	n := len(part.Funcs)
	type arc struct {
		from  int
		count float64
		seed  bool
	}
	in := make([][]arc, n)
	total := make([]float64, n)
	seeded := false
	for i, f := range part.Funcs {
		caller := callgrind.DisplayName(f.Name)
		// gogo resumes a goroutine: callgrind shows the resumed code as
		// called from it, but that code is the benchmark's own work.
		resumes := strings.HasPrefix(caller, "runtime.gogo")
		for _, call := range f.Calls {
			callee := callgrind.DisplayName(part.Funcs[call.Callee].Name)
			if resumes || !strings.HasPrefix(callee, "runtime.") {
				continue
			}
			seed := callee == fnPreempt || caller == fnNewstack && callee == fnGoschedImpl
			seeded = seeded || seed && call.Count > 0
			in[call.Callee] = append(in[call.Callee], arc{i, float64(call.Count), seed})
			total[call.Callee] += float64(call.Count)
		}
	}
	if !seeded {
		return Counts{}
	}
	share := make([]float64, n)
	for range 20 {
		changed := false
		for g := range n {
			if total[g] == 0 {
				continue
			}
			var s float64
			for _, a := range in[g] {
				if a.seed {
					s += a.count
				} else {
					s += a.count * share[a.from]
				}
			}
			s /= total[g]
			if s-share[g] > 1e-9 || share[g]-s > 1e-9 {
				share[g], changed = s, true
			}
		}
		if !changed {
			break
		}
	}
	// newstack runs for stack growth too: it takes the share of its calls
	// that ended in a preemption.
	for g, f := range part.Funcs {
		if callgrind.DisplayName(f.Name) != fnNewstack || total[g] == 0 {
			continue
		}
		var p float64
		for _, call := range f.Calls {
			callee := callgrind.DisplayName(part.Funcs[call.Callee].Name)
			if callee == fnPreempt || callee == fnGoschedImpl {
				p += float64(call.Count)
			}
		}
		share[g] = min(1, p/total[g])
	}
	var sub callgrind.Part
	sub.Events = part.Events
	sub.Totals = make([]int64, len(part.Events))
	for g, f := range part.Funcs {
		if share[g] == 0 {
			continue
		}
		for j, v := range f.Self {
			sub.Totals[j] += int64(share[g]*float64(v) + 0.5)
		}
	}
	return CountsOf(&sub)
}

// preemptions counts the preemptions a part records: calls from newstack
// into gopreempt_m or, when that is inlined, into goschedImpl.
func preemptions(part *callgrind.Part) int64 {
	var n int64
	for _, f := range part.Funcs {
		caller := callgrind.DisplayName(f.Name)
		for _, call := range f.Calls {
			callee := callgrind.DisplayName(part.Funcs[call.Callee].Name)
			if callee == fnPreempt || caller == fnNewstack && callee == fnGoschedImpl {
				n += call.Count
			}
		}
	}
	return n
}

// preemptionWarning says what a preempted count means and what to do: the
// work that could be attributed to the preemptions was subtracted, and
// since sysmon preempts by wall time, a less loaded machine avoids it.
func preemptionWarning(name string, attempts int, n int64) string {
	return fmt.Sprintf("%s: the Go scheduler preempted the benchmark in all %d runs of %d iterations, so its count may still include a little scheduler work (what could be attributed was subtracted; the rest is usually under 1e-4 of the count); Go preempts by wall time: if this figure must be exact, run simulation again when the machine is less loaded (stop other benchmarks, builds or containers on it)", name, attempts, n)
}

// maxAttempts bounds the callgrind runs made for one iteration count while
// looking for a run without preemption.
const maxAttempts = 3

// measureGoLeaf measures one leaf benchmark per op: two callgrind runs of
// the test binary with -test.benchtime=<n>x for n = lo and hi, each giving
// the cost of its timed regions; the difference divided by hi-lo is the
// cost of one iteration (README.md says why it is exact).
func (in *Instrument) measureGoLeaf(ctx context.Context, p Probe, b *results.Benchmark, lf goLeaf, bin, dir string, g gobench.TestCommand, baseEnv []string, env instruments.Env) error {
	// hi is chosen after the lo run, from its instruction count (see below).
	lo, hi := int64(2), int64(0)
	outDir, err := newOutDir(env.ProfileFolder, lf.name)
	if err != nil {
		return err
	}
	sel := gobench.Selector(lf.name)
	var timed [2]Counts
	var stacks map[string]float64
	var raw []string
	for k := range 2 {
		n := lo
		if k == 1 {
			// The iteration difference is the larger of two choices: about
			// GoTargetNs of native time, and about GoTargetInstructions
			// simulated instructions estimated from the lo run (lo+1
			// iterations: run1's b.N=1, then b.N=lo; its constant costs make
			// the estimate high, so this choice errs low). Native time grows
			// with the machine's load, which alone would divide the runtime's
			// per-run residue (README.md) by fewer iterations exactly when the
			// machine is busy; the instruction floor does not depend on load.
			hi = lo + max(iterationsFor(lf.nsPerOp, in.opts.GoTargetNs),
				iterationsFor(timed[0].Instructions/float64(lo+1), in.opts.GoTargetInstructions))
			n = hi
		}
		args := append([]string{bin, "-test.run=^$", "-test.bench=" + sel, "-test.benchtime=" + strconv.FormatInt(n, 10) + "x"}, g.BinFlags...)
		// Sysmon preempts a goroutine that has run for 10ms of wall time;
		// whether it is awake to do so during the timed region depends on
		// timing, and each preemption adds scheduler work. Preemption only
		// adds instructions, so runs are repeated until one has none, and
		// the cheapest is kept.
		best := -1
		for attempt := 1; attempt <= maxAttempts; attempt++ {
			runDir := filepath.Join(outDir, fmt.Sprintf("n%d-%d", n, attempt))
			inv := invocation{
				outDir: runDir, instrAtStart: true, dir: dir, argv: args,
				env:   goEnv(baseEnv),
				extra: []string{"--separate-threads=yes", "--dump-before=" + fnStartTimer, "--dump-before=" + fnResetTimer, "--dump-before=" + fnStopTimer},
			}
			if err := in.run(ctx, p, inv, env); err != nil {
				return err
			}
			profs, files, err := loadProfiles(runDir)
			if err != nil {
				return err
			}
			c, st, nTimed, preempts := timedCost(profs)
			if nTimed == 0 {
				return fmt.Errorf("no timed region found in the callgrind profile of %s (testing.(*B).StartTimer/StopTimer not seen)", lf.name)
			}
			if best < 0 || c.Instructions < timed[k].Instructions {
				best, timed[k] = attempt, c
				if k == 1 {
					stacks, raw = st, files
				}
			}
			if preempts == 0 {
				break
			}
			if attempt == maxAttempts {
				env.Progress.Warn(preemptionWarning(lf.name, maxAttempts, n))
			}
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
// testing. The runs dump on entry to StartTimer, ResetTimer and StopTimer
// (function entry is a call that callgrind sees; function exit is not
// reliable in Go, whose stack switches hide returns from callgrind's shadow
// stack). A region that begins at StartTimer or ResetTimer and ends at
// StopTimer holds the timed code plus the constant cost of that timer call;
// regions that end at StartTimer or ResetTimer hold untimed work (setup
// before ResetTimer, code between StopTimer and StartTimer).
//
// When the goroutine moves to another thread inside a timer function (its
// stop-the-world can hand the P over), callgrind sees the rest of that
// function as a new call and dumps a second time: consecutive dumps at the
// same function are therefore one region.
//
// The runs use --separate-threads=yes, so a dump is one part per thread.
// The sysmon thread (the thread whose code includes runtime.sysmon) is left
// out: it wakes on timers, so how much of its work lands in a timed region
// depends on wall time. Every other thread counts, since with GOMAXPROCS=1
// the benchmark goroutine may move between threads but only one runs Go
// code at a time. It also returns the Ir stacks of the counted parts.
func timedCost(profs []*callgrind.Profile) (c Counts, stacks map[string]float64, n int, preempts int64) {
	stacks = map[string]float64{}
	for _, prof := range profs {
		trigger := map[int]string{}
		sysmon := map[int]bool{}
		last := 0
		for _, part := range prof.Parts {
			trigger[part.Number] = part.Trigger
			last = max(last, part.Number)
			for _, f := range part.Funcs {
				if f.Name == "runtime.sysmon" {
					sysmon[part.Thread] = true
				}
			}
		}
		timed := timedDumps(trigger, last)
		for _, part := range prof.Parts {
			if sysmon[part.Thread] || !timed[part.Number] {
				continue
			}
			c = c.Add(CountsOf(part).Sub(preemptionCost(part)))
			for k, v := range part.Stacks(part.EventIndex("Ir"), callgrind.StackOptions{}) {
				stacks[k] += v
			}
			preempts += preemptions(part)
		}
		n += len(timed)
	}
	return c, stacks, n, preempts
}

// timedDumps returns the numbers of the dumps (1..last) that belong to a
// timed region, given each dump's trigger.
func timedDumps(trigger map[int]string, last int) map[int]bool {
	fnOf := func(t string) string {
		if f, ok := strings.CutPrefix(t, "--dump-before="); ok {
			return f
		}
		return ""
	}
	timed := map[int]bool{}
	open := ""
	var region []int
	for k := 1; k <= last; k++ {
		cur := fnOf(trigger[k])
		region = append(region, k)
		if cur != "" && cur == open {
			continue
		}
		if (open == fnStartTimer || open == fnResetTimer) && cur == fnStopTimer {
			for _, d := range region {
				timed[d] = true
			}
		}
		region, open = region[:0], cur
	}
	return timed
}

// iterationsFor picks the iteration difference: enough iterations for about
// target instructions (given the cost of one op), rounded down to 1, 2 or 5 times a power of ten
// so that small speed changes between runs rarely change it, within
// [100, 10^7].
func iterationsFor(perOp, target float64) int64 {
	n := int64(1e7)
	if perOp > 0 {
		n = int64(target / perOp)
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

// gitRoot is the top of the git work tree holding dir (URIs are relative
// to it, as CodSpeed's), or dir itself outside git.
func gitRoot(dir string) string {
	if root := instruments.RepoRoot(dir); root != "" {
		return root
	}
	return dir
}
