package perfmap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// ErrUntrusted is wrapped by the errors of Open and ReadFile for a file
// they refuse to read: a symbolic link, not a regular file, a file with
// other hard links, or one owned by another user than root and the owners
// given.
var ErrUntrusted = errors.New("untrusted file")

// Open opens path for reading when it can be trusted to be what the
// measured process wrote: JIT files live in /tmp, where anyone can plant a
// file or a symbolic link under the name a runtime will use, and the runner
// (often root) copies what it reads into the profile folder that is
// uploaded. So path must be a regular file (a FIFO would block, a device
// would be read), reached without following a symbolic link in its last
// component (O_NOFOLLOW), with a single link (a hard link to a secret made
// where fs.protected_hardlinks is off), and owned by root or by one of
// owners (the uids the measured processes ran as). Errors for refused files
// wrap ErrUntrusted; a missing file gives an error wrapping fs.ErrNotExist.
func Open(path string, owners ...uint32) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link; not read: %w", path, ErrUntrusted)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	refuse := func(why string) (*os.File, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s %s; not read: %w", path, why, ErrUntrusted)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return refuse("is not a regular file")
	}
	if st.Nlink != 1 {
		return refuse(fmt.Sprintf("has %d hard links", st.Nlink))
	}
	trusted := st.Uid == 0
	for _, o := range owners {
		trusted = trusted || st.Uid == o
	}
	if !trusted {
		return refuse(fmt.Sprintf("is owned by uid %d, not by the benchmark's user (uid %v) or root", st.Uid, owners))
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ReadFile reads a file that Open accepts, refusing files larger than max
// bytes (a perf map of a long run is tens of MiB; this bounds what a
// misbehaving runtime can make the runner hold).
func ReadFile(path string, max int64, owners ...uint32) ([]byte, error) {
	f, err := Open(path, owners...)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d MiB; not read", path, max>>20)
	}
	return data, nil
}

// Owner is the uid a started command runs as: its credential's (a sandbox
// dropping root to the invoking user sets one), or this process's. It is
// the owner whose JIT files are trusted for that command's processes.
func Owner(cmd *exec.Cmd) uint32 {
	if a := cmd.SysProcAttr; a != nil && a.Credential != nil {
		return a.Credential.Uid
	}
	return uint32(os.Getuid())
}
