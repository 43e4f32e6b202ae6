// Package targets turns what the user asked for (a command line, the
// benchmarks of codspeed.yml, or `codspeed exec -` input) into the
// instruments' targets: options merged level by level (command line over
// target over root), validated, with a working directory that exists.
package targets

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
)

// Over merges lower-level options under the command line's. A bound given
// on the command line replaces the config's bound that it may not be combined
// with (--max-rounds drops a configured min-time, --max-time a min-rounds,
// and the reverse), so that flags always win, as documented.
func Over(cli, lower config.Options) config.Options {
	if cli.MaxRounds != nil {
		lower.MinTime = nil
	}
	if cli.MinTime != nil {
		lower.MaxRounds = nil
	}
	if cli.MaxTime != nil {
		lower.MinRounds = nil
	}
	if cli.MinRounds != nil {
		lower.MaxTime = nil
	}
	return cli.Merge(lower)
}

func InstrumentOptions(o config.Options) instruments.Options {
	return instruments.Options{WarmupTime: o.WarmupTime, MaxTime: o.MaxTime, MinTime: o.MinTime,
		MaxRounds: o.MaxRounds, MinRounds: o.MinRounds}
}

// ParseModes accepts a comma list and the old name "instrumentation".
func ParseModes(in []string) ([]string, error) {
	var modes []string
	seen := map[string]bool{}
	for _, m := range in {
		m = strings.ToLower(strings.TrimSpace(m))
		if m == "instrumentation" {
			m = results.Simulation
		}
		switch m {
		case results.Walltime, results.Simulation, results.Memory:
		case "":
			continue
		default:
			return nil, fmt.Errorf("unknown mode %q: choose walltime, simulation or memory", m)
		}
		if !seen[m] {
			seen[m] = true
			modes = append(modes, m)
		}
	}
	if len(modes) == 0 {
		return nil, errors.New("--mode is empty")
	}
	return modes, nil
}

func LoadConfig(path, cwd string) (*config.Config, []string, error) {
	if path == "" {
		var err error
		path, err = config.Discover(cwd)
		if err != nil || path == "" {
			return nil, nil, err
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, err
	}
	var w []string
	for _, x := range cfg.Warnings {
		w = append(w, x.String())
	}
	return cfg, w, nil
}

// resolveDir picks the working directory: CLI, then target, then root
// options (already merged into o), then the current directory.
func resolveDir(o config.Options, cwd string) (string, error) {
	dir := cwd
	if o.WorkingDirectory != "" {
		dir = o.WorkingDirectory
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return "", fmt.Errorf("working directory %s does not exist", dir)
	}
	return dir, nil
}

func New(name string, kind instruments.Kind, command string, argv []string, o config.Options, cwd string) (instruments.Target, error) {
	if err := o.Validate(); err != nil {
		return instruments.Target{}, fmt.Errorf("%s: %w", name, err)
	}
	dir, err := resolveDir(o, cwd)
	if err != nil {
		return instruments.Target{}, err
	}
	if argv == nil {
		argv, _ = instruments.SplitCommand(command)
	}
	t := instruments.Target{Name: name, Kind: kind, Command: command, Args: argv, Dir: dir, Options: InstrumentOptions(o), CPUs: o.CPUs}
	if o.MemoryLimit != nil {
		t.MemoryLimit = *o.MemoryLimit
	}
	for k, v := range o.Env {
		t.Env = append(t.Env, k+"="+v)
	}
	return t, nil
}

func FromCommand(args []string, kind instruments.Kind, name string, cfg *config.Config, cli config.Options, cwd string) ([]instruments.Target, error) {
	o := cli
	if cfg != nil {
		o = Over(cli, cfg.Options)
	}
	line := strings.Join(args, " ")
	if name == "" {
		name = line
	}
	argv := args
	if kind == instruments.Entrypoint {
		// `codspeed run` joins its command and runs it with bash, as
		// CodSpeed does, unless no shell is needed.
		argv = nil
	}
	t, err := New(name, kind, line, argv, o, cwd)
	return []instruments.Target{t}, err
}

func FromConfig(cfg *config.Config, cli config.Options, cwd string) ([]instruments.Target, error) {
	var ts []instruments.Target
	var errs []error
	for _, ct := range cfg.Targets {
		o := Over(cli, ct.Options.Merge(cfg.Options))
		kind, command := instruments.Exec, ct.Exec
		if ct.Entrypoint != "" {
			kind, command = instruments.Entrypoint, ct.Entrypoint
		}
		t, err := New(ct.Name, kind, command, nil, o, cwd)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", cfg.Path, ct.Line, err))
			continue
		}
		ts = append(ts, t)
	}
	return ts, errors.Join(errs...)
}

// stdinEntry is one entry of `codspeed exec -` JSON input.
type stdinEntry struct {
	Command string         `json:"command"`
	Name    string         `json:"name"`
	Options map[string]any `json:"options"`
}

// FromStdin reads commands for `codspeed exec -`: a JSON array of
// {command, name, options} objects, or one command per line.
func FromStdin(r io.Reader, cfg *config.Config, cli config.Options, cwd string) ([]instruments.Target, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	base := cli
	if cfg != nil {
		base = Over(cli, cfg.Options)
	}
	trimmed := strings.TrimSpace(string(data))
	var ts []instruments.Target
	if strings.HasPrefix(trimmed, "[") {
		var in []stdinEntry
		if err := json.Unmarshal([]byte(trimmed), &in); err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		for i, e := range in {
			if strings.TrimSpace(e.Command) == "" {
				return nil, fmt.Errorf("stdin: entry %d has no command", i+1)
			}
			o, err := config.ParseOptions(fmt.Sprintf("stdin: entry %d", i+1), cwd, e.Options)
			if err != nil {
				return nil, err
			}
			name := e.Name
			if name == "" {
				name = e.Command
			}
			t, err := New(name, instruments.Exec, e.Command, nil, Over(cli, o.Merge(base)), cwd)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	}
	sc := bufio.NewScanner(strings.NewReader(trimmed))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t, err := New(line, instruments.Exec, line, nil, base, cwd)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// Limits builds the thresholds of each benchmark from the config:
// a target's options.thresholds, over the root options.thresholds, over the
// top-level thresholds section, over the built-in defaults. Within one set,
// the per-mode value (walltime, simulation, memory) wins over regression,
// and improvement defaults to the regression threshold. A target's
// thresholds reach the benchmarks named after it: every exec target, and
// entrypoint targets only for benchmarks whose name is the target's (the
// results do not record which entrypoint produced a benchmark).
func Limits(cfg *config.Config) func(string, *results.Benchmark) compare.Limits {
	return func(instrument string, b *results.Benchmark) compare.Limits {
		var t config.Thresholds
		if cfg != nil {
			if cfg.Thresholds != nil {
				t = *cfg.Thresholds
			}
			if cfg.Options.Thresholds != nil {
				t = cfg.Options.Thresholds.Merge(t)
			}
			for _, ct := range cfg.Targets {
				if ct.Options.Thresholds != nil && (ct.Name == b.Name || "exec_harness::"+ct.Name == b.URI) {
					t = ct.Options.Thresholds.Merge(t)
					break
				}
			}
		}
		lim := compare.DefaultLimits(instrument)
		mode := map[string]*float64{results.Walltime: t.Walltime, results.Simulation: t.Simulation, results.Memory: t.Memory}[instrument]
		switch {
		case mode != nil:
			lim.Regression, lim.Improvement = *mode, *mode
		case t.Regression != nil:
			lim.Regression, lim.Improvement = *t.Regression, *t.Regression
		}
		if t.Improvement != nil {
			lim.Improvement = *t.Improvement
		}
		return lim
	}
}

// RecordedThresholds gives each benchmark the thresholds cfg sets for it
// (Limits), or nil when cfg sets none for it (the built-in defaults apply):
// what a run records for a results server.
func RecordedThresholds(cfg *config.Config) func(string, *results.Benchmark) *results.Thresholds {
	if cfg == nil {
		return nil
	}
	limits := Limits(cfg)
	return func(instrument string, b *results.Benchmark) *results.Thresholds {
		l := limits(instrument, b)
		if l == compare.DefaultLimits(instrument) {
			return nil
		}
		return &results.Thresholds{Regression: l.Regression, Improvement: l.Improvement}
	}
}
