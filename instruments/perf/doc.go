// Package perf samples benchmark processes with the kernel's perf events
// (perf_event_open, through github.com/elastic/go-perf) and turns the samples
// into flame graphs, without the perf tool.
//
// The pieces, in the order a run uses them:
//
//   - Probe says whether this process may sample, on which event (cycles
//     where the host has hardware counters, cpu-clock where it has not), and
//     otherwise what to change (kernel.perf_event_paranoid, CAP_PERFMON,
//     a container's seccomp profile). Its errors wrap
//     instruments.ErrNotSupported.
//   - Start opens a Session; its Launcher starts the benchmark's processes
//     so that they and their descendants inherit the events; Enable,
//     Disable, BeginBenchmark and EndBenchmark let the instrument-hooks pipe
//     server bound what is sampled and attribute it to benchmarks; Stop
//     returns a Recording.
//   - Recording.Symbolize names the frames (ELF .symtab/.dynsym, a stripped
//     Go binary's .gopclntab, JIT maps in /tmp/perf-<pid>.map, and the code
//     loads of jitdumps: jit-<pid>.dump wherever the runtime mapped it, or
//     in /tmp; see instruments/perfmap) and folds the stacks into one flame
//     graph profile per benchmark. JIT files are read only when they are
//     regular files, not symbolic links, owned by the benchmark's user or
//     root (perfmap.Open).
//   - Profiles.WriteFiles writes the profile folder: maps/perf-<pid>.map
//     (the symbols the samples hit, in perf's map format, at run-time
//     addresses), jit/perf-<pid>.map (copies of the JIT maps read, with the
//     jitdumps' symbols appended as map lines, as CodSpeed's runner appends
//     them), and <name>.folded and <name>.svg per benchmark plus all.folded
//     and all.svg for the target. The raw samples and the unwind tables stay
//     in memory: no reader of a file form of them exists, so none is written.
//
// Stacks are unwound by the kernel from frame pointers (FramePointer, the
// default and the cheapest), or after the run from a copy of the user stack
// and the objects' .eh_frame (DWARF, x86-64), which also works for code
// built without frame pointers.
package perf
