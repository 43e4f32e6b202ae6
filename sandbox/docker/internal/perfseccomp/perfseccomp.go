// Package perfseccomp makes the seccomp profile benchmark containers run
// under: the default profile of github.com/moby/profiles/seccomp (the version
// pinned in go.mod) plus two rules: one allowing perf_event_open and bpf
// whatever the container's capabilities, and one allowing
// personality(ADDR_NO_RANDOMIZE), which `setarch -R` needs so that the
// simulation instrument runs without address randomisation.
//
// The extra rule grants nothing by itself: the kernel still checks
// CAP_PERFMON (or CAP_SYS_ADMIN) for perf events and CAP_BPF (or
// CAP_SYS_ADMIN) for BPF. It only stops seccomp from refusing the calls before
// the kernel can check, which the default profile does unless the container
// holds those capabilities by name, and engines before Docker 23.0 cannot
// grant them by name.
package perfseccomp

import (
	"encoding/json"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Syscalls are the calls the instruments make that the default profile only
// allows to containers holding CAP_PERFMON, CAP_BPF or CAP_SYS_ADMIN.
var Syscalls = []string{"bpf", "perf_event_open"}

// AddrNoRandomize is the personality flag `setarch -R` sets (linux/personality.h).
// The default profile allows personality() only for a few other values.
const AddrNoRandomize = 0x0040000

// Generate returns the profile as indented JSON in Docker's profile format.
func Generate() ([]byte, error) {
	p := seccomp.DefaultProfile()
	p.Syscalls = append(p.Syscalls, &seccomp.Syscall{
		LinuxSyscall: specs.LinuxSyscall{Names: Syscalls, Action: specs.ActAllow},
		Comment:      "codspeed-go: perf sampling (walltime) and eBPF uprobes (memory); the kernel still checks CAP_PERFMON/CAP_BPF or CAP_SYS_ADMIN",
	}, &seccomp.Syscall{
		LinuxSyscall: specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: AddrNoRandomize, Op: specs.OpEqualTo}}},
		Comment: "codspeed-go: setarch -R (no address randomisation) for deterministic simulation runs",
	})
	b, err := json.MarshalIndent(p, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
