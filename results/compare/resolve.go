// Package compare turns two sets of results, a base and a head, into a
// results.Comparison: it resolves what the user named (a run id, a profile
// folder, a results file, a git ref), matches benchmarks by instrument and
// URI, and judges each one with the statistics its instrument allows. It does
// not render (results does) and does not measure (the caller re-measures for
// Confirm).
package compare

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/codspeed-go/codspeed-go/results"
)

// ErrNotFound is wrapped by Resolve when a name is none of the things a side
// can be.
var ErrNotFound = errors.New("not found")

// Side is one side of a comparison: the results files of a run (one per
// instrument), of a profile folder, or a single results file.
type Side struct {
	Ref   results.RunRef
	Parts []Part
}

// Part is one results file and the profile folder its artifact paths are
// relative to.
type Part struct {
	File          *results.File
	Path          string
	ProfileFolder string
}

// Resolve finds what spec names, trying in turn: an existing path (a results
// file; a profile folder with results/*.json; a run folder with run.json), a
// run id or unique prefix in store, and a git ref or commit in the repository
// at gitRoot, which resolves to the newest stored run of that commit. The
// caller owns the returned Side.
func Resolve(spec string, store *results.Store, gitRoot string) (*Side, error) {
	if spec == "" {
		return nil, fmt.Errorf("empty name: %w", ErrNotFound)
	}
	if st, err := os.Stat(spec); err == nil {
		abs, _ := filepath.Abs(spec)
		if st.IsDir() {
			return fromDir(spec, abs)
		}
		return fromFile(spec, abs)
	}
	var runErr error
	if store != nil {
		m, err := store.Find(spec)
		if err == nil {
			return fromRun(spec, store, m)
		}
		runErr = err
		if strings.Contains(err.Error(), "ambiguous") {
			return nil, err
		}
	}
	if gitRoot != "" {
		commit, err := revParse(gitRoot, spec)
		if err == nil {
			return fromCommit(spec, commit, store)
		}
	}
	msg := fmt.Sprintf("%q is not a results file, a profile folder, a run id", spec)
	if gitRoot != "" {
		msg += " or a git ref"
	}
	if runErr != nil {
		msg += " (" + runErr.Error() + ")"
	}
	return nil, fmt.Errorf("%s: %w", msg, ErrNotFound)
}

// Newest is the store's newest run that has results: the default head.
func Newest(store *results.Store) (*Side, error) {
	runs, err := store.List()
	if err != nil {
		return nil, err
	}
	for _, m := range runs {
		if hasResults(m) {
			return fromRun(m.ID, store, m)
		}
	}
	return nil, fmt.Errorf("no run with results in %s: run `codspeed run` or `codspeed exec` first: %w", store.Root, ErrNotFound)
}

func hasResults(m *results.RunMeta) bool {
	for _, p := range m.Parts {
		if p.Results != "" {
			return true
		}
	}
	return false
}

func fromRun(label string, store *results.Store, m *results.RunMeta) (*Side, error) {
	dir := store.Dir(m.ID)
	s := &Side{Ref: results.RunRef{Label: label, RunID: m.ID, Git: m.Git, Source: dir}}
	for _, p := range m.Parts {
		if p.Results == "" {
			continue
		}
		path := filepath.Join(dir, p.Results)
		f, err := results.ReadResults(path)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", m.ID, err)
		}
		pf := p.ProfileFolder
		if st, err := os.Stat(pf); pf == "" || err != nil || !st.IsDir() {
			// The profile folder moved or was outside the store: artifacts
			// are looked for beside the copied results file.
			pf = filepath.Dir(filepath.Dir(path))
		}
		s.Parts = append(s.Parts, Part{File: f, Path: path, ProfileFolder: pf})
	}
	if len(s.Parts) == 0 {
		return nil, fmt.Errorf("run %s (%s) has no results", m.ID, m.Status)
	}
	return s, nil
}

func fromFile(label, path string) (*Side, error) {
	f, err := results.ReadResults(path)
	if err != nil {
		return nil, err
	}
	s := &Side{Ref: results.RunRef{Label: label, Source: path}}
	if f.Run != nil {
		s.Ref.RunID, s.Ref.Git = f.Run.ID, f.Run.Git
	}
	// A results file lives in <profile folder>/results/.
	s.Parts = []Part{{File: f, Path: path, ProfileFolder: filepath.Dir(filepath.Dir(path))}}
	return s, nil
}

// fromDir reads a run folder (run.json) or a profile folder (results/*.json,
// or one subfolder per mode each with results/).
func fromDir(label, dir string) (*Side, error) {
	if data, err := os.ReadFile(filepath.Join(dir, "run.json")); err == nil && len(data) > 0 {
		store := &results.Store{Root: filepath.Dir(dir)}
		m, err := store.Load(filepath.Base(dir))
		if err != nil {
			return nil, err
		}
		s, err := fromRun(label, store, m)
		if err == nil {
			s.Ref.Label = label
		}
		return s, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "results", "*.json"))
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join(dir, "*", "results", "*.json"))
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no results/*.json in this folder: %w", label, ErrNotFound)
	}
	s := &Side{Ref: results.RunRef{Label: label, Source: dir}}
	for _, path := range files {
		f, err := results.ReadResults(path)
		if err != nil {
			return nil, err
		}
		if f.Run != nil && s.Ref.RunID == "" {
			s.Ref.RunID, s.Ref.Git = f.Run.ID, f.Run.Git
		}
		s.Parts = append(s.Parts, Part{File: f, Path: path, ProfileFolder: filepath.Dir(filepath.Dir(path))})
	}
	return s, nil
}

func fromCommit(ref, commit string, store *results.Store) (*Side, error) {
	if store != nil {
		runs, err := store.List()
		if err != nil {
			return nil, err
		}
		for _, m := range runs {
			if m.Git.Commit == commit && hasResults(m) {
				return fromRun(ref, store, m)
			}
		}
	}
	root := "(no store)"
	if store != nil {
		root = store.Root
	}
	return nil, fmt.Errorf("git ref %q is commit %.12s, but no run of that commit is in %s: check it out and run the benchmarks there first: %w",
		ref, commit, root, ErrNotFound)
}

// revParse resolves a ref to a full commit hash. "--end-of-options" keeps a
// name starting with "-" from being read as an option.
func revParse(gitRoot, ref string) (string, error) {
	cmd := exec.Command("git", "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	cmd.Dir = gitRoot
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
