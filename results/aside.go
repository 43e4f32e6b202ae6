package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EarlierSuffix names the folder, beside a reused profile folder, that
// keeps the results files of earlier runs.
const EarlierSuffix = ".earlier"

// Moved says where MoveAsideEarlier put the results files of earlier runs.
type Moved struct {
	Files []string // where they were, relative to the profile folder
	To    string   // the folder they are now in (<profile folder>.earlier)
}

// MoveAsideEarlier prepares a profile folder for a new run: results files
// that earlier runs left in it (results/*.json at any depth, as a reused
// --profile-folder keeps them) would otherwise be uploaded and compared with
// this run's. They are moved, never deleted, to
// <profileFolder>.earlier/<their run id>/<same relative path>; files whose
// run is unknown go under "unknown-run". Nothing else in the folder is
// touched. A nil Moved means there was nothing to move.
func MoveAsideEarlier(profileFolder string) (*Moved, error) {
	var found []string
	err := filepath.WalkDir(profileFolder, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() || filepath.Ext(p) != ".json" || filepath.Base(filepath.Dir(p)) != "results" {
			return nil
		}
		found = append(found, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for earlier results in %s: %w", profileFolder, err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	sort.Strings(found)
	m := &Moved{To: filepath.Clean(profileFolder) + EarlierSuffix}
	for _, p := range found {
		rel, err := filepath.Rel(profileFolder, p)
		if err != nil {
			return m, err
		}
		dst := filepath.Join(m.To, earlierRunID(p), rel)
		if err := MkdirAll(filepath.Dir(dst)); err != nil {
			return m, fmt.Errorf("move earlier results aside: %w", err)
		}
		if _, err := os.Lstat(dst); err == nil {
			return m, fmt.Errorf("move earlier results aside: %s already exists", dst)
		}
		if err := os.Rename(p, dst); err != nil {
			return m, fmt.Errorf("move earlier results aside: %w", err)
		}
		m.Files = append(m.Files, rel)
	}
	return m, nil
}

// earlierRunID is the run a results file belongs to, as a folder name.
func earlierRunID(path string) string {
	data, err := os.ReadFile(path)
	if err == nil {
		var f struct {
			Run *struct {
				ID string `json:"id"`
			} `json:"run"`
		}
		if json.Unmarshal(data, &f) == nil && f.Run != nil && f.Run.ID != "" && !strings.ContainsAny(f.Run.ID, `/\`) && f.Run.ID != "." && f.Run.ID != ".." {
			return f.Run.ID
		}
	}
	return "unknown-run"
}
