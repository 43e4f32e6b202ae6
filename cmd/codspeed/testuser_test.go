package main

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"testing"
)

// testUserName is the unprivileged account the tests run things as, to
// check what another user of the machine can and cannot read.
const testUserName = "codspeed-test"

// testUser returns the uid and gid of testUserName, creating the account
// (no home, no login shell) when this process is root and it is absent. CI
// runs as root, so there the test never skips.
func testUser(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(testUserName)
	if err != nil && os.Geteuid() == 0 {
		out, aerr := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", testUserName).CombinedOutput()
		// Another test may have created it meanwhile: look again.
		if u, err = user.Lookup(testUserName); err != nil {
			t.Fatalf("useradd %s: %v\n%s", testUserName, aerr, out)
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no user %s and not root to create it: %v", testUserName, err)
		}
		t.Skipf("needs root to create the user %s, or that user", testUserName)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// userDir is a fresh directory owned by uid:gid (t.TempDir's are private
// to root), removed at the end of the test.
func userDir(t *testing.T, uid, gid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "codspeed-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}
