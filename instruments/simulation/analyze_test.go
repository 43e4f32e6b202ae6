package simulation

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestAnalyzeKept prints, for every callgrind run kept under
// $SIMTEST_ANALYZE (a SIMTEST_KEEP folder), the timed instructions, the
// preemptions cut out: the data behind the
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
		rel, _ := filepath.Rel(root, d)
		if os.Getenv("SIMTEST_SEQ") != "" {
			// The dump sequence: number, thread, trigger, Ir, background,
			// counted.
			for _, prof := range profs {
				r := classifyDumps(prof)
				for _, part := range prof.Parts {
					own := 0
					for _, f := range part.Funcs {
						if !isRuntime(f.Name) && len(f.Self) > 0 && f.Self[0] > 0 {
							own++
						}
					}
					t.Logf("  %4d t%d %-40s %9d timed=%v resumed=%v preempted=%v own-code functions=%d", part.Number, part.Thread, part.Trigger, part.Total("Ir"), r.timed[part.Number], r.resumed[part.Number], r.preempted[part.Number], own)
				}
			}
		}
		t.Logf("%s: timed Ir %.0f over %d regions, %d preemptions cut out", rel, c.Instructions, n, pre)
	}
}

// TestAnalyzeFuncs prints, per kept run, the self instructions of runtime
// functions inside the timed regions, per thread (sysmon's thread left out,
// as timedCost does): where the residue of a long run comes from.
func TestAnalyzeFuncs(t *testing.T) {
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
			continue
		}
		self := map[string]int64{}
		for _, prof := range profs {
			r := classifyDumps(prof)
			for _, part := range prof.Parts {
				if r.sysmon[part.Thread] || !r.timed[part.Number] {
					continue
				}
				ir := part.EventIndex("Ir")
				for _, f := range part.Funcs {
					if len(f.Self) > ir && f.Self[ir] > 0 && !strings.HasPrefix(f.Name, "sort.") && !strings.Contains(f.Name, "gobench") {
						self[fmt.Sprintf("t%d %s", part.Thread, f.Name)] += f.Self[ir]
					}
				}
			}
		}
		type kv struct {
			k string
			v int64
		}
		var list []kv
		for k, v := range self {
			list = append(list, kv{k, v})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v })
		rel, _ := filepath.Rel(root, d)
		var b strings.Builder
		for i, e := range list {
			if i == 25 {
				break
			}
			fmt.Fprintf(&b, "\n    %9d %s", e.v, e.k)
		}
		t.Logf("%s:%s", rel, b.String())
	}
}
