package docker

import (
	"errors"
	"fmt"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/moby/moby/client/pkg/versions"
)

// perfmonAPIVersion is the first Engine API version whose daemon accepts
// CAP_PERFMON and CAP_BPF by name. Docker 20.10 (API 1.41) shipped with the
// names disabled because the runc of the day did not know them
// (moby/moby#41563); the revert (moby/moby#42011) was not backported to 20.10
// (docker/docs#15050, docker/cli#3960, still failing on 20.10.22), and first
// shipped in Docker Engine 23.0, which speaks API 1.42.
const perfmonAPIVersion = "1.42"

func knowsPerfmonCaps(apiVersion string) bool {
	return apiVersion != "" && versions.GreaterThanOrEqualTo(apiVersion, perfmonAPIVersion)
}

// ErrUnknownMode is wrapped when a mode has no capability plan.
var ErrUnknownMode = errors.New("unknown measurement mode")

// CapabilityPlan is what a container gets on top of Docker's default
// capability set, and why.
type CapabilityPlan struct {
	// Add lists capabilities added to the default set (CAP_ names).
	Add []string `json:"add"`
	// Fallback is true when CAP_SYS_ADMIN stands in for CAP_PERFMON/CAP_BPF
	// because the engine does not know those names.
	Fallback bool `json:"fallback,omitempty"`
	// Reason says why, in words the log and the results show.
	Reason string `json:"reason"`
}

// PlanCapabilities decides the capabilities a mode needs on an engine
// speaking apiVersion.
//
//   - simulation runs the benchmark under valgrind, which translates the
//     program in its own process: no capability.
//   - walltime samples the benchmark with perf (perf_event_open on its own
//     child): CAP_PERFMON, since the kernel refuses unprivileged perf events
//     at perf_event_paranoid >= 2 (Debian and most distributions).
//   - memory loads eBPF programs (CAP_BPF) and attaches them as uprobes through
//     the uprobe perf PMU (CAP_PERFMON). The container keeps its own PID
//     namespace: the programs report processes by the PIDs the runner sees.
//
// CAP_SYS_PTRACE is never added: perf and the uprobes follow processes the
// runner started itself (same credentials, no ptrace attach), and valgrind
// does not use ptrace. On engines that do not know CAP_PERFMON/CAP_BPF,
// CAP_SYS_ADMIN is the only capability the kernel accepts in their place
// (perfmon_capable and bpf_capable both accept it); that fallback is wider,
// so it is marked and logged.
func PlanCapabilities(mode, apiVersion string) (CapabilityPlan, error) {
	var need []string
	var why string
	switch mode {
	case results.Simulation:
		return CapabilityPlan{Add: []string{}, Reason: "simulation runs under valgrind, which needs no capability"}, nil
	case results.Walltime:
		need, why = []string{"CAP_PERFMON"}, "walltime samples with perf_event_open"
	case results.Memory:
		need, why = []string{"CAP_BPF", "CAP_PERFMON"}, "memory loads eBPF programs and attaches uprobes through perf_event_open"
	default:
		return CapabilityPlan{}, fmt.Errorf("%w %q (want %s, %s or %s)", ErrUnknownMode, mode,
			results.Walltime, results.Simulation, results.Memory)
	}
	if knowsPerfmonCaps(apiVersion) {
		return CapabilityPlan{Add: need, Reason: fmt.Sprintf("%s; engine API %s knows CAP_PERFMON/CAP_BPF", why, apiVersion)}, nil
	}
	return CapabilityPlan{
		Add:      []string{"CAP_SYS_ADMIN"},
		Fallback: true,
		Reason: fmt.Sprintf("%s; engine API %s (< %s, Docker < 23.0) rejects CAP_PERFMON/CAP_BPF by name, so CAP_SYS_ADMIN stands in for %v",
			why, apiVersion, perfmonAPIVersion, need),
	}, nil
}
