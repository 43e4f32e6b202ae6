package memory

import (
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/codspeed-go/codspeed-go/results"
)

// A managed runtime keeps most of a program's objects in a heap of its own,
// taken from the system with mmap in large blocks, so the allocator calls
// this instrument traces (malloc and friends) see only part of what the
// program allocates. Each note says exactly what is and is not counted.
type managedRuntime struct {
	name string // results.MemoryStats.Runtime
	note string
}

var (
	runtimeV8 = managedRuntime{"v8", "JavaScript objects, strings, arrays and closures live in V8's garbage-collected heap, " +
		"which V8 maps from the system itself (mmap) and which never calls malloc: they are NOT counted, so a benchmark that only builds " +
		"JavaScript values reports close to 0 B. Counted: what the runtime and native addons allocate with malloc, calloc, realloc, " +
		"aligned allocations and free (Buffer and ArrayBuffer backing stores, strings handed to native code, V8's and Node's own C++ data)"}
	runtimeJVM = managedRuntime{"jvm", "Java objects live in the JVM's garbage-collected heap, reserved with mmap at start-up: they are NOT counted. " +
		"Counted: the JVM's own and JNI code's malloc-family calls (direct ByteBuffers, Unsafe.allocateMemory, compiler and class metadata)"}
	runtimeCPython = managedRuntime{"pymalloc", "CPython serves objects of up to 512 bytes from pymalloc's arenas, which it maps from the system itself (mmap): " +
		"those objects are NOT counted one by one. Counted: larger objects and buffers, which go to malloc, and native extensions' allocations. " +
		"Run with PYTHONMALLOC=malloc to count every object allocation"}
)

var pythonExe = regexp.MustCompile(`^python[23]?(\.\d+)?d?$`)

// managedRuntimeOf recognizes a managed runtime by its executable.
func managedRuntimeOf(exe string) (managedRuntime, bool) {
	base := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	switch {
	case base == "node" || base == "nodejs" || base == "deno":
		return runtimeV8, true
	case base == "java":
		return runtimeJVM, true
	case pythonExe.MatchString(base):
		return runtimeCPython, true
	}
	return managedRuntime{}, false
}

// runtimes are the managed runtimes among the programs the session saw
// exec'd, by their executable's name ("node"), in name order.
func (s *Session) runtimes() map[string]managedRuntime {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]managedRuntime{}
	for _, exe := range s.exes {
		if r, ok := managedRuntimeOf(exe); ok {
			out[filepath.Base(exe)] = r
		}
	}
	return out
}

// noteRuntimes tells, once per target, what memory mode counts of the
// managed runtimes the target ran, and marks its benchmarks with the
// runtime (results.MemoryStats.Runtime) so that the report does not blame
// static linking for what the runtime's own heap holds.
func noteRuntimes(s *Session, warn func(string), target string, benches []results.Benchmark) {
	rs := s.runtimes()
	if len(rs) == 0 {
		return
	}
	var runtime string
	for _, exe := range slices.Sorted(maps.Keys(rs)) {
		r := rs[exe]
		if runtime == "" {
			runtime = r.name
		}
		warn(target + ": " + exe + " ran: memory mode counts only allocator calls (malloc family). " + r.note + ".")
	}
	for i := range benches {
		if benches[i].Memory != nil {
			benches[i].Memory.Runtime = runtime
		}
	}
}
