package upload

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/codspeed-go/codspeed-go/results"
)

// RunStateDir is where run-part counters are kept, relative to the git root
// (or the working directory outside a repository).
const RunStateDir = ".codspeed/run-state"

// StateDir is the run-state directory for a run detected as info: under the
// repository root (the git root locally, the checkout in CI), else under
// workdir.
func StateDir(info *Source, workdir string) string {
	root := workdir
	if info != nil && info.RepositoryRootPath != "" {
		root = info.RepositoryRootPath
	}
	return filepath.Join(root, RunStateDir)
}

// NextRunPart returns the next run-part index for runID (0 for the first
// run of a CI run, then 1, 2, ...). The counter lives in a file under
// stateDir, updated under an exclusive flock, so concurrent codspeed
// processes in one job (parallel steps, `&` in a script) each get a distinct
// index. The caller owns stateDir; it is created if missing.
func NextRunPart(stateDir string, runID string) (int, error) {
	if runID == "" {
		return 0, errors.New("run part: empty run id")
	}
	if err := results.MkdirAll(stateDir); err != nil {
		return 0, fmt.Errorf("run part: %w", err)
	}
	path := filepath.Join(stateDir, stateFileName(runID))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return 0, fmt.Errorf("run part: %w", err)
	}
	defer f.Close()
	if err := results.HandOver(path); err != nil {
		return 0, fmt.Errorf("run part: %w", err)
	}
	if err := lockFile(f); err != nil {
		return 0, fmt.Errorf("run part: lock %s: %w", path, err)
	}
	defer unlockFile(f)

	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("run part: %w", err)
	}
	next := 0
	if s := strings.TrimSpace(string(data)); s != "" {
		next, err = strconv.Atoi(s)
		if err != nil || next < 0 {
			return 0, fmt.Errorf("run part: %s: counter %q is not a non-negative integer (delete the file to start over)", path, s)
		}
	}
	if err := f.Truncate(0); err != nil {
		return 0, fmt.Errorf("run part: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(next+1)+"\n"), 0); err != nil {
		return 0, fmt.Errorf("run part: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("run part: %w", err)
	}
	return next, nil
}

// PartID names run part index of a job: the job's base id for the first
// part, then base-1, base-2, ...
func PartID(base string, index int) string {
	if index == 0 {
		return base
	}
	return base + "-" + strconv.Itoa(index)
}

// stateFileName keeps run ids with slashes or spaces (Jenkins job names)
// inside stateDir, and a hash keeps sanitized names from colliding.
func stateFileName(runID string) string {
	var b strings.Builder
	for _, r := range runID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	sum := sha256.Sum256([]byte(runID))
	return b.String() + "-" + hex.EncodeToString(sum[:6]) + ".count"
}
