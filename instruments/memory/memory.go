// Package memory is the memory instrument: it counts the heap allocations of
// a benchmark's process tree and reports peak live bytes, total bytes
// allocated, allocation and free calls, and bytes per call stack for the
// flamegraph.
//
// Two counters work together, and a process is counted by exactly one of them
// for each allocator entry point:
//
//   - An LD_PRELOAD interposer (preload/memtrack_preload.c, embedded) counts
//     the C allocator of dynamically linked glibc programs in-process, in a
//     page shared with the runner. A uprobe trap costs about 4 us here, so
//     probing every malloc and free slows a malloc-heavy program by 100x or
//     more; the interposer costs a few atomic adds (see BENCHMARKS.md).
//   - eBPF uprobes (bpf/memtrack.c, compiled by bpf2go) count what preloading
//     cannot reach: statically linked programs, allocators defined in an
//     executable, libraries that replace malloc (jemalloc, mimalloc, found
//     with their je_/_rjem_/mi_ and *allocx entry points), C++ operator
//     new/delete where they do not go through an interposed malloc, and Go's
//     runtime.mallocgc (entry probe only). Everything is aggregated in the
//     kernel: counters, a pointer-to-size map for live bytes, the peak, and
//     bytes per stack id.
//
// The process tree is followed in the kernel through the sched_process_fork,
// sched_process_exec and sched_process_exit raw tracepoints, attached with
// BPF_RAW_TRACEPOINT_OPEN, which needs no tracefs mount. A tracked process that
// execs is stopped before its first instruction until its new program and
// that program's libraries (DT_NEEDED closure) are scanned and probed, so
// nothing is missed; libraries opened later with dlopen are not probed.
//
// Counting follows valgrind memcheck's "total heap usage" so the two can be
// compared: a successful malloc, calloc (n*size bytes), memalign family call,
// operator new or realloc counts one allocation of the requested size;
// realloc of a non-NULL pointer also counts one free; free(NULL) counts
// nothing; an allocator called from inside another (operator new calling
// malloc, delete calling free) counts once. Go's runtime.mallocgc counts
// allocations and requested bytes only (Go has no free calls and no peak is
// tracked for Go heaps).
//
// Bytes per call stack are exact for probed allocators and sampled (every
// SessionOptions.SamplePeriod bytes per thread) for the interposer. Stacks are
// walked with frame pointers: frames of code built without them are lost.
package memory

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/results"
)

// Instrument is the memory instrument. The zero value records stacks off;
// the run loop normally sets Stacks.
type Instrument struct {
	// Stacks records bytes per call stack and writes a folded-stacks file
	// per benchmark.
	Stacks bool
	// HooksDir is where the instrument-hooks FIFOs are made for entrypoint
	// targets; empty means hooks.DefaultDir, where CodSpeed's integrations
	// look for them (tests use a private directory).
	HooksDir string

	// folded names the folded-stacks files: two benchmarks whose names
	// make one file name get a file each.
	folded instruments.NameSet
}

var _ instruments.Instrument = (*Instrument)(nil)

// Mode returns "memory".
func (*Instrument) Mode() string { return results.Memory }

// Check reports whether this host and process can load and attach the eBPF
// programs; failures wrap instruments.ErrNotSupported and say what to grant.
func (*Instrument) Check() error { return check() }

// Measure measures one target:
//
//   - `go test -bench` entrypoints per Benchmark and sub-benchmark, per
//     iteration (see gotest.go);
//   - other entrypoint targets through the instrument-hooks pipe: each
//     region an integration marks (StartBenchmark..StopBenchmark) is
//     measured alone and belongs to the URI it announces next
//     (CurrentBenchmark); one benchmark per URI;
//   - exec targets, and entrypoints that mark no region, as one region
//     spanning the whole process tree, named after the target.
func (in *Instrument) Measure(ctx context.Context, t instruments.Target, env instruments.Env) ([]results.Benchmark, error) {
	if env.Progress == nil {
		env.Progress = instruments.NopProgress{}
	}
	if t.Kind == instruments.Entrypoint && gobench.IsGoTest(t.Args) {
		return in.measureGo(ctx, t, env)
	}
	s, err := NewSession(SessionOptions{Stacks: in.Stacks})
	if err != nil {
		return nil, err
	}
	defer s.Close()

	cmdEnv := append(append([]string(nil), env.BaseEnv...), t.Env...)
	argv := t.Argv()
	cmd := exec.CommandContext(ctx, instruments.LookPath(argv[0], cmdEnv), argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = t.Dir
	cmd.Env = cmdEnv
	cmd.Stdout, cmd.Stderr = env.Stdout, env.Stderr
	// Cancel and deadline end the whole tree, not only the first process.
	instruments.OwnTree(cmd)
	launcher := env.Launcher
	if launcher == nil {
		launcher = instruments.Direct
	}

	var regions *regionHandler
	var stopHooks func() hooks.Session
	if t.Kind == instruments.Entrypoint {
		regions = &regionHandler{s: s}
		dir := in.HooksDir
		if dir == "" {
			dir = hooks.DefaultDir
		}
		var hooksEnv []string
		stopHooks, hooksEnv, err = hooks.Attach(ctx, dir, regions, hooksOptions(env, t.Name, hooks.ModeMemory)...)
		if err != nil && ctx.Err() != nil {
			return nil, err
		}
		if err != nil {
			// The integration then runs as if no runner were there,
			// and the whole tree is measured.
			env.Progress.Warn(fmt.Sprintf("instrument-hooks pipes unavailable, integrations cannot mark their benchmarks: %v", err))
			stopHooks = nil
		} else {
			cmd.Env = append(cmd.Env, hooksEnv...)
		}
	}

	env.Progress.Phase(t.Name, "measuring")
	// The whole tree is counted from the start; an integration's first
	// StartBenchmark resets the counters.
	if err := s.Start(); err != nil {
		if stopHooks != nil {
			stopHooks()
		}
		return nil, err
	}
	if err := s.Launch(launcher, cmd); err != nil {
		if stopHooks != nil {
			stopHooks()
		}
		return nil, fmt.Errorf("memory: start %s: %w", t.Name, err)
	}
	runErr := cmd.Wait()
	if stopHooks != nil {
		sess := stopHooks()
		if sess.ProtocolVersion != 0 || len(sess.Benchmarks) > 0 || len(sess.Errors) > 0 {
			if env.ProfileFolder != "" {
				if err := hooks.WriteSession(filepath.Join(env.ProfileFolder, "hooks-session.json"), sess); err != nil {
					env.Progress.Warn(err.Error())
				}
			}
		}
		if err := sess.Err(); err != nil {
			env.Progress.Warn(fmt.Sprintf("instrument-hooks: %v", err))
		}
		if regions.marked {
			benches, err := in.regionBenchmarks(t, env, regions, runErr)
			noteRuntimes(s, env.Progress.Warn, t.Name, benches)
			if ctx.Err() != nil {
				return benches, ctx.Err()
			}
			return benches, err
		}
	}
	snap, err := s.Stop()
	if err != nil {
		return nil, err
	}
	for _, w := range s.Warnings() {
		env.Progress.Warn(w)
	}
	warnUntracked(env, t.Name, snap)
	b := results.Benchmark{Name: t.Name, URI: t.Name, Memory: &snap.Stats}
	if runErr != nil {
		b.Error = fmt.Sprintf("%s: %v", t.Name, runErr)
	}
	noteRuntimes(s, env.Progress.Warn, t.Name, []results.Benchmark{b})
	if err := in.attachStacks(&b, env, t.Name, snap.Stacks); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return []results.Benchmark{b}, ctx.Err()
	}
	return []results.Benchmark{b}, nil
}

// warnUntracked reports allocations that escaped live-byte tracking.
func warnUntracked(env instruments.Env, name string, snap Snapshot) {
	if snap.Untracked > 0 {
		env.Progress.Warn(fmt.Sprintf("%s: %d allocations could not be tracked for live/peak bytes (too many live allocations)", name, snap.Untracked))
	}
}

// attachStacks writes the folded stacks of a benchmark when stacks are on.
func (in *Instrument) attachStacks(b *results.Benchmark, env instruments.Env, file string, stacks []StackBytes) error {
	if !in.Stacks || env.ProfileFolder == "" {
		return nil
	}
	rel, err := writeFoldedFile(env.ProfileFolder, file, stacks, &in.folded)
	if err != nil {
		return err
	}
	b.Profile = &results.Profile{Event: "bytes", Folded: rel}
	return nil
}

// writeFoldedFile writes stacks to <profile>/memory/<name>.folded (named by
// names, so <name>-2.folded when another benchmark's name made the same file
// name) and returns the path relative to the profile folder.
func writeFoldedFile(profile, name string, stacks []StackBytes, names *instruments.NameSet) (string, error) {
	p := names.Path(filepath.Join(profile, "memory"), name, "benchmark", ".folded")
	rel, err := filepath.Rel(profile, p)
	if err != nil {
		return "", fmt.Errorf("memory: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		return "", fmt.Errorf("memory: %w", err)
	}
	f, err := os.Create(p)
	if err != nil {
		return "", fmt.Errorf("memory: %w", err)
	}
	if err := WriteFolded(f, stacks); err != nil {
		f.Close()
		return "", fmt.Errorf("memory: write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("memory: write %s: %w", p, err)
	}
	return rel, nil
}
