package config

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/codspeed-go/codspeed-go/sandbox"
)

// Options are the settings a config gives every target (root `options:`) or
// one target (its own `options:`). A nil pointer, empty string or nil map means
// "not set here", so that Merge can layer CLI flags over target options over
// root options. The caller owns the returned values; Merge never aliases its
// inputs' maps.
type Options struct {
	// WorkingDirectory is absolute once loaded (resolved against the config
	// file's directory, since the runner does not chdir); "" if unset.
	WorkingDirectory string
	WarmupTime       *time.Duration
	MaxTime          *time.Duration
	MinTime          *time.Duration
	MaxRounds        *int64
	MinRounds        *int64
	// CPUs is a cpuset list ("1", "1-3,5") the target is pinned to.
	CPUs string
	// MemoryLimit is in bytes.
	MemoryLimit *int64
	// Env is added to the benchmark's environment.
	Env map[string]string
	// Thresholds are per-target regression thresholds; only a target's
	// options may set them (the root has its own `thresholds:` section).
	Thresholds *Thresholds
}

// Thresholds decide when a change between two runs is reported. Values are
// fractions: "5%" in the file is 0.05 here.
type Thresholds struct {
	// Regression is the smallest slowdown flagged as a regression.
	Regression *float64
	// Improvement is the smallest speed-up reported as an improvement.
	Improvement *float64
	// Walltime, Simulation and Memory override Regression for one mode
	// (walltime noise is larger than simulation's, so one figure rarely fits
	// all).
	Walltime, Simulation, Memory *float64
}

// Merge returns o with every field unset in o taken from def. Env is merged
// key by key (o's value wins), so a target can add one variable without
// repeating the root's. Thresholds are merged field by field. The CLI builds
// the effective options as cli.Merge(target.Merge(root)).
func (o Options) Merge(def Options) Options {
	out := o
	if out.WorkingDirectory == "" {
		out.WorkingDirectory = def.WorkingDirectory
	}
	out.WarmupTime = pick(o.WarmupTime, def.WarmupTime)
	out.MaxTime = pick(o.MaxTime, def.MaxTime)
	out.MinTime = pick(o.MinTime, def.MinTime)
	out.MaxRounds = pick(o.MaxRounds, def.MaxRounds)
	out.MinRounds = pick(o.MinRounds, def.MinRounds)
	if out.CPUs == "" {
		out.CPUs = def.CPUs
	}
	out.MemoryLimit = pick(o.MemoryLimit, def.MemoryLimit)
	if o.Env != nil || def.Env != nil {
		out.Env = make(map[string]string, len(o.Env)+len(def.Env))
		maps.Copy(out.Env, def.Env)
		maps.Copy(out.Env, o.Env)
	}
	switch {
	case o.Thresholds == nil && def.Thresholds == nil:
	case o.Thresholds == nil:
		t := *def.Thresholds
		out.Thresholds = &t
	case def.Thresholds == nil:
		t := *o.Thresholds
		out.Thresholds = &t
	default:
		t := o.Thresholds.Merge(*def.Thresholds)
		out.Thresholds = &t
	}
	return out
}

// Merge returns t with every unset field taken from def.
func (t Thresholds) Merge(def Thresholds) Thresholds {
	return Thresholds{
		Regression:  pick(t.Regression, def.Regression),
		Improvement: pick(t.Improvement, def.Improvement),
		Walltime:    pick(t.Walltime, def.Walltime),
		Simulation:  pick(t.Simulation, def.Simulation),
		Memory:      pick(t.Memory, def.Memory),
	}
}

func pick[T any](v, def *T) *T {
	if v != nil {
		return v
	}
	return def
}

// Validate reports every invalid value and combination in o, joined: negative
// durations, round counts below one, min-rounds above max-rounds, min-time
// above max-time, min-time with max-rounds and max-time with min-rounds (a
// floor in time and a ceiling in rounds, or the reverse, can contradict each
// other, so CodSpeed refuses them; docs/protocol.md §2), a malformed cpus list, a
// non-positive memory limit and negative thresholds. The errors name keys as
// written in the file and on the command line (which agree), so the CLI can
// call Validate on merged options and show the result as is.
func (o Options) Validate() error {
	var errs []error
	for _, p := range o.problems() {
		errs = append(errs, errors.New(p.String()))
	}
	return errors.Join(errs...)
}

// problem is one violation found by Options.problems, with the keys involved
// so Load can point at the right line. A problem about one key has a msg that
// does not repeat the key; one about several names them all in msg.
type problem struct {
	keys []string
	msg  string
}

func (p problem) String() string {
	if len(p.keys) == 1 {
		return p.keys[0] + ": " + p.msg
	}
	return p.msg
}

func (o Options) problems() []problem {
	var ps []problem
	add := func(msg string, keys ...string) { ps = append(ps, problem{keys, msg}) }
	for _, d := range []struct {
		key string
		v   *time.Duration
	}{{"warmup-time", o.WarmupTime}, {"max-time", o.MaxTime}, {"min-time", o.MinTime}} {
		if d.v != nil && *d.v < 0 {
			add(fmt.Sprintf("must not be negative, got %s", *d.v), d.key)
		}
	}
	for _, r := range []struct {
		key string
		v   *int64
	}{{"max-rounds", o.MaxRounds}, {"min-rounds", o.MinRounds}} {
		if r.v != nil && *r.v < 1 {
			add(fmt.Sprintf("must be at least 1, got %d", *r.v), r.key)
		}
	}
	// Comparisons only between values that are valid on their own, so one
	// mistake gives one message.
	if o.MinRounds != nil && o.MaxRounds != nil && *o.MaxRounds >= 1 && *o.MinRounds > *o.MaxRounds {
		add(fmt.Sprintf("min-rounds (%d) is greater than max-rounds (%d)", *o.MinRounds, *o.MaxRounds), "min-rounds", "max-rounds")
	}
	if o.MinTime != nil && o.MaxTime != nil && *o.MaxTime >= 0 && *o.MinTime > *o.MaxTime {
		add(fmt.Sprintf("min-time (%s) is greater than max-time (%s)", *o.MinTime, *o.MaxTime), "min-time", "max-time")
	}
	if o.MinTime != nil && o.MaxRounds != nil {
		add("min-time and max-rounds cannot be used together: a time floor and a round ceiling can contradict each other (keep one)", "min-time", "max-rounds")
	}
	if o.MaxTime != nil && o.MinRounds != nil {
		add("max-time and min-rounds cannot be used together: a time ceiling and a round floor can contradict each other (keep one)", "max-time", "min-rounds")
	}
	if o.CPUs != "" {
		if err := ValidateCPUs(o.CPUs); err != nil {
			add(err.Error(), "cpus")
		}
	}
	if o.MemoryLimit != nil && *o.MemoryLimit <= 0 {
		add(fmt.Sprintf("must be positive, got %d", *o.MemoryLimit), "memory-limit")
	}
	if o.Thresholds != nil {
		ps = append(ps, o.Thresholds.problems()...)
	}
	return ps
}

func (t Thresholds) problems() []problem {
	var ps []problem
	for _, f := range t.fields() {
		if f.v != nil && *f.v < 0 {
			ps = append(ps, problem{[]string{f.key}, fmt.Sprintf("must not be negative, got %s", formatFraction(*f.v))})
		}
	}
	return ps
}

type thresholdField struct {
	key string
	v   *float64
}

func (t *Thresholds) fields() []thresholdField {
	return []thresholdField{
		{"regression", t.Regression}, {"improvement", t.Improvement},
		{"walltime", t.Walltime}, {"simulation", t.Simulation}, {"memory", t.Memory},
	}
}

func formatFraction(f float64) string {
	return strconv.FormatFloat(f*100, 'g', -1, 64) + "%"
}

// ValidateCPUs checks a cpuset list as the kernel's cpuset.cpus and
// `docker run --cpuset-cpus` take it: comma-separated CPU numbers and
// inclusive ranges ("1", "0-3", "1-3,5"), with the sandbox's own parser, so
// that a list the config accepts is one the sandbox can pin to. It checks
// syntax only; whether those CPUs exist is for the sandbox to say on the
// host that runs the target.
func ValidateCPUs(s string) error {
	set, err := sandbox.ParseCPUSet(s)
	var le *sandbox.CPUListError
	switch {
	case errors.As(err, &le):
		return fmt.Errorf("invalid CPU list %s: %s (expected numbers and ranges like \"1-3,5\")", quote(s), le.Msg)
	case err != nil:
		return fmt.Errorf("invalid CPU list %s: %v", quote(s), err)
	case len(set) == 0:
		return errors.New("empty CPU list")
	}
	return nil
}
