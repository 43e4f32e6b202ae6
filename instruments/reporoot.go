package instruments

import (
	"os"
	"path/filepath"
)

// RepoRoot returns the top of the git work tree containing dir, or "" when
// dir is not in one. Benchmark URIs are made relative to it, as CodSpeed's
// are, so that a benchmark keeps its URI wherever the repository is checked
// out. It looks for .git itself, so it works without git installed.
func RepoRoot(dir string) string {
	d, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}
