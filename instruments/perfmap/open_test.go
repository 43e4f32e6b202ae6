package perfmap

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// The files a JIT leaves in /tmp are read only when they are what the
// benchmark wrote: planted links, FIFOs and other users' files are refused.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "perf-1.map")
	if err := os.WriteFile(good, []byte("10 10 f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	me := uint32(os.Getuid())
	if data, err := ReadFile(good, 1<<20, me); err != nil || string(data) != "10 10 f\n" {
		t.Fatalf("own file: %q, %v", data, err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("token"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "perf-2.map")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "perf-3.map")
	if err := os.Link(secret, hard); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "perf-4.map")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, hard, fifo} {
		if _, err := ReadFile(p, 1<<20, me); !errors.Is(err, ErrUntrusted) {
			t.Errorf("%s: %v, want ErrUntrusted", filepath.Base(p), err)
		}
	}
	if _, err := Open(filepath.Join(dir, "none"), me); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(good, 3, me); err == nil {
		t.Error("a file over the size bound was read")
	}

	// Another user's file: needs root to make one.
	if os.Getuid() != 0 {
		t.Log("not root: the foreign-owner case needs chown")
		return
	}
	nobody := uint32(65534)
	if u, err := user.Lookup("nobody"); err == nil {
		if n, err := strconv.Atoi(u.Uid); err == nil {
			nobody = uint32(n)
		}
	}
	foreign := filepath.Join(dir, "perf-5.map")
	if err := os.WriteFile(foreign, []byte("10 10 planted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, int(nobody), int(nobody)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(foreign, 1<<20, 1000); !errors.Is(err, ErrUntrusted) {
		t.Errorf("file of uid %d read for a benchmark of uid 1000: %v", nobody, err)
	}
	if _, err := ReadFile(foreign, 1<<20, nobody); err != nil {
		t.Errorf("file of the benchmark's own user refused: %v", err)
	}
	// Root's files are trusted: root could write anywhere anyway.
	if _, err := ReadFile(good, 1<<20, 1000); err != nil {
		t.Errorf("root's file refused: %v", err)
	}
}
