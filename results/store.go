package results

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Run statuses, as kept in run.json.
const (
	StatusRunning  = "running"
	StatusComplete = "complete" // every target measured, every benchmark passed
	StatusFailed   = "failed"   // every target ran, some benchmark or target failed
	StatusPartial  = "partial"  // interrupted, or some targets never ran
)

// RunMeta is a run's record in the store (run.json in its folder).
type RunMeta struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Args is the codspeed command line, with secrets removed.
	Args  []string `json:"args,omitempty"`
	Modes []string `json:"modes"`
	Git   GitInfo  `json:"git"`
	Host  HostInfo `json:"host"`
	Parts []Part   `json:"parts"`
	// Missing names what was not measured when the run is partial.
	Missing []string `json:"missing,omitempty"`
	// CI is set when the run happened in a CI job: several codspeed
	// invocations in one job get distinct part indexes, which the upload
	// turns into distinct runPartIds.
	CI *CIRun `json:"ci,omitempty"`
	// Pair links the two runs of one `codspeed ab`: both sides were measured
	// interleaved, and each names the other.
	Pair *PairLink `json:"pair,omitempty"`
	// Shard is set when the run is one shard of a suite.
	Shard *ShardInfo `json:"shard,omitempty"`
}

// PairLink places a run in an A/B pair.
type PairLink struct {
	// Role is "base" or "head".
	Role string `json:"role"`
	// With is the other run's id.
	With string `json:"with"`
	// Label is what the user called this side (a command, a git ref).
	Label string `json:"label,omitempty"`
}

// CIRun places a run in its CI job.
type CIRun struct {
	Provider  string `json:"provider"`
	RunID     string `json:"run_id"`
	PartIndex int    `json:"part_index"`
}

// Part is one instrument's share of a run.
type Part struct {
	Mode  string `json:"mode"`
	Index int    `json:"index"`
	// ProfileFolder is where the instrument wrote its artifacts (absolute).
	ProfileFolder string `json:"profile_folder"`
	// Results is the results file, relative to the run's folder.
	Results    string `json:"results,omitempty"`
	Benchmarks int    `json:"benchmarks"`
	Failed     int    `json:"failed"`
}

// Store keeps every run under Root/<run-id>/.
type Store struct {
	Root string
}

// DefaultStoreRoot is where runs are kept: CODSPEED_STORE when set; else
// .codspeed/runs at the git root when there is one; else
// $XDG_DATA_HOME/codspeed-go/runs.
func DefaultStoreRoot(gitRoot string) string {
	if s := os.Getenv("CODSPEED_STORE"); s != "" {
		return s
	}
	if gitRoot != "" {
		return filepath.Join(gitRoot, ".codspeed", "runs")
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "codspeed-go", "runs")
}

// NewRunID returns a unique, sortable run id: UTC time then 48 random bits,
// so that invocations in the same second still differ (a thousand in one
// second collide with probability about 2e-9).
func NewRunID(t time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// Dir is a run's folder.
func (s *Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// Create makes the run's folder and writes its first record.
func (s *Store) Create(m *RunMeta) error {
	if err := MkdirAll(s.Dir(m.ID)); err != nil {
		return fmt.Errorf("create run store: %w", err)
	}
	return s.Save(m)
}

// Save rewrites run.json atomically.
func (s *Store) Save(m *RunMeta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(s.Dir(m.ID), "run.json"), append(data, '\n'))
}

// Load reads one run's record.
func (s *Store) Load(id string) (*RunMeta, error) {
	data, err := os.ReadFile(filepath.Join(s.Dir(id), "run.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no run %q in %s", id, s.Root)
	}
	if err != nil {
		return nil, err
	}
	var m RunMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: corrupt run record: %w", filepath.Join(s.Dir(id), "run.json"), err)
	}
	return &m, nil
}

// List returns every readable run, newest first. Folders without a readable
// run.json are skipped.
func (s *Store) List() ([]*RunMeta, error) {
	entries, err := os.ReadDir(s.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []*RunMeta
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if m, err := s.Load(e.Name()); err == nil {
			runs = append(runs, m)
		}
	}
	sort.Slice(runs, func(i, j int) bool {
		if !runs[i].StartedAt.Equal(runs[j].StartedAt) {
			return runs[i].StartedAt.After(runs[j].StartedAt)
		}
		return runs[i].ID > runs[j].ID
	})
	return runs, nil
}

// Find resolves a run id or a unique prefix of one.
func (s *Store) Find(idOrPrefix string) (*RunMeta, error) {
	runs, err := s.List()
	if err != nil {
		return nil, err
	}
	var found []*RunMeta
	for _, r := range runs {
		if r.ID == idOrPrefix {
			return r, nil
		}
		if strings.HasPrefix(r.ID, idOrPrefix) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no run %q in %s (see `codspeed runs`)", idOrPrefix, s.Root)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("run id %q is ambiguous: %d runs start with it", idOrPrefix, len(found))
}

// ReadResults reads a results file.
func ReadResults(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseResults(data, path)
}

// ParseResults reads a results file's content; name is where it came from,
// for errors.
func ParseResults(data []byte, name string) (*File, error) {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: not a results file: %w", name, err)
	}
	if f.Instrument.Type == "" {
		return nil, fmt.Errorf("%s: not a results file: no instrument.type", name)
	}
	return &f, nil
}

// WriteResults writes f as dir/results/<pid>.json, atomically, and returns the
// path.
func WriteResults(profileFolder string, f *File) (string, error) {
	dir := filepath.Join(profileFolder, "results")
	if err := MkdirAll(dir); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%d.json", f.Creator.Pid))
	return path, WriteFileAtomic(path, append(data, '\n'))
}

// WriteFileAtomic writes data to a temporary file beside path and renames it
// into place, so that a reader (or an interrupted run) never sees half a file.
// The file gets FileMode (0666 less the umask), and the owner set by
// HandFilesTo where the folder is theirs.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	merr := tmp.Chmod(FileMode())
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, merr, serr, cerr, handOver(tmp.Name())); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ShardInfo places a run in a sharded suite (`codspeed run --shard I/N` or a
// CI engine's parallel job): which targets it ran and which it left to the
// other shards.
type ShardInfo struct {
	Index int `json:"index"` // 1-based
	Total int `json:"total"`
	// Source is where the shard came from (--shard, or CI variables).
	Source string `json:"source"`
	// Balanced is true when recorded durations placed the targets, false
	// when hashing did.
	Balanced bool     `json:"balanced"`
	Ran      []string `json:"ran"`
	Skipped  []string `json:"skipped"`
}
