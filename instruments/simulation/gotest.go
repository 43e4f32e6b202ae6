package simulation

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	baseEnv := in.envFor(t, env)
	suite := gobench.Suite{
		Phase: "simulating",
		Build: buildTestBinary,
		List: func(ctx context.Context, bin, pkgDir string) ([]gobench.Leaf, error) {
			return in.discover(ctx, bin, pkgDir, g, baseEnv, env)
		},
		Measure: func(ctx context.Context, b *results.Benchmark, lf gobench.Leaf, bin, pkgDir string) error {
			return in.measureGoLeaf(ctx, p, b, lf, bin, pkgDir, g, baseEnv, env)
		},
	}
	return suite.Run(ctx, g, dir, baseEnv, env.Progress)
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

// discover runs the test binary natively, briefly, to learn the leaf
// benchmarks (sub-benchmarks exist only at run time) and their speed.
func (in *Instrument) discover(ctx context.Context, bin, dir string, g gobench.TestCommand, baseEnv []string, env instruments.Env) ([]gobench.Leaf, error) {
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
	leaves := gobench.Leaves(stdout.Bytes())
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

// Runtime functions that mark where the benchmark goroutine stops running
// Go code of its own. A goroutine that sysmon asked to yield (because it
// ran for 10ms of wall time) notices it in runtime.newstack, which
// reschedules through gopreempt_m (usually inlined) and goschedImpl; the
// scheduler then starts a goroutine with runtime.execute, which jumps into
// it (runtime.gogo).
const (
	fnMorestack   = "runtime.morestack"
	fnNewstack    = "runtime.newstack"
	fnGoschedImpl = "runtime.goschedImpl"
	fnExecute     = "runtime.execute"
	fnGogo        = "runtime.gogo"
)

// goDumps are the callgrind options of a Go benchmark run: a dump on entry
// to each function that starts or ends a region (see timedDumps).
func goDumps() []string {
	var out []string
	for _, fn := range []string{fnStartTimer, fnResetTimer, fnStopTimer, fnGoschedImpl, fnExecute} {
		out = append(out, "--dump-before="+fn)
	}
	return out
}

// isRuntime reports whether a function is the Go runtime's own code (its
// assembly functions appear without a package: gogo,
// gosave_systemstack_switch). The runtime's goroutines (the scavenger, which
// returns freed memory to the OS on a timer, the background sweeper) run
// nothing else, while every goroutine of the benchmark runs Go code of its
// own or of package testing.
func isRuntime(name string) bool {
	name = callgrind.DisplayName(name)
	return strings.HasPrefix(name, "runtime.") || strings.HasPrefix(name, "internal/runtime/") || !strings.Contains(name, ".")
}

// measureGoLeaf measures one leaf benchmark per op: two callgrind runs of
// the test binary with -test.benchtime=<n>x for n = lo and hi, each giving
// the cost of its timed regions; the difference divided by hi-lo is the
// cost of one iteration (README.md says why it is exact).
func (in *Instrument) measureGoLeaf(ctx context.Context, p Probe, b *results.Benchmark, lf gobench.Leaf, bin, dir string, g gobench.TestCommand, baseEnv []string, env instruments.Env) error {
	// hi is chosen after the lo run, from its instruction count (see below).
	lo, hi := int64(2), int64(0)
	outDir, err := newOutDir(env.ProfileFolder, lf.Name)
	if err != nil {
		return err
	}
	sel := gobench.Selector(lf.Name)
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
			hi = lo + max(iterationsFor(lf.NsPerOp, in.opts.GoTargetNs),
				iterationsFor(timed[0].Instructions/float64(lo+1), in.opts.GoTargetInstructions))
			n = hi
		}
		args := append([]string{bin, "-test.run=^$", "-test.bench=" + sel, "-test.benchtime=" + strconv.FormatInt(n, 10) + "x"}, g.BinFlags...)
		runDir := filepath.Join(outDir, fmt.Sprintf("n%d", n))
		inv := invocation{
			outDir: runDir, instrAtStart: true, dir: dir, argv: args,
			env:   goEnv(baseEnv),
			extra: append([]string{"--separate-threads=yes"}, goDumps()...),
		}
		if err := in.run(ctx, p, inv, env); err != nil {
			return err
		}
		profs, files, err := loadProfiles(runDir)
		if err != nil {
			return err
		}
		var nTimed int
		timed[k], stacks, nTimed, _ = timedCost(profs)
		if nTimed == 0 {
			return fmt.Errorf("no timed region found in the callgrind profile of %s (testing.(*B).StartTimer/StopTimer not seen)", lf.Name)
		}
		raw = files
	}
	per := timed[1].PerOp(timed[0], float64(hi-lo))
	st := Stats(in.opts.CostModel, per)
	b.Simulation = &st
	b.GoBench = &results.GoBench{Iterations: hi - lo}
	b.Profile, err = writeProfile(env.ProfileFolder, outDir, "stacks", stacks, raw)
	return err
}

// timedCost adds up the benchmark's own work in the timed regions of
// package testing (timedDumps says which dumps hold it). The runs use
// --separate-threads=yes, so a dump is one part per thread. The sysmon
// thread (the thread whose code includes runtime.sysmon) is left out: it
// wakes on timers, so how much of its work lands in a timed region depends
// on wall time. Every other thread counts, since with GOMAXPROCS=1 the
// benchmark goroutine may move between threads but only one runs Go code
// at a time. It also returns the Ir stacks of the counted parts and the
// number of preemptions left out.
func timedCost(profs []*callgrind.Profile) (c Counts, stacks map[string]float64, n int, preempts int) {
	stacks = map[string]float64{}
	for _, prof := range profs {
		r := classifyDumps(prof)
		for _, part := range prof.Parts {
			if !r.timed[part.Number] || r.sysmon[part.Thread] {
				continue
			}
			pc := CountsOf(part)
			if r.resumed[part.Number] {
				pc = pc.Sub(selfCost(part, fnExecute, fnGogo))
			}
			if r.preempted[part.Number] {
				pc = pc.Sub(selfCost(part, fnMorestack, fnNewstack))
			}
			c = c.Add(pc)
			for k, v := range part.Stacks(part.EventIndex("Ir"), callgrind.StackOptions{}) {
				stacks[k] += v
			}
		}
		n += r.regions
		preempts += r.preemptions
	}
	return c, stacks, n, preempts
}

// classifyDumps reads the triggers and background work of a profile's
// dumps and classifies them (timedDumps).
func classifyDumps(prof *callgrind.Profile) goRegions {
	sysmon := map[int]bool{}
	for _, part := range prof.Parts {
		for _, f := range part.Funcs {
			if f.Name == "runtime.sysmon" {
				sysmon[part.Thread] = true
			}
		}
	}
	dumps := map[int]goDump{}
	last := 0
	for _, part := range prof.Parts {
		d := dumps[part.Number]
		if fn, ok := strings.CutPrefix(part.Trigger, "--dump-before="); ok {
			d.trigger = fn
		}
		if !sysmon[part.Thread] {
			for _, f := range part.Funcs {
				// A function listed only for its call arcs did not run here.
				if !slices.ContainsFunc(f.Self, func(v int64) bool { return v > 0 }) {
					continue
				}
				d.own = d.own || !isRuntime(f.Name)
				d.newstack = d.newstack || strings.TrimSuffix(callgrind.DisplayName(f.Name), ".abi0") == fnNewstack
			}
		}
		dumps[part.Number] = d
		last = max(last, part.Number)
	}
	r := timedDumps(dumps, last)
	r.sysmon = sysmon
	return r
}

// selfCost is the self cost in part of the functions named (each also as
// its assembly ABI wrapper, name.abi0).
func selfCost(part *callgrind.Part, names ...string) Counts {
	sub := callgrind.Part{Events: part.Events, Totals: make([]int64, len(part.Events))}
	for _, f := range part.Funcs {
		if !slices.Contains(names, strings.TrimSuffix(callgrind.DisplayName(f.Name), ".abi0")) {
			continue
		}
		for j, v := range f.Self {
			if j < len(sub.Totals) {
				sub.Totals[j] += v
			}
		}
	}
	return CountsOf(&sub)
}

// goDump is what timedDumps needs to know of one dump: the function whose
// entry triggered it ("" for another trigger, such as program termination),
// whether code other than the runtime's ran in it, and whether
// runtime.newstack did (the way into a preemption).
type goDump struct {
	trigger       string
	own, newstack bool
}

// goRegions classifies the dumps of one run by number.
type goRegions struct {
	// timed holds the dumps of the benchmark's own work in a timed region.
	timed map[int]bool
	// resumed holds timed dumps that begin with the scheduler resuming the
	// benchmark goroutine after it was away: their runtime.execute and
	// runtime.gogo are the scheduler's.
	resumed map[int]bool
	// preempted holds timed dumps that end in a preemption: their
	// runtime.morestack and runtime.newstack are the preemption's.
	preempted map[int]bool
	// regions counts the timed regions; preemptions the preemptions seen
	// in them.
	regions, preemptions int
	// sysmon holds the threads that run runtime.sysmon.
	sysmon map[int]bool
}

// timedDumps finds the dumps (1..last) that hold the benchmark's own work
// inside a timed region of package testing. A dump triggered on entry to
// function F holds what ran since the previous dump, up to F.
//
// Timed regions: the runs dump on entry to StartTimer, ResetTimer and
// StopTimer (function entry is a call that callgrind sees; function exit is
// not reliable in Go, whose stack switches hide returns from callgrind's
// shadow stack). A region that begins at StartTimer or ResetTimer and ends
// at StopTimer holds the timed code plus the constant cost of that timer
// call; regions that end at StartTimer or ResetTimer hold untimed work
// (setup before ResetTimer, code between StopTimer and StartTimer). When
// the goroutine moves to another thread inside a timer function (its
// stop-the-world can hand the P over), callgrind sees the rest of that
// function as a new call and dumps a second time: consecutive dumps at the
// same timer function are therefore one region.
//
// Inside a timed region, the runtime's dumps (goschedImpl, execute) cut out
// the stretches in which the benchmark goroutine is away for reasons of
// wall time: from a preemption (goschedImpl reached from newstack: sysmon
// asked the goroutine to yield; a dump on entry to newstack is not always
// taken, so the dump that ends at goschedImpl is searched for it) to the
// next switch
// (execute) into a goroutine that runs code of the benchmark's, and every
// stretch in which a runtime goroutine runs (from the execute into it to the
// next execute: the dump holds runtime code only). Switches between the
// benchmark's own goroutines stay counted: they are the benchmark's work.
func timedDumps(d map[int]goDump, last int) goRegions {
	r := goRegions{timed: map[int]bool{}, resumed: map[int]bool{}, preempted: map[int]bool{}}
	isTimer := func(fn string) bool { return fn == fnStartTimer || fn == fnResetTimer || fn == fnStopTimer }
	open := ""
	var region []int
	for k := 1; k <= last; k++ {
		cur := d[k].trigger
		region = append(region, k)
		if cur != "" && (!isTimer(cur) || cur == open) {
			continue
		}
		if (open == fnStartTimer || open == fnResetTimer) && cur == fnStopTimer {
			for _, n := range region {
				r.timed[n] = true
			}
			r.regions++
		}
		region, open = region[:0], cur
	}
	away := false
	for k := 1; k <= last; k++ {
		if away {
			delete(r.timed, k)
		}
		switch fn := d[k].trigger; {
		case fn == "" || isTimer(fn):
			away = false
		case fn == fnGoschedImpl && d[k].newstack:
			if !away && r.timed[k] {
				r.preempted[k] = true
				r.preemptions++
			}
			away = true
		case fn == fnExecute:
			wasAway := away
			away = !d[k+1].own
			if wasAway && !away && r.timed[k+1] {
				r.resumed[k+1] = true
			}
		}
	}
	return r
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
