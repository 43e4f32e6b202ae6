package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// The test binary doubles as the target: with SANDBOX_TEST_HELPER set it
// runs one of the helper programs below instead of the tests.
const helperEnv = "SANDBOX_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(runHelper(h))
	}
	os.Exit(m.Run())
}

func runHelper(h string) int {
	kind, arg, _ := strings.Cut(h, ":")
	n, _ := strconv.Atoi(arg)
	switch kind {
	case "spin": // busy loop for n ms of wall time
		end := time.Now().Add(time.Duration(n) * time.Millisecond)
		x := 0
		for time.Now().Before(end) {
			for i := 0; i < 10000; i++ {
				x += i
			}
		}
		fmt.Println(x)
	case "runner": // a runner that starts a forking target in a sandbox, then waits to be killed
		spec := NewSpec(Options{Args: []string{"sh", "-c", "x"}})
		s, err := NewLocal(spec, LocalOptions{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		marker := os.Getenv("SANDBOX_TEST_MARKER")
		cmd := exec.Command("sh", "-c", "sleep "+marker+" & sleep "+marker+"; wait")
		if err := s.Start(cmd); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("ready %d %s\n", cmd.Process.Pid, spec.Linux.CgroupsPath)
		time.Sleep(time.Hour)
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", h)
		return 2
	}
	return 0
}

func helperCmd(t testing.TB, h string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+h, "GOMAXPROCS=1")
	return cmd
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root to create cgroups (the CI host runs the tests as root)")
	}
}

// statusField returns a field of a /proc/<pid>/status text.
func statusField(t testing.TB, status, field string) string {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in status:\n%s", field, status)
	return ""
}
