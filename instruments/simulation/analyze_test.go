package simulation

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestAnalyzeKept prints, for every callgrind run kept under
// $SIMTEST_ANALYZE (a SIMTEST_KEEP folder), the timed instructions, the
// preemptions seen and the cost subtracted for them: the data behind the
// determinism figures in README.md. Not run otherwise.
func TestAnalyzeKept(t *testing.T) {
	root := os.Getenv("SIMTEST_ANALYZE")
	if root == "" {
		t.Skip("set SIMTEST_ANALYZE to a SIMTEST_KEEP folder")
	}
	var dirs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if m, _ := filepath.Glob(filepath.Join(p, "*.out")); len(m) > 0 {
				dirs = append(dirs, p)
			}
		}
		return nil
	})
	sort.Strings(dirs)
	for _, d := range dirs {
		profs, _, err := loadProfiles(d)
		if err != nil {
			t.Logf("%s: %v", d, err)
			continue
		}
		c, _, n, pre := timedCost(profs)
		var sub Counts
		for _, pr := range profs {
			for i := range pr.Parts {
				sub = sub.Add(preemptionCost(pr.Parts[i]))
			}
		}
		rel, _ := filepath.Rel(root, d)
		t.Logf("%s: timed Ir %.0f over %d regions, preemptions %d, subtracted %.0f", rel, c.Instructions, n, pre, sub.Instructions)
	}
}
