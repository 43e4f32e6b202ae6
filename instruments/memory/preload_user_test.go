package memory

import (
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

const testUserName = "codspeed-test"

// testUser is an unprivileged account, created when absent (CI runs as
// root).
func testUser(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(testUserName)
	if err != nil {
		out, aerr := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", testUserName).CombinedOutput()
		if u, err = user.Lookup(testUserName); err != nil {
			t.Fatalf("useradd %s: %v\n%s", testUserName, aerr, out)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// userLauncher starts processes as another user, as the sandbox does under
// sudo, and says so (instruments.RunsAs).
type userLauncher struct{ uid, gid int }

func (l userLauncher) Start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(l.uid), Gid: uint32(l.gid)}}
	return cmd.Start()
}

func (l userLauncher) RunsAs() (int, int) { return l.uid, l.gid }

// TestPreloadCountersPrivate: the interposer's shared counters are 0600 and
// belong to the benchmark's user, and a benchmark running as another user
// than the runner is still counted through them.
func TestPreloadCountersPrivate(t *testing.T) {
	requireBPF(t)
	uid, gid := testUser(t)
	bin := build(t, "malloc_loop", "malloc_loop.c")
	// The test user must reach the program: a folder of its own.
	dir, err := os.MkdirTemp("", "memtest-user-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	data, _ := os.ReadFile(bin)
	prog := filepath.Join(dir, "malloc_loop")
	if err := os.WriteFile(prog, data, 0o755); err != nil {
		t.Fatal(err)
	}

	s, err := NewSession(SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.preload == nil {
		if os.Getenv("CI") != "true" {
			t.Skip("this test binary has no preload library: run `make preload` (part of `make build`) first")
		}
		t.Fatal("this test binary has no preload library (make build compiles it)")
	}
	cmd := exec.Command(prog, "1000")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Launch(userLauncher{uid, gid}, cmd); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(s.preload.shmPath)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o600 || int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("counters %s: mode %o owner %d:%d, want 0600 owned by the benchmark's user %d:%d", s.preload.shmPath, fi.Mode().Perm(), st.Uid, st.Gid, uid, gid)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	// 1000 mallocs in the loop, plus what libc's start-up allocates.
	if snap.Stats.AllocCalls < 1000 || snap.Stats.AllocCalls > 1100 {
		t.Fatalf("the other user's benchmark was not counted: %v allocations, want about 1000", snap.Stats.AllocCalls)
	}
}
