// Package simulation is the simulation instrument: it runs benchmarks under
// valgrind's callgrind and reports simulated instruction counts, cache misses
// and an estimated time that do not depend on the machine's load.
//
// Three kinds of targets are handled (see README.md for the method and its
// limits):
//   - exec targets: the whole command, from exec to exit, is one benchmark;
//   - entrypoint targets whose benchmarks mark themselves with callgrind
//     client requests (CodSpeed's integrations): one benchmark per
//     CALLGRIND_DUMP_STATS_AT(uri) dump;
//   - `go test -bench` entrypoints (gobench.IsGoTest): each Benchmark and
//     sub-benchmark is measured per op with no change to the user's code.
//
// Raw callgrind files stay in the profile folder (KCachegrind opens them);
// folded stacks are written beside them for the flamegraph renderer.
package simulation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/instruments/perfmap"
	"github.com/codspeed-go/codspeed-go/instruments/simulation/callgrind"
	"github.com/codspeed-go/codspeed-go/results"
)

// Options configure the instrument. The zero value is ready to use.
type Options struct {
	// Valgrind is the valgrind executable (default "valgrind" from PATH).
	Valgrind string
	// CostModel turns counts into cycles and time (default
	// DefaultCostModel).
	CostModel results.CostModel
	// GoTargetNs is the native time, in ns, that the measured iterations of
	// one Go benchmark should take (default 10ms); under callgrind that is
	// roughly 50-100 times longer. More iterations dilute the noise of the
	// Go runtime further but cost time.
	GoTargetNs float64
	// GoTargetInstructions is a floor that does not depend on load: the
	// measured iterations also execute about this many simulated
	// instructions (default 1e8; estimated from a 3-iteration run whose
	// constant costs make the estimate high, so fewer in practice). What
	// the two runs' constant costs do not share (a few hundred
	// instructions of randomised runtime caches, README.md) is divided by
	// the iterations; more dilute it further but cost time.
	GoTargetInstructions float64
	// ExtraArgs are added to valgrind's arguments before the command.
	ExtraArgs []string
}

// Instrument runs targets under callgrind. It is safe for sequential use by
// one run loop; Measure calls must not overlap.
type Instrument struct {
	opts  Options
	once  sync.Once
	probe Probe
	perr  error
	// aslrOnce: a run says once that address randomisation stays on.
	aslrOnce sync.Once
	// LastIntegrations are the integrations that announced themselves
	// through "Metadata: <name> <version>" dumps in the last Measure.
	LastIntegrations []Integration
	// owner is the uid the last command ran as (perfmap.Owner): the user
	// whose JIT maps are trusted.
	owner uint32
}

// Integration is a benchmark harness that announced itself with a
// CALLGRIND_DUMP_STATS_AT("Metadata: <name> <version>") dump.
type Integration struct {
	Name, Version string
}

// New returns the simulation instrument.
func New(opts Options) *Instrument {
	if opts.Valgrind == "" {
		opts.Valgrind = "valgrind"
	}
	if opts.CostModel.FrequencyGHz <= 0 {
		opts.CostModel = DefaultCostModel()
	}
	if opts.GoTargetNs <= 0 {
		opts.GoTargetNs = 10e6
	}
	if opts.GoTargetInstructions <= 0 {
		opts.GoTargetInstructions = 1e8
	}
	return &Instrument{opts: opts}
}

// Mode returns "simulation".
func (*Instrument) Mode() string { return results.Simulation }

// Probe is what the host offers the simulation instrument.
type Probe struct {
	// Valgrind is the resolved valgrind path and Version its version
	// ("3.19.0").
	Valgrind string
	Version  string
	// Setarch is the path of setarch, empty when absent or when the
	// kernel refuses its personality call here; ASLR then says why address
	// randomisation stays on for the measured program.
	Setarch string
	ASLR    string
	// ReadInlineInfo and ObjSkip say whether valgrind knows
	// --read-inline-info and --obj-skip (the latter only in CodSpeed's
	// fork).
	ReadInlineInfo bool
	ObjSkip        bool
}

var versionRe = regexp.MustCompile(`valgrind-(\d+)\.(\d+)(\.\d+)?`)

// minMinor is the oldest valgrind 3.x with --collect-systime=nsec.
const minMinor = 15

// Probe finds valgrind and what it supports. The error wraps
// instruments.ErrNotSupported when simulation cannot run on this host.
func (in *Instrument) Probe() (Probe, error) {
	in.once.Do(func() { in.probe, in.perr = probe(in.opts.Valgrind) })
	return in.probe, in.perr
}

func probe(valgrind string) (Probe, error) {
	var p Probe
	path, err := exec.LookPath(valgrind)
	if err != nil {
		return p, fmt.Errorf("simulation needs valgrind, which was not found (%v): install it, e.g. `apt-get install valgrind`: %w", err, instruments.ErrNotSupported)
	}
	p.Valgrind = path
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return p, fmt.Errorf("run %s --version: %v: reinstall valgrind (`apt-get install valgrind`): %w", path, err, instruments.ErrNotSupported)
	}
	m := versionRe.FindStringSubmatch(string(out))
	if m == nil {
		return p, fmt.Errorf("%s --version printed %q, not a valgrind version: %w", path, bytes.TrimSpace(out), instruments.ErrNotSupported)
	}
	p.Version = strings.TrimPrefix(m[0], "valgrind-")
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 3 || major == 3 && minor < minMinor {
		return p, fmt.Errorf("valgrind %s is too old: simulation needs 3.%d or newer (--collect-systime=nsec): %w", p.Version, minMinor, instruments.ErrNotSupported)
	}
	help, _ := exec.Command(path, "--tool=callgrind", "--help").CombinedOutput()
	p.ReadInlineInfo = bytes.Contains(help, []byte("--read-inline-info"))
	p.ObjSkip = bytes.Contains(help, []byte("--obj-skip"))
	if s, err := exec.LookPath("setarch"); err != nil {
		p.ASLR = "setarch (util-linux) not found"
	} else if err := personalityAllowed(s); err != nil {
		p.ASLR = err.Error()
	} else {
		p.Setarch = s
	}
	return p, nil
}

// personalityAllowed runs `setarch <arch> -R true` once, the same call every
// measured run makes. Docker's default seccomp profile refuses
// personality(ADDR_NO_RANDOMIZE) (GitLab's Docker executor, a plain
// `docker run`). Simulation then runs without it: under valgrind the
// program's address space is laid out by valgrind's own address-space
// manager, not by the kernel's randomisation, and the counts were measured
// identical with and without it on native, Go and Node benchmarks
// (docs/docker.md). The cause is kept in the results (address_randomization)
// and said once per run.
func personalityAllowed(setarch string) error {
	out, err := exec.Command(setarch, setarchName(), "-R", "true").CombinedOutput()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(out))
	if msg == "" {
		msg = err.Error()
	}
	if strings.Contains(msg, "not permitted") || strings.Contains(msg, "personality") {
		return fmt.Errorf("seccomp refuses personality(ADDR_NO_RANDOMIZE) here (%s)", msg)
	}
	return fmt.Errorf("`%s %s -R true` failed (%s)", setarch, setarchName(), msg)
}

// Describe is what `codspeed doctor` shows of the instrument once Check
// passed.
func (in *Instrument) Describe() []string {
	p, err := in.Probe()
	if err != nil {
		return nil
	}
	lines := []string{"valgrind " + p.Version + " (" + p.Valgrind + ")"}
	if p.ASLR != "" {
		return append(lines, aslrNote(p.ASLR))
	}
	return append(lines, "address randomisation off for the measured program (setarch -R)")
}

// aslrNote is what a run says, once, when address randomisation stays on.
func aslrNote(why string) string {
	return "address randomisation stays on: " + why + "; valgrind lays out the program's memory itself, and counts were measured identical without it (docs/docker.md). " +
		"To turn it off anyway in a container: `docker run --rm IMAGE seccomp-profile > seccomp.json`, then --security-opt seccomp=$PWD/seccomp.json"
}

// Check reports whether simulation can run here (valgrind present and
// recent enough).
func (in *Instrument) Check() error {
	_, err := in.Probe()
	return err
}

// setarchName maps GOARCH to the machine names setarch knows.
func setarchName() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	default:
		return runtime.GOARCH
	}
}

// invocation describes one callgrind run.
type invocation struct {
	outDir       string // callgrind files go to outDir/%p.out
	instrAtStart bool
	extra        []string // more callgrind options
	argv         []string // the measured command
	dir          string
	env          []string
}

// command builds the exec.Cmd of an invocation: docs/protocol.md §6's settings,
// limited to what this valgrind supports, under `setarch <arch> -R`.
func (in *Instrument) command(ctx context.Context, p Probe, inv invocation) *exec.Cmd {
	atStart := "no"
	if inv.instrAtStart {
		atStart = "yes"
	}
	vg := []string{p.Valgrind,
		"--tool=callgrind", "--trace-children=yes", "--cache-sim=yes",
		"--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64",
		"--instr-atstart=" + atStart, "--collect-systime=nsec", "--compress-strings=no",
		"--combine-dumps=yes", "--dump-line=no",
		// No gdbserver: its FIFOs (vgdb-pipe-*) in TMPDIR would be left
		// behind by every process of the tree killed on an interrupt.
		"--vgdb=no",
	}
	if p.ReadInlineInfo {
		vg = append(vg, "--read-inline-info=yes")
	}
	vg = append(vg,
		"--callgrind-out-file="+filepath.Join(inv.outDir, "%p.out"),
		"--log-file="+filepath.Join(inv.outDir, "valgrind.%p.log"))
	vg = append(vg, inv.extra...)
	vg = append(vg, in.opts.ExtraArgs...)
	vg = append(vg, inv.argv...)
	argv := vg
	if p.Setarch != "" {
		argv = append([]string{p.Setarch, setarchName(), "-R"}, vg...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = inv.dir
	cmd.Env = inv.env
	// Cancel and deadline end valgrind and everything it traces.
	instruments.OwnTree(cmd)
	return cmd
}

// run starts inv through the launcher and waits for it.
func (in *Instrument) run(ctx context.Context, p Probe, inv invocation, env instruments.Env) error {
	if err := os.MkdirAll(inv.outDir, 0o777); err != nil {
		return fmt.Errorf("create profile directory: %w", err)
	}
	cmd := in.command(ctx, p, inv)
	cmd.Stdout, cmd.Stderr = env.Stdout, env.Stderr
	launcher := env.Launcher
	if launcher == nil {
		launcher = instruments.Direct
	}
	if err := launcher.Start(cmd); err != nil {
		return fmt.Errorf("start valgrind: %w", err)
	}
	in.owner = perfmap.Owner(cmd)
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tail := logTail(inv.outDir)
		if strings.Contains(tail, "(SIGTRAP)") || strings.Contains(err.Error(), "trace/breakpoint trap") {
			tail += "\n" + sigtrapHint
		}
		return fmt.Errorf("%s under callgrind: %w%s", strings.Join(inv.argv, " "), err, tail)
	}
	return nil
}

// SigtrapHintPrefix starts the hint added to errors when the measured
// program died of SIGTRAP under valgrind (see sigtrapHint).
const SigtrapHintPrefix = "hint (uprobe)"

// sigtrapHint explains the usual cause of a SIGTRAP under valgrind: a
// uprobe (the memory instrument's, bpftrace's, perf probe's) patches an
// int3 into a shared library's code for every process mapping it, and
// valgrind, which translates the code itself instead of letting the kernel
// handle the breakpoint, executes it as a trap.
const sigtrapHint = SigtrapHintPrefix + ": the program died of SIGTRAP inside valgrind; this happens while a uprobe (eBPF memory tracing, bpftrace, perf probe) is attached to a library function it calls, such as malloc. Run simulation when no uprobe is attached."

// logTail returns the end of valgrind's logs for error messages: the
// lines before callgrind's closing summary, without backtrace frames.
func logTail(dir string) string {
	logs, _ := filepath.Glob(filepath.Join(dir, "valgrind.*.log"))
	var b strings.Builder
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		var lines []string
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if strings.Contains(line, "Events    :") {
				break
			}
			if strings.Contains(line, "    by 0x") {
				continue
			}
			lines = append(lines, line)
		}
		if len(lines) > 12 {
			lines = lines[len(lines)-12:]
		}
		fmt.Fprintf(&b, "\n%s:\n%s", l, strings.Join(lines, "\n"))
	}
	return b.String()
}

// outPid is the pid in a callgrind file name (<pid>.out); names that are not
// numbers sort last.
func outPid(path string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(path), ".out"))
	if err != nil {
		return int(^uint(0) >> 1)
	}
	return n
}

// loadProfiles parses every callgrind file of dir, in pid order.
func loadProfiles(dir string) ([]*callgrind.Profile, []string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.out"))
	if err != nil {
		return nil, nil, err
	}
	// Glob sorts as text ("10.out" before "9.out"): order by pid.
	sort.SliceStable(files, func(i, j int) bool { return outPid(files[i]) < outPid(files[j]) })
	var profs []*callgrind.Profile
	for _, f := range files {
		p, err := callgrind.ParseFile(f)
		if err != nil {
			return nil, nil, err
		}
		profs = append(profs, p)
	}
	return profs, files, nil
}

// newOutDir returns a fresh directory under <profile folder>/simulation
// named after the target, so that the files of one target are never mixed
// with another's.
func newOutDir(profileFolder, name string) (string, error) {
	base := filepath.Join(profileFolder, "simulation", instruments.FileName(name, "target"))
	dir := base
	for i := 2; ; i++ {
		err := os.MkdirAll(filepath.Dir(dir), 0o777)
		if err == nil {
			err = os.Mkdir(dir, 0o777)
		}
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("create profile directory: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

func rel(base, path string) string {
	r, err := filepath.Rel(base, path)
	if err != nil {
		return path
	}
	return r
}

// Measure runs one target under callgrind. See the package comment for the
// three kinds of targets.
func (in *Instrument) Measure(ctx context.Context, t instruments.Target, env instruments.Env) ([]results.Benchmark, error) {
	p, err := in.Probe()
	if err != nil {
		return nil, err
	}
	if env.Progress == nil {
		env.Progress = instruments.NopProgress{}
	}
	if p.ASLR != "" {
		in.aslrOnce.Do(func() { env.Progress.Warn(aslrNote(p.ASLR)) })
	}
	in.LastIntegrations = nil
	bs, err := in.measure(ctx, p, t, env)
	for i := range bs {
		if bs[i].Simulation != nil {
			bs[i].Simulation.AddressRandomization = p.ASLR
		}
	}
	return bs, err
}

func (in *Instrument) measure(ctx context.Context, p Probe, t instruments.Target, env instruments.Env) ([]results.Benchmark, error) {
	if t.Kind == instruments.Entrypoint {
		argv := t.Args
		if len(argv) == 0 {
			argv = strings.Fields(t.Command)
		}
		if gobench.IsGoTest(argv) {
			return in.measureGo(ctx, p, t, argv, env)
		}
		return in.measureEntrypoint(ctx, p, t, env)
	}
	return in.measureExec(ctx, p, t, env)
}

func (in *Instrument) envFor(t instruments.Target, env instruments.Env) []string {
	e := append([]string{}, env.BaseEnv...)
	if len(e) == 0 {
		e = os.Environ()
	}
	return withGoDebug(append(e, t.Env...))
}

// goDebugUnderValgrind is what every Go program of a simulated benchmark
// runs with, each setting added to GODEBUG unless the user's GODEBUG already
// sets that key. Programs not written in Go ignore the variable.
//   - asyncpreemptoff=1: the runtime's asynchronous preemption signal (SIGURG)
//     is sent from timers, so it would land at points that depend on wall
//     time; worse, callgrind 3.19 asserts (threads.c, post_signal:
//     "sigNum == current_state.sig") when one arrives on one thread while it
//     is handling another's, and the whole run aborts.
//   - cpu.rdtscp=off, on x86 hosts whose kernel does not list rdtscp: the
//     runtime reads the time stamp counter with RDTSCP when CPUID says the
//     CPU has it (runtime.cputicks, called by sysmon and lock spinning), and
//     valgrind reports that CPUID bit on such hosts (AMD EPYC guests) while
//     its VEX decoder refuses the instruction ("vex amd64->IR: unhandled
//     instruction bytes: 0xF 0x1 0xF9", then SIGILL). With it off the
//     runtime uses MFENCE;LFENCE;RDTSC, which valgrind decodes. It is not set
//     elsewhere because golang.org/x/sys/cpu prints a warning about the
//     "cpu." option it does not know.
var goDebugUnderValgrind = func() []string {
	settings := []string{"asyncpreemptoff=1"}
	if runtime.GOARCH == "amd64" && !cpuinfoHasFlag("/proc/cpuinfo", "rdtscp") {
		settings = append(settings, "cpu.rdtscp=off")
	}
	return settings
}()

// cpuinfoHasFlag reports whether the first "flags" line of a cpuinfo file
// lists flag; an unreadable file counts as having it.
func cpuinfoHasFlag(path, flag string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "flags" {
			return slices.Contains(strings.Fields(v), flag)
		}
	}
	return true
}

// withGoDebug adds goDebugUnderValgrind to env's GODEBUG.
func withGoDebug(env []string) []string {
	debug := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GODEBUG="); ok {
			debug = v // the last one wins, as in os/exec
		}
	}
	set := map[string]bool{}
	for _, kv := range strings.Split(debug, ",") {
		if k, _, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			set[k] = true
		}
	}
	added := false
	for _, kv := range goDebugUnderValgrind {
		k, _, _ := strings.Cut(kv, "=")
		if set[k] {
			continue
		}
		if debug != "" {
			debug += ","
		}
		debug += kv
		added = true
	}
	if !added {
		return env
	}
	return append(env, "GODEBUG="+debug)
}

// measureExec measures the whole command: instrumentation is on from the
// first instruction of each process (dynamic loader included) to its exit,
// and the costs of every process of the tree are added.
func (in *Instrument) measureExec(ctx context.Context, p Probe, t instruments.Target, env instruments.Env) ([]results.Benchmark, error) {
	name := t.Name
	if name == "" {
		name = t.Command
	}
	b := results.Benchmark{Name: name, URI: "exec_harness::" + name}
	dir, err := newOutDir(env.ProfileFolder, name)
	if err != nil {
		return nil, err
	}
	env.Progress.Phase(name, "simulating")
	inv := invocation{outDir: dir, instrAtStart: true, argv: t.Argv(), dir: t.Dir, env: in.envFor(t, env)}
	if err := in.run(ctx, p, inv, env); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		b.Error = err.Error()
		return []results.Benchmark{b}, nil
	}
	profs, files, err := loadProfiles(dir)
	if err != nil {
		return nil, err
	}
	in.symbolizeJIT(dir, profs, files, env.Progress)
	var total Counts
	stacks := map[string]float64{}
	for _, prof := range profs {
		for _, part := range prof.Parts {
			total = total.Add(CountsOf(part).Sub(valgrindOwn(part)))
			for k, v := range part.Stacks(part.EventIndex("Ir"), callgrind.StackOptions{}) {
				stacks[k] += v
			}
		}
	}
	if len(profs) == 0 {
		b.Error = "callgrind wrote no profile (did the command start?)" + logTail(dir)
		return []results.Benchmark{b}, nil
	}
	st := Stats(in.opts.CostModel, total)
	b.Simulation = &st
	b.Profile, err = writeProfile(env.ProfileFolder, dir, instruments.FileName(name, "target"), stacks, files)
	if err != nil {
		return nil, err
	}
	return []results.Benchmark{b}, nil
}

// Sub returns c - o.
func (c Counts) Sub(o Counts) Counts {
	return Counts{c.Instructions - o.Instructions, c.L1Misses - o.L1Misses, c.LLMisses - o.LLMisses, c.SysNs - o.SysNs}
}

// valgrindOwn is the cost of code from valgrind's own preloaded objects
// (vgpreload_*.so: its malloc replacements and start-up hooks) in a part;
// it exists only under valgrind, so exec measurements leave it out.
func valgrindOwn(p *callgrind.Part) Counts {
	var own Counts
	ir, i1, d1r, d1w := p.EventIndex("Ir"), p.EventIndex("I1mr"), p.EventIndex("D1mr"), p.EventIndex("D1mw")
	il, dlr, dlw := p.EventIndex("ILmr"), p.EventIndex("DLmr"), p.EventIndex("DLmw")
	get := func(c []int64, i int) float64 {
		if i < 0 {
			return 0
		}
		return float64(c[i])
	}
	for _, f := range p.Funcs {
		if !strings.Contains(filepath.Base(f.Object), "vgpreload_") {
			continue
		}
		own.Instructions += get(f.Self, ir)
		own.L1Misses += get(f.Self, i1) + get(f.Self, d1r) + get(f.Self, d1w)
		own.LLMisses += get(f.Self, il) + get(f.Self, dlr) + get(f.Self, dlw)
	}
	return own
}

// writeProfile writes the folded stacks and fills a results.Profile; raw
// points at the first callgrind file (the others sit beside it).
func writeProfile(profileFolder, dir, base string, stacks map[string]float64, raw []string) (*results.Profile, error) {
	pr := &results.Profile{Event: "Ir"}
	if len(raw) > 0 {
		pr.Raw = rel(profileFolder, raw[0])
	}
	if len(stacks) > 0 {
		path := filepath.Join(dir, base+".folded")
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("write folded stacks: %w", err)
		}
		if err := callgrind.WriteFolded(f, stacks); err != nil {
			f.Close()
			return nil, fmt.Errorf("write folded stacks: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write folded stacks: %w", err)
		}
		pr.Folded = rel(profileFolder, path)
	}
	return pr, nil
}

const metadataPrefix = "Metadata: "

// measureEntrypoint runs a command whose benchmarks mark themselves with
// callgrind client requests: instrumentation starts off, and each
// CALLGRIND_DUMP_STATS_AT(uri) dump is one benchmark.
func (in *Instrument) measureEntrypoint(ctx context.Context, p Probe, t instruments.Target, env instruments.Env) ([]results.Benchmark, error) {
	name := t.Name
	if name == "" {
		name = t.Command
	}
	dir, err := newOutDir(env.ProfileFolder, name)
	if err != nil {
		return nil, err
	}
	env.Progress.Phase(name, "simulating")
	inv := invocation{outDir: dir, instrAtStart: false, argv: t.Argv(), dir: t.Dir, env: in.envFor(t, env)}
	runErr := in.run(ctx, p, inv, env)
	if runErr != nil && ctx.Err() != nil {
		return nil, runErr
	}
	profs, files, err := loadProfiles(dir)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	in.symbolizeJIT(dir, profs, files, env.Progress)
	var out []results.Benchmark
	seen := map[string]bool{}
	for i, prof := range profs {
		for _, part := range prof.Parts {
			uri, ok := part.DumpName()
			if !ok {
				continue
			}
			if meta, ok := strings.CutPrefix(uri, metadataPrefix); ok {
				n, v, _ := strings.Cut(meta, " ")
				in.LastIntegrations = append(in.LastIntegrations, Integration{Name: n, Version: v})
				continue
			}
			if seen[uri] {
				env.Progress.Warn(fmt.Sprintf("benchmark %s was dumped more than once; keeping the first", uri))
				continue
			}
			seen[uri] = true
			b := results.Benchmark{Name: uriName(uri), URI: uri}
			st := Stats(in.opts.CostModel, CountsOf(part))
			b.Simulation = &st
			b.Profile, err = writeProfile(env.ProfileFolder, dir, instruments.FileName(uri, "benchmark"), part.Stacks(part.EventIndex("Ir"), callgrind.StackOptions{}), files[i:i+1])
			if err != nil {
				return out, err
			}
			out = append(out, b)
		}
	}
	if runErr != nil {
		return out, runErr
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s made no CALLGRIND_DUMP_STATS_AT(uri) client request (%w): use a CodSpeed integration, or measure the whole command as an exec target", name, instruments.ErrNoBenchmarks)
	}
	return out, nil
}

// uriName is a benchmark's display name: the URI's last "::" element.
func uriName(uri string) string {
	if i := strings.LastIndex(uri, "::"); i >= 0 && i+2 < len(uri) {
		return uri[i+2:]
	}
	return uri
}
