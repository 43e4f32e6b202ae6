package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// FileNames are the names Discover looks for in each directory, in order of
// preference (CodSpeed's, docs/protocol.md §2).
var FileNames = []string{"codspeed.yaml", "codspeed.yml", ".codspeed.yaml", ".codspeed.yml"}

// Discover finds the project config for a run started in startDir, as CodSpeed
// does without --config: startDir, then each parent up to the git root (the
// nearest directory holding .git, a directory or, in worktrees and
// submodules, a file); in each directory the first of FileNames that is a
// regular file. Outside a git repository only startDir is searched: climbing
// to / could pick up an unrelated file from a home directory.
//
// It returns the absolute path found, or "" and a nil error when there is
// none. Errors are for directories it could not inspect (permissions), since
// silently skipping one could load a different config than the user meant.
func Discover(startDir string) (string, error) {
	start, err := filepath.Abs(startDir)
	if err != nil {
		return "", fmt.Errorf("discover config from %s: %w", startDir, err)
	}
	if fi, err := os.Stat(start); err != nil {
		return "", fmt.Errorf("discover config: %w", err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("discover config: %s is not a directory", start)
	}
	root, err := gitRoot(start)
	if err != nil {
		return "", err
	}
	for dir := start; ; {
		for _, name := range FileNames {
			p := filepath.Join(dir, name)
			fi, err := os.Stat(p)
			switch {
			case err == nil && fi.Mode().IsRegular():
				return p, nil
			case err == nil, errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
				// A directory named codspeed.yml is not a config.
			default:
				return "", fmt.Errorf("discover config: %w", err)
			}
		}
		if root == "" || dir == root {
			return "", nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// gitRoot returns the nearest directory at or above dir holding .git, or ""
// when there is none up to the filesystem root.
func gitRoot(dir string) (string, error) {
	for {
		_, err := os.Lstat(filepath.Join(dir, ".git"))
		switch {
		case err == nil:
			return dir, nil
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		default:
			return "", fmt.Errorf("discover config: look for the git root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}
