// Package results is the results model of codspeed-go: the CodSpeed-compatible
// results file (creator, instrument, benchmarks with walltime stats) plus this
// project's additions (simulation, memory and sandbox figures, and the run
// object), the statistics computed over rounds, the local run store, and the
// renderers. It imports no instrument and no sandbox.
package results

import (
	"encoding/json"
	"time"
)

// Instrument types, as written in the results file's "instrument.type".
const (
	Walltime   = "walltime"
	Simulation = "simulation"
	Memory     = "memory"
)

// File is one results file, written as results/<pid>.json in a profile folder.
// The field names are CodSpeed's (see docs/protocol.md §3) with this project's
// additions (same section); readers that know only CodSpeed's fields ignore the rest.
type File struct {
	Creator    Creator     `json:"creator"`
	Instrument Instrument  `json:"instrument"`
	Run        *RunInfo    `json:"run,omitempty"`
	Benchmarks []Benchmark `json:"benchmarks"`
	// Metadata is CodSpeed's top-level metadata object, carried over from
	// the integrations' own results files (codspeed-node's async_warning:
	// "Profiling is inaccurate due to async operations").
	Metadata map[string]json.RawMessage `json:"metadata,omitempty"`
}

// Creator names the program that wrote the file.
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pid     int    `json:"pid"`
}

// Instrument says which instrument measured the benchmarks.
type Instrument struct {
	Type string `json:"type"`
}

// RunInfo identifies the run a results file belongs to.
type RunInfo struct {
	ID        string    `json:"id"`
	Mode      string    `json:"mode"`
	Part      int       `json:"part"`
	StartedAt time.Time `json:"started_at"`
	Git       GitInfo   `json:"git"`
	Host      HostInfo  `json:"host"`
}

// GitInfo is the commit the run measured, when the working directory is in a
// git repository.
type GitInfo struct {
	Commit string `json:"commit,omitempty"`
	Ref    string `json:"ref,omitempty"`
	Dirty  bool   `json:"dirty,omitempty"`
}

// HostInfo describes the machine that ran the benchmarks.
type HostInfo struct {
	OS    string `json:"os"`
	Arch  string `json:"arch"`
	CPU   string `json:"cpu,omitempty"`
	Cores int    `json:"cores"`
}

// Benchmark is one measured benchmark. Exactly which of the per-instrument
// sections are set depends on the instrument; Error is set (and the figures
// left empty) when the benchmark failed.
type Benchmark struct {
	Name string `json:"name"`
	URI  string `json:"uri"`

	// Config and Stats are CodSpeed's walltime fields.
	Config *BenchConfig `json:"config,omitempty"`
	Stats  *Stats       `json:"stats,omitempty"`
	// Samples are the per-iteration times of every measured round, in ns,
	// in the order they were measured; compare uses them for its tests.
	Samples []float64 `json:"samples_ns,omitempty"`

	Simulation *SimulationStats `json:"simulation,omitempty"`
	Memory     *MemoryStats     `json:"memory,omitempty"`
	Sandbox    *Sandbox         `json:"sandbox,omitempty"`
	// GoBench keeps what `go test -bench` itself reported (-benchmem figures).
	GoBench *GoBench `json:"go,omitempty"`
	// Profile lists artifacts written for this benchmark, relative to the
	// profile folder.
	Profile *Profile `json:"profile,omitempty"`

	// Command is how an exec benchmark was run, so that it can be run
	// again as it was (compare --confirm).
	Command *Command `json:"command,omitempty"`

	// Paired is the verdict of a paired A/B measurement (`codspeed ab`),
	// kept in the head run's benchmark.
	Paired *PairedResult `json:"paired,omitempty"`

	// Thresholds are the regression and improvement thresholds the
	// project's codspeed.yml gave this benchmark when it ran, as fractions;
	// nil when it gave none (the defaults apply). A results server judges
	// the run with them, as `codspeed compare` does with the file.
	Thresholds *Thresholds `json:"thresholds,omitempty"`

	Error string `json:"error,omitempty"`
}

// Thresholds of one benchmark, as fractions (0.05 is 5%).
type Thresholds struct {
	Regression  float64 `json:"regression"`
	Improvement float64 `json:"improvement"`
}

// Command is an exec benchmark's command: the line as written, the argv it
// was spawned with (empty when a shell ran the line) and its directory.
type Command struct {
	Line string   `json:"line"`
	Args []string `json:"args,omitempty"`
	Dir  string   `json:"dir,omitempty"`
}

// BenchConfig is the walltime configuration a benchmark ran with; nil fields
// were not set (CodSpeed writes them as null).
type BenchConfig struct {
	WarmupTimeNs   *int64 `json:"warmup_time_ns"`
	MinRoundTimeNs *int64 `json:"min_round_time_ns"`
	MaxTimeNs      *int64 `json:"max_time_ns"`
	MaxRounds      *int64 `json:"max_rounds"`
}

// Stats are walltime statistics over per-iteration times (docs/protocol.md §3).
type Stats struct {
	MinNs              float64 `json:"min_ns"`
	MaxNs              float64 `json:"max_ns"`
	MeanNs             float64 `json:"mean_ns"`
	StdevNs            float64 `json:"stdev_ns"`
	Q1Ns               float64 `json:"q1_ns"`
	MedianNs           float64 `json:"median_ns"`
	Q3Ns               float64 `json:"q3_ns"`
	Rounds             int     `json:"rounds"`
	TotalTime          float64 `json:"total_time"`
	IQROutlierRounds   int     `json:"iqr_outlier_rounds"`
	StdevOutlierRounds int     `json:"stdev_outlier_rounds"`
	IterPerRound       int     `json:"iter_per_round"`
	WarmupIters        int     `json:"warmup_iters"`
}

// SimulationStats are callgrind's figures for one benchmark, per iteration
// (per op for Go benchmarks).
type SimulationStats struct {
	Instructions    float64   `json:"instructions"`
	L1Misses        float64   `json:"l1_misses"`
	LLMisses        float64   `json:"ll_misses"`
	SysNs           float64   `json:"sys_ns"`
	EstimatedCycles float64   `json:"estimated_cycles"`
	TimeNs          float64   `json:"time_ns"`
	CostModel       CostModel `json:"cost_model"`
	// AddressRandomization, when set, says why address randomisation stayed
	// on for the measured program (setarch -R was refused or missing).
	AddressRandomization string `json:"address_randomization,omitempty"`
}

// CostModel turns counts into an estimated cycle count and a time:
// cycles = Ir*InstructionWeight + L1m*L1MissWeight + LLm*LLMissWeight and
// time_ns = cycles / FrequencyGHz.
type CostModel struct {
	Name              string  `json:"name"`
	InstructionWeight float64 `json:"instruction_weight"`
	L1MissWeight      float64 `json:"l1_miss_weight"`
	LLMissWeight      float64 `json:"ll_miss_weight"`
	FrequencyGHz      float64 `json:"frequency_ghz"`
}

// MemoryStats are allocation figures for one benchmark.
type MemoryStats struct {
	PeakBytes           float64 `json:"peak_bytes"`
	TotalAllocatedBytes float64 `json:"total_allocated_bytes"`
	AllocCalls          float64 `json:"alloc_calls"`
	FreeCalls           float64 `json:"free_calls"`
	// PerIteration is true when the figures are divided by the iteration
	// count the integration reported, false for a whole measured region.
	PerIteration bool `json:"per_iteration,omitempty"`
	// Runtime names the managed runtime whose own heap the figures leave
	// out ("v8", "jvm", "pymalloc"), when the benchmark ran one; see the
	// memory instrument's README.
	Runtime string `json:"runtime,omitempty"`
}

// Sandbox says where and how a benchmark ran.
type Sandbox struct {
	Kind             string `json:"kind,omitempty"` // "local", "affinity", "docker", "none"
	CPUs             string `json:"cpus,omitempty"`
	Cgroup           string `json:"cgroup,omitempty"`
	MemoryLimitBytes int64  `json:"memory_limit_bytes,omitempty"`
	CPUUsageNs       int64  `json:"cpu_usage_ns,omitempty"`
	PeakMemoryBytes  int64  `json:"peak_memory_bytes,omitempty"`
	ContainerImage   string `json:"container_image,omitempty"`
	// Target is the codspeed.yml target (or command) that produced the
	// benchmark, TargetNs how long measuring that whole target took in
	// this mode: the durations sharding balances on.
	Target   string `json:"target,omitempty"`
	TargetNs int64  `json:"target_ns,omitempty"`
}

// GoBench holds the figures `go test -bench` printed for a benchmark.
type GoBench struct {
	Iterations  int64   `json:"iterations,omitempty"`
	NsPerOp     float64 `json:"ns_per_op,omitempty"`
	BytesPerOp  float64 `json:"bytes_per_op,omitempty"`
	AllocsPerOp float64 `json:"allocs_per_op,omitempty"`
}

// Profile lists a benchmark's artifacts, relative to the profile folder.
type Profile struct {
	Event      string `json:"event,omitempty"` // e.g. "cpu-clock", "cycles", "Ir", "bytes"
	Folded     string `json:"folded,omitempty"`
	Flamegraph string `json:"flamegraph,omitempty"`
	Raw        string `json:"raw,omitempty"`
}
