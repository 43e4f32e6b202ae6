package results

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Files and folders this project writes (results, run.json, reports, the
// store) are made for the people who read them: files 0666 and folders 0777,
// less the umask, as any tool makes them; and, when codspeed runs as root for
// someone else (through sudo, or in a container over a user's workspace),
// owned by that user where the folder they land in is theirs.

var (
	umaskOnce sync.Once
	umask     os.FileMode

	ownerMu sync.Mutex
	owner   *Owner
)

// Owner is a user to hand files to.
type Owner struct {
	UID, GID int
	// Why names the reason, for messages ("sudo", "workspace owner").
	Why string
}

// HandFilesTo makes every file and folder this package creates from now on
// belong to o when the folder it is created in belongs to o.UID (nil stops
// it). Only root can give files away; the CLI decides who (see
// cmd/codspeed).
func HandFilesTo(o *Owner) {
	ownerMu.Lock()
	defer ownerMu.Unlock()
	owner = o
}

func currentOwner() *Owner {
	ownerMu.Lock()
	defer ownerMu.Unlock()
	return owner
}

// Umask is this process's file mode creation mask, read from
// /proc/self/status (Linux 4.7+) or, failing that, by setting and restoring
// it once.
func Umask() os.FileMode {
	umaskOnce.Do(func() {
		if data, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "Umask:"); ok {
					if n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
						umask = os.FileMode(n) & 0o777
						return
					}
				}
			}
		}
		old := syscall.Umask(0o022)
		syscall.Umask(old)
		umask = os.FileMode(old) & 0o777
	})
	return umask
}

// FileMode and DirMode are the modes new files and folders get.
func FileMode() os.FileMode { return 0o666 &^ Umask() }
func DirMode() os.FileMode  { return 0o777 &^ Umask() }

// MkdirAll creates path and its missing parents with DirMode, handing each
// folder it creates to the Owner set by HandFilesTo when the first existing
// parent belongs to that owner.
func MkdirAll(path string) error {
	var missing []string
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(path, 0o777); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := handOver(missing[i]); err != nil {
			return err
		}
	}
	return nil
}

// handOver gives p to the owner when its folder belongs to them and p
// belongs to this process.
func handOver(p string) error {
	o := currentOwner()
	if o == nil {
		return nil
	}
	if !ownedBy(filepath.Dir(p), o.UID) || !ownedBy(p, os.Geteuid()) {
		return nil
	}
	if err := os.Lchown(p, o.UID, o.GID); err != nil {
		return fmt.Errorf("give %s to uid %d (%s): %w", p, o.UID, o.Why, err)
	}
	return nil
}

func ownedBy(p string, uid int) bool {
	fi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid
}

// HandOver gives root and everything under it that this process owns to the
// Owner set by HandFilesTo, folder by folder from the top, where the
// containing folder is the owner's: for what instruments and sandboxes wrote
// into a run's folders with plain os.Create. Without an owner it does
// nothing.
func HandOver(root string) error {
	if currentOwner() == nil {
		return nil
	}
	var errs []error
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := handOver(p); err != nil {
			errs = append(errs, err)
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}

// FilesOwner is the Owner set by HandFilesTo (nil when none).
func FilesOwner() *Owner { return currentOwner() }
