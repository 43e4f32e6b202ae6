package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/memory"
	"github.com/codspeed-go/codspeed-go/instruments/simulation"
	"github.com/codspeed-go/codspeed-go/instruments/walltime"
	"github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	target "github.com/codspeed-go/codspeed-go/internal/targets"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
)

// NewInstrument makes the instrument of a mode (walltime, simulation,
// memory).
func NewInstrument(mode, gitRoot string, wallOpts walltime.Options) (instruments.Instrument, error) {
	switch mode {
	case results.Walltime:
		return walltime.New(gitRoot, wallOpts), nil
	case results.Simulation:
		return simulation.New(simulation.Options{}), nil
	case results.Memory:
		// Stacks give the allocation flamegraph (bytes by call stack).
		return &memory.Instrument{Stacks: true}, nil
	}
	return nil, fmt.Errorf("%s mode is not built into this codspeed yet", mode)
}

// CheckedInstruments builds the instrument of each mode and checks that it
// can run here; the first that cannot stops it, with its error (wrapping
// instruments.ErrNotSupported when the host lacks what the mode needs).
func CheckedInstruments(modes []string, gitRoot string, wallOpts walltime.Options) (map[string]instruments.Instrument, error) {
	insts := map[string]instruments.Instrument{}
	for _, m := range modes {
		in, err := NewInstrument(m, gitRoot, wallOpts)
		if err != nil {
			return nil, err
		}
		if err := in.Check(); err != nil {
			return nil, fmt.Errorf("%s mode is not available here: %w", m, err)
		}
		insts[m] = in
	}
	return insts, nil
}

// Remeasurer re-runs the targets of flagged walltime benchmarks: the config
// target of that name when there is one, otherwise the benchmark's own
// command line (an exec benchmark's name is its command unless --name was
// given), with the harness options the head recorded. The runs go to a
// temporary store, so they never become "the newest run". Benchmarks of
// other instruments, and of entrypoint targets, are not re-measured (their
// verdict stands, with a note).
//
// A results file can come from anywhere, so a command it records is run only
// when this machine already ran it: it must be a command of a run in the
// local store (same command line, argv and directory). Others are refused
// and named; their verdict stands.
func Remeasurer(cfg *config.Config, cwd, gitRoot string, store *results.Store) compare.Remeasure {
	var known map[string]bool
	return func(ctx context.Context, flagged []results.BenchmarkChange) ([]*results.File, error) {
		var targets []instruments.Target
		var cfgTargets []instruments.Target
		if cfg != nil {
			cfgTargets, _ = target.FromConfig(cfg, config.Options{}, cwd)
		}
		var refused []string
		for _, b := range flagged {
			if b.Instrument != results.Walltime || !strings.HasPrefix(b.URI, "exec_harness::") {
				continue
			}
			found := false
			for _, t := range cfgTargets {
				if t.Name == b.Name && t.Kind == instruments.Exec {
					targets, found = append(targets, t), true
					break
				}
			}
			if found {
				continue
			}
			o := optionsFromBenchConfig(b.HeadBenchmark)
			line, argv := b.Name, []string(nil)
			if c := b.HeadBenchmark.Command; c != nil && c.Line != "" {
				// The head recorded what it ran and where: run exactly that.
				line, argv, o.WorkingDirectory = c.Line, c.Args, c.Dir
			}
			if known == nil {
				known = storedCommands(store)
			}
			if !known[commandKey(line, argv, o.WorkingDirectory)] {
				refused = append(refused, fmt.Sprintf("%s (`%s`)", b.Name, line))
				continue
			}
			t, err := target.New(b.Name, instruments.Exec, line, argv, o, cwd)
			if err != nil {
				continue
			}
			targets = append(targets, t)
		}
		if len(refused) > 0 {
			fmt.Fprintf(os.Stderr, "codspeed: not re-measured, their verdict stands: %s: the command is neither a target of codspeed.yml nor one that a run in the local store (%s) ran, and a results file does not decide what runs on this machine\n",
				strings.Join(refused, ", "), store.Root)
		}
		if len(targets) == 0 {
			return nil, nil
		}
		tmp, err := os.MkdirTemp("", "codspeed-confirm-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		in, err := NewInstrument(results.Walltime, gitRoot, walltime.Options{})
		if err != nil {
			return nil, err
		}
		out, err := Execute(ctx, Request{
			Modes: []string{results.Walltime}, Targets: targets,
			Instruments: map[string]instruments.Instrument{results.Walltime: in},
			GitRoot:     gitRoot, Git: gitrepo.Head(gitRoot),
			Store: &results.Store{Root: filepath.Join(tmp, "runs")}, AllowEmpty: true,
			Args: []string{"codspeed", "compare", "--confirm"}, Out: io.Discard, Err: os.Stderr,
			Progress: NewProgress(os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))),
		})
		if out == nil {
			return nil, err
		}
		return out.Files, err
	}
}

// optionsFromBenchConfig gives back the harness options a benchmark ran
// with, as recorded in its results (a nil warmup there means none).
func optionsFromBenchConfig(b *results.Benchmark) config.Options {
	var o config.Options
	zero := time.Duration(0)
	o.WarmupTime = &zero
	if b == nil || b.Config == nil {
		return o
	}
	c := b.Config
	if c.WarmupTimeNs != nil {
		d := time.Duration(*c.WarmupTimeNs)
		o.WarmupTime = &d
	}
	if c.MaxTimeNs != nil {
		d := time.Duration(*c.MaxTimeNs)
		o.MaxTime = &d
	}
	if c.MaxRounds != nil {
		n := *c.MaxRounds
		o.MaxRounds = &n
	}
	return o
}

// storedCommands are the commands that runs in the local store measured (as
// their results files record them), keyed by commandKey.
func storedCommands(store *results.Store) map[string]bool {
	known := map[string]bool{}
	if store == nil {
		return known
	}
	runs, err := store.List()
	if err != nil {
		return known
	}
	for _, m := range runs {
		for _, p := range m.Parts {
			if p.Results == "" {
				continue
			}
			f, err := results.ReadResults(filepath.Join(store.Dir(m.ID), p.Results))
			if err != nil {
				continue
			}
			for _, b := range f.Benchmarks {
				if c := b.Command; c != nil && c.Line != "" {
					known[commandKey(c.Line, c.Args, c.Dir)] = true
				}
			}
		}
	}
	return known
}

func commandKey(line string, argv []string, dir string) string {
	return line + "\x00" + strings.Join(argv, "\x00") + "\x00\x00" + dir
}
