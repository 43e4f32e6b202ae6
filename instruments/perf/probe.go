package perf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	goperf "github.com/elastic/go-perf"
	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// Event names as perf(1) spells them; they go into results as Profile.Event.
const (
	EventCycles   = "cycles"
	EventCPUClock = "cpu-clock"
)

// Capability is what Probe found this process may do with perf events.
type Capability struct {
	// Event is the sampling event profiles use: "cycles" when the host has
	// hardware counters, "cpu-clock" (a software timer) when it has not.
	Event string
	// Paranoid is kernel.perf_event_paranoid, or -100 when it cannot be read.
	Paranoid int
}

// ErrNotPermitted is wrapped (together with instruments.ErrNotSupported) by
// Probe's errors when the kernel refuses this process perf events; the error
// text says what to change.
var ErrNotPermitted = errors.New("perf events not permitted")

// hardwareOK lets tests pretend a host has no hardware counters. It is not
// exported: the choice belongs to the host, not the caller.
var hardwareOK = true

// Probe opens, and closes again, a sampling event of the kind a Session opens
// (user space only, on this thread and inherited by its children), first on
// the cycles hardware counter and then, when the host has none (virtual
// machines, containers on some clouds), on the cpu-clock software timer. It
// costs two system calls and is safe to call often, but callers should call
// it once and keep the answer.
//
// Errors wrap instruments.ErrNotSupported and, when it is a matter of
// permission, ErrNotPermitted; their text names the setting to change.
func Probe() (Capability, error) {
	c := Capability{Paranoid: readParanoid()}
	var hwErr error
	if hardwareOK {
		hwErr = tryOpen(EventCycles)
		if hwErr == nil {
			c.Event = EventCycles
			return c, nil
		}
	}
	err := tryOpen(EventCPUClock)
	if err == nil {
		c.Event = EventCPUClock
		return c, nil
	}
	return c, explain(err, c.Paranoid)
}

func tryOpen(event string) error {
	a := newAttr(event, Config{Unwinding: FramePointer, Frequency: DefaultFrequency})
	ev, err := goperf.Open(a, 0, -1, nil)
	if err != nil {
		return err
	}
	return ev.Close()
}

// explain turns perf_event_open's refusal into what the user must change.
func explain(err error, paranoid int) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("perf: %w (%w)", instruments.ErrNotSupported, err)
	}
	st := readStatus()
	inContainer := runningInContainer()
	switch errno {
	case unix.ENOSYS:
		// ENOSYS also comes from user-mode emulators (qemu-user runs
		// foreign-architecture containers and has no perf_event_open).
		const emulated = "; or this program runs under an emulator without perf events (qemu-user, as for a foreign-architecture image): profile on a host of its architecture"
		if st.seccomp {
			return fmt.Errorf("perf: perf_event_open is blocked by a seccomp filter (%v): %s%s: %w: %w", err, seccompHint(inContainer), emulated, ErrNotPermitted, instruments.ErrNotSupported)
		}
		return fmt.Errorf("perf: this kernel has no perf events (%v): build it with CONFIG_PERF_EVENTS%s: %w", err, emulated, instruments.ErrNotSupported)
	case unix.EACCES, unix.EPERM:
		privileged := st.capPerfmon || st.capSysAdmin
		if st.seccomp && (privileged || paranoid <= 2) {
			return fmt.Errorf("perf: perf_event_open is blocked by a seccomp filter (%v): %s: %w: %w", err, seccompHint(inContainer), ErrNotPermitted, instruments.ErrNotSupported)
		}
		var fix string
		if inContainer {
			fix = "grant the container CAP_PERFMON (docker run --cap-add PERFMON; Docker engines before 23 do not know it: --cap-add SYS_ADMIN) and a seccomp profile that allows perf_event_open, or lower the host's kernel.perf_event_paranoid to 2 (on the host: sudo sysctl kernel.perf_event_paranoid=2)"
		} else {
			fix = "run `sudo sysctl kernel.perf_event_paranoid=2` (user-space sampling of your own processes is all codspeed needs; make it permanent in /etc/sysctl.d/), or give codspeed CAP_PERFMON (sudo setcap cap_perfmon+ep $(which codspeed)), or run it as root"
		}
		return fmt.Errorf("perf: sampling not permitted (%v; kernel.perf_event_paranoid=%s): %s: %w: %w", err, paranoidString(paranoid), fix, ErrNotPermitted, instruments.ErrNotSupported)
	case unix.ENOENT, unix.EOPNOTSUPP, unix.ENODEV:
		return fmt.Errorf("perf: this kernel or VM offers no such sampling event (%v): hardware events (cycles) need a PMU, which VMs often lack (codspeed then samples cpu-clock); software events need a kernel built with CONFIG_PERF_EVENTS: %w", err, instruments.ErrNotSupported)
	}
	return fmt.Errorf("perf: cannot open a sampling event: %w (%w)", instruments.ErrNotSupported, err)
}

func seccompHint(inContainer bool) string {
	if inContainer {
		return "run the container with a seccomp profile that allows perf_event_open (`docker run --rm IMAGE seccomp-profile > seccomp.json`, then --security-opt seccomp=$PWD/seccomp.json: Docker's default profile plus perf_event_open and bpf; never seccomp=unconfined), plus --cap-add PERFMON (SYS_ADMIN on Docker engines before 23)"
	}
	return "start codspeed outside the sandbox that installs the filter, or allow perf_event_open in its seccomp profile"
}

func paranoidString(p int) string {
	if p == -100 {
		return "unknown"
	}
	return strconv.Itoa(p)
}

func readParanoid() int {
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		return -100
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -100
	}
	return p
}

type procStatus struct {
	seccomp                 bool
	capPerfmon, capSysAdmin bool
}

// readStatus reads the seccomp mode and effective capabilities of this
// process from /proc/self/status.
func readStatus() procStatus {
	var st procStatus
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return st
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Seccomp":
			st.seccomp = v == "2"
		case "CapEff":
			caps, err := strconv.ParseUint(v, 16, 64)
			if err == nil {
				st.capSysAdmin = caps&(1<<unix.CAP_SYS_ADMIN) != 0
				st.capPerfmon = caps&(1<<unix.CAP_PERFMON) != 0
			}
		}
	}
	return st
}

func runningInContainer() bool {
	if _, err := os.Stat("/.dockerenv"); err == nil {
		return true
	}
	if _, err := os.Stat("/run/.containerenv"); err == nil {
		return true
	}
	b, _ := os.ReadFile("/proc/1/cgroup")
	s := string(b)
	return strings.Contains(s, "docker") || strings.Contains(s, "kubepods") || strings.Contains(s, "containerd")
}
