package results

import "fmt"

// Thresholds of Warnings. Under a normal distribution about 0.7% of rounds
// fall outside the 1.5*IQR fences, so more than 5% of them (and at least two)
// means something else was competing for the machine.
const (
	outlierShareWarn = 0.05
	stdevShareWarn   = 0.10
	minRoundsWarn    = 5
)

// Warnings returns what the user should do about one benchmark's figures, as
// complete sentences that start with the benchmark's name; nil when nothing
// is wrong. Failed benchmarks get none (their error says more). The advice
// names this project's flags: --cpus to pin the target (unless its sandbox
// already pinned it), --min-rounds and --max-time for more rounds.
func Warnings(instrument string, b Benchmark) []string {
	if b.Error != "" {
		return nil
	}
	name := displayName(b.Name)
	var warns []string
	switch instrument {
	case Walltime:
		s := b.Stats
		if s == nil || s.Rounds == 0 {
			return []string{name + ": no rounds were measured; check that the benchmark ran (see its output above)"}
		}
		// Pinning is advice only for a benchmark that ran unpinned; one
		// already pinned needs its CPU to itself.
		quieter, pin := "close other programs or pin the benchmark with --cpus", "pin the benchmark with --cpus, "
		if cpus := pinnedTo(b); cpus != "" {
			quieter = fmt.Sprintf("close other programs (it already ran pinned to CPU %s; a CPU kept free of other work, e.g. with the isolcpus= kernel parameter, is quieter)", cpus)
			pin = ""
		}
		if s.IQROutlierRounds >= 2 && float64(s.IQROutlierRounds) > outlierShareWarn*float64(s.Rounds) {
			warns = append(warns, fmt.Sprintf("%s: %d of %d rounds are outliers; the machine is noisy: %s",
				name, s.IQROutlierRounds, s.Rounds, quieter))
		}
		if s.MeanNs > 0 && s.StdevNs > stdevShareWarn*s.MeanNs {
			warns = append(warns, fmt.Sprintf("%s: the standard deviation is %s of the mean; the results are unstable: run on a quieter machine, %sor raise --max-time",
				name, formatPercent(100*s.StdevNs/s.MeanNs), pin))
		}
		if s.Rounds < minRoundsWarn {
			measured := fmt.Sprintf("%d rounds were", s.Rounds)
			if s.Rounds == 1 {
				measured = "1 round was"
			}
			warns = append(warns, fmt.Sprintf("%s: only %s measured, too few for reliable statistics: raise --min-rounds or --max-time",
				name, measured))
		}
	case Simulation:
		if b.Simulation != nil && b.Simulation.Instructions == 0 {
			warns = append(warns, name+": no instructions were counted; the measured region is empty: check that the benchmark starts and stops its measurement (instrument hooks or callgrind client requests)")
		}
	case Memory:
		m := b.Memory
		switch {
		case m == nil || m.AllocCalls != 0 || m.FreeCalls != 0:
		case m.Runtime != "":
			warns = append(warns, fmt.Sprintf("%s: no allocator call was seen: its objects live in the runtime's own heap (%s), which memory mode does not count", name, runtimeHeap(m.Runtime)))
		default:
			warns = append(warns, name+": no allocation or free was seen; if the benchmark allocates, its allocator is not one the memory instrument traces (statically linked or custom): link it dynamically against libc, jemalloc or mimalloc")
		}
	}
	return warns
}

// pinnedTo is the CPU list a benchmark's sandbox pinned it to; "" when it
// ran unpinned (--no-sandbox) or the results do not say.
func pinnedTo(b Benchmark) string {
	if b.Sandbox == nil || b.Sandbox.Kind == "none" {
		return ""
	}
	return b.Sandbox.CPUs
}

// runtimeHeap describes the heap of a MemoryStats.Runtime.
func runtimeHeap(runtime string) string {
	switch runtime {
	case "v8":
		return "V8's garbage-collected heap"
	case "jvm":
		return "the JVM's garbage-collected heap"
	case "pymalloc":
		return "pymalloc's arenas; PYTHONMALLOC=malloc counts them"
	}
	return runtime
}
