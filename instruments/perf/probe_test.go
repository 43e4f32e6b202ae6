package perf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/testenv"
)

func TestProbe(t *testing.T) {
	c, err := Probe()
	if err != nil {
		if !errors.Is(err, instruments.ErrNotSupported) {
			t.Fatalf("Probe error does not wrap ErrNotSupported: %v", err)
		}
		testenv.Missing(t, "this host cannot sample: %v", err)
	}
	if c.Event != EventCycles && c.Event != EventCPUClock {
		t.Fatalf("event %q", c.Event)
	}
	t.Logf("event %s, paranoid %d", c.Event, c.Paranoid)

	// Without hardware counters the software clock is chosen.
	hardwareOK = false
	defer func() { hardwareOK = true }()
	if c, err := Probe(); err != nil || c.Event != EventCPUClock {
		t.Fatalf("without hardware counters: %+v, %v", c, err)
	}
}

func TestExplain(t *testing.T) {
	inContainer := runningInContainer()
	for _, tc := range []struct {
		errno    unix.Errno
		paranoid int
		want     []string
		perm     bool
	}{
		{unix.EACCES, 3, []string{"kernel.perf_event_paranoid=3", "perf_event_paranoid=2"}, true},
		{unix.EPERM, 4, []string{"PERFMON"}, true},
		{unix.ENOENT, 2, []string{"offers no such sampling event", "PMU", "CONFIG_PERF_EVENTS"}, false},
	} {
		err := explain(fmt.Errorf("perf_event_open: %w", tc.errno), tc.paranoid)
		if !errors.Is(err, instruments.ErrNotSupported) || errors.Is(err, ErrNotPermitted) != tc.perm {
			t.Errorf("%v: %v does not wrap the right sentinels", tc.errno, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v, paranoid %d (container %v): %q lacks %q", tc.errno, tc.paranoid, inContainer, err, w)
			}
		}
	}
}

// denyPerfEventOpen installs a seccomp filter on every thread of this
// process that fails perf_event_open with EPERM, as Docker's default profile
// does for containers without CAP_PERFMON/SYS_ADMIN.
func denyPerfEventOpen() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_PERF_EVENT_OPEN, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return errno
	}
	return nil
}

// TestSeccompChild runs only as the child of TestProbeUnderSeccomp.
func TestSeccompChild(t *testing.T) {
	if os.Getenv("PERF_TEST_SECCOMP_CHILD") != "1" {
		t.Skip("runs as the child of TestProbeUnderSeccomp")
	}
	if err := denyPerfEventOpen(); err != nil {
		t.Fatalf("install seccomp filter: %v", err)
	}
	_, err := Probe()
	fmt.Printf("PROBE-ERROR: %v\nNOT-PERMITTED: %v\n", err, errors.Is(err, ErrNotPermitted))
}

// Under a seccomp filter that refuses perf_event_open (a default Docker
// container), Probe says so and how to fix it.
func TestProbeUnderSeccomp(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestSeccompChild$", "-test.v")
	cmd.Env = append(os.Environ(), "PERF_TEST_SECCOMP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"PROBE-ERROR: perf: perf_event_open is blocked by a seccomp filter", "seccomp", "NOT-PERMITTED: true"} {
		if !strings.Contains(s, want) {
			t.Errorf("child output lacks %q:\n%s", want, s)
		}
	}
}
