package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
)

// ErrBadToken is returned (wrapped) when a token is malformed, unknown or
// wrong. Its message never contains the token.
var ErrBadToken = errors.New("invalid token")

// ErrConflict is returned (wrapped) when a run part is uploaded again with
// different content.
var ErrConflict = errors.New("conflict")

const tokenPrefix = "cst_"

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// EnsureProject returns OWNER/NAME, creating it when missing.
func (s *Store) EnsureProject(ctx context.Context, owner, name string) (*Project, error) {
	if err := ValidProjectName(owner, name); err != nil {
		return nil, err
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO projects (id, owner, name, default_branch, created_at)
		VALUES ($1, $2, $3, '', $4) ON CONFLICT (owner, name) DO NOTHING`, randomHex(8), owner, name, micros(s.Now()))
	if err != nil {
		return nil, fmt.Errorf("create project %s/%s: %w", owner, name, err)
	}
	return s.Project(ctx, owner, name)
}

// ValidProjectName checks OWNER and NAME: non-empty, printable, no
// surrounding spaces, at most 200 bytes each; NAME has no slash (OWNER may,
// for GitLab's nested groups).
func ValidProjectName(owner, name string) error {
	for _, part := range []struct{ what, v string }{{"owner", owner}, {"name", name}} {
		if part.v == "" || len(part.v) > 200 || strings.TrimSpace(part.v) != part.v {
			return fmt.Errorf("project %q: %s must be 1 to 200 characters without surrounding spaces", owner+"/"+name, part.what)
		}
		for _, r := range part.v {
			if r < 0x20 || r == 0x7f {
				return fmt.Errorf("project %q: %s has a control character", owner+"/"+name, part.what)
			}
		}
		if strings.HasPrefix(part.v, "/") || strings.HasSuffix(part.v, "/") || strings.Contains(part.v, "//") {
			return fmt.Errorf("project %q: %s has an empty path segment", owner+"/"+name, part.what)
		}
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("project %q: name has a slash", owner+"/"+name)
	}
	return nil
}

// SplitProject splits OWNER/NAME at its last slash.
func SplitProject(slug string) (owner, name string, err error) {
	i := strings.LastIndex(slug, "/")
	if i <= 0 || i == len(slug)-1 {
		return "", "", fmt.Errorf("project %q is not OWNER/NAME", slug)
	}
	owner, name = slug[:i], slug[i+1:]
	return owner, name, ValidProjectName(owner, name)
}

// CreateToken makes a new upload token for OWNER/NAME (creating the
// project) and returns it. Only a hash of its secret is stored: the token
// cannot be read back.
func (s *Store) CreateToken(ctx context.Context, owner, name string) (string, error) {
	p, err := s.EnsureProject(ctx, owner, name)
	if err != nil {
		return "", err
	}
	id := randomHex(6)
	secretBytes := make([]byte, 32)
	rand.Read(secretBytes)
	secret := base64.RawURLEncoding.EncodeToString(secretBytes)
	_, err = s.write.ExecContext(ctx, `INSERT INTO tokens (id, project_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)`,
		id, p.ID, hashHex(secret), micros(s.Now()))
	if err != nil {
		return "", fmt.Errorf("create token for %s: %w", p.Slug(), err)
	}
	return tokenPrefix + id + "_" + secret, nil
}

// Authenticate returns the project a token belongs to. The token's id
// finds the stored hash and the hash of its secret is compared in constant
// time. Any failure wraps ErrBadToken, and no error names the token.
func (s *Store) Authenticate(ctx context.Context, token string) (*Project, error) {
	token = strings.TrimSpace(token)
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(id) != 12 || !isHex(id) || secret == "" {
		// Still hash, so a malformed token costs the same as a wrong one.
		subtle.ConstantTimeCompare([]byte(hashHex(token)), []byte(hashHex("")))
		return nil, ErrBadToken
	}
	var want, owner, name string
	err := s.read.QueryRowContext(ctx, `SELECT t.secret_hash, p.owner, p.name FROM tokens t JOIN projects p ON p.id = t.project_id WHERE t.id = $1`, id).Scan(&want, &owner, &name)
	if errors.Is(err, sql.ErrNoRows) {
		subtle.ConstantTimeCompare([]byte(hashHex(secret)), []byte(hashHex("")))
		return nil, ErrBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("check token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(hashHex(secret)), []byte(want)) != 1 {
		return nil, ErrBadToken
	}
	return s.Project(ctx, owner, name)
}

// Pending is an accepted metadata POST waiting for its archive.
type Pending struct {
	ProjectID string
	// Metadata is the upload's metadata JSON as received.
	Metadata  []byte
	CreatedAt time.Time
}

// AddPending records a metadata POST for project p and returns the secret
// that names it in the upload URL; only its hash is stored. It expires
// after ttl. Expired ones are deleted on the way.
func (s *Store) AddPending(ctx context.Context, p *Project, metadata []byte, ttl time.Duration) (string, error) {
	secret := randomHex(24)
	now := s.Now()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("record upload: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM pending_uploads WHERE expires_at < $1`, micros(now)); err != nil {
		return "", fmt.Errorf("record upload: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO pending_uploads (id, project_id, metadata, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		hashHex(secret), p.ID, string(metadata), micros(now), micros(now.Add(ttl)))
	if err != nil {
		return "", fmt.Errorf("record upload: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("record upload: %w", err)
	}
	return secret, nil
}

// PendingUpload finds a pending upload by the secret of its URL; the error
// wraps ErrNotFound when it is unknown or expired.
func (s *Store) PendingUpload(ctx context.Context, secret string) (*Pending, error) {
	var p Pending
	var md string
	var created, expires int64
	err := s.read.QueryRowContext(ctx, `SELECT project_id, metadata, created_at, expires_at FROM pending_uploads WHERE id = $1`, hashHex(secret)).
		Scan(&p.ProjectID, &md, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && expires < micros(s.Now())) {
		return nil, fmt.Errorf("upload URL: %w (it expired, or its archive was already stored)", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("upload URL: %w", err)
	}
	p.Metadata, p.CreatedAt = []byte(md), fromMicros(created)
	return &p, nil
}

// NewPart is one run part to store: what the metadata says about the run,
// and the results files and kept artifacts of its archive.
type NewPart struct {
	ProjectID string
	// CIRunID groups the parts of one CI run; PartID names this part in it.
	CIRunID, PartID string
	ProfileMD5      string
	Mode, Executor  string
	RunnerName      string
	RunnerVersion   string
	JobName         string
	// Metadata is the metadata JSON as received.
	Metadata     []byte
	ArchiveBytes int64
	// The run, as the metadata names it.
	Commit, Branch, Ref, BaseRef, HeadRef, Event string
	PullRequest                                  int
	RunEnvironment, RepositoryProvider, Sender   string
	StartedAt                                    time.Time
	// Files are the results files of the archive, in archive order.
	Files []*results.File
	// Artifacts are kept files by their path in the profile folder.
	Artifacts map[string][]byte
}

// CommitResult says what CommitPart did.
type CommitResult struct {
	RunID string
	// Duplicate is true when this part was already stored (a retried
	// upload): nothing was written.
	Duplicate bool
	// NewRun is true when the part started a new run.
	NewRun bool
}

// CommitPart stores a run part and its benchmarks in one transaction,
// creating the run for its CIRunID or joining it. A part already stored
// with the same MD5 is a retry and changes nothing, as is an archive with
// the MD5 of another part of the run; a part id already stored with another
// MD5 is refused with ErrConflict.
func (s *Store) CommitPart(ctx context.Context, np *NewPart) (*CommitResult, error) {
	now := micros(s.Now())
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store run part %s: %w", np.PartID, err)
	}
	defer tx.Rollback()
	fail := func(err error) (*CommitResult, error) {
		return nil, fmt.Errorf("store run part %s of run %s: %w", np.PartID, np.CIRunID, err)
	}

	res := &CommitResult{}
	newID := runIDOf(np.ProjectID, np.CIRunID)
	pairRole, pairWith, pairLabel := partPair(string(np.Metadata))
	r, err := tx.ExecContext(ctx, `INSERT INTO runs (id, project_id, run_key, commit_hash, branch, ref, base_ref, head_ref, event,
		pull_request, run_environment, repository_provider, sender, modes, status, benchmarks, failed, started_at, created_at, updated_at,
		pair_role, pair_with, pair_label)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, '', $14, 0, 0, $15, $16, $16, $17, $18, $19)
		ON CONFLICT (project_id, run_key) DO NOTHING`,
		newID, np.ProjectID, np.CIRunID, np.Commit, np.Branch, np.Ref, np.BaseRef, np.HeadRef, np.Event,
		np.PullRequest, np.RunEnvironment, np.RepositoryProvider, np.Sender, results.StatusComplete, micros(np.StartedAt), now,
		pairRole, pairWith, pairLabel)
	if err != nil {
		return fail(err)
	}
	if n, _ := r.RowsAffected(); n == 1 {
		res.NewRun = true
	}
	// Lock the run's row before reading it: on PostgreSQL, parts of one run
	// stored at once (by several server processes too) then take turns, and
	// each reads what the previous one committed (READ COMMITTED reads anew
	// at each statement). SQLite's writers take turns already.
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET updated_at = $1 WHERE project_id = $2 AND run_key = $3`, now, np.ProjectID, np.CIRunID); err != nil {
		return fail(err)
	}
	var modes, status string
	var benchCount, failedCount int
	var started int64
	err = tx.QueryRowContext(ctx, `SELECT id, modes, status, benchmarks, failed, started_at FROM runs WHERE project_id = $1 AND run_key = $2`,
		np.ProjectID, np.CIRunID).Scan(&res.RunID, &modes, &status, &benchCount, &failedCount, &started)
	if err != nil {
		return fail(err)
	}

	var oldMD5 string
	err = tx.QueryRowContext(ctx, `SELECT profile_md5 FROM run_parts WHERE run_id = $1 AND part_id = $2`, res.RunID, np.PartID).Scan(&oldMD5)
	switch {
	case err == nil:
		if oldMD5 != np.ProfileMD5 {
			return fail(fmt.Errorf("%w: run part %q is already stored with other content (profileMd5 %s, this one %s)", ErrConflict, np.PartID, oldMD5, np.ProfileMD5))
		}
		res.Duplicate = true
		return res, nil
	case !errors.Is(err, sql.ErrNoRows):
		return fail(err)
	}
	// The same archive under another part id is a retry too: `codspeed
	// upload RUN` of a run already uploaded takes the next part index, and
	// archives of one profile folder are byte-identical.
	var same string
	err = tx.QueryRowContext(ctx, `SELECT part_id FROM run_parts WHERE run_id = $1 AND profile_md5 = $2`, res.RunID, np.ProfileMD5).Scan(&same)
	switch {
	case err == nil:
		res.Duplicate = true
		return res, nil
	case !errors.Is(err, sql.ErrNoRows):
		return fail(err)
	}

	shard, shardTotal := partShard(string(np.Metadata))
	_, err = tx.ExecContext(ctx, `INSERT INTO run_parts (run_id, part_id, profile_md5, mode, executor, runner_name, runner_version,
		job_name, metadata, archive_bytes, received_at, shard, shard_total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		res.RunID, np.PartID, np.ProfileMD5, np.Mode, np.Executor, np.RunnerName, np.RunnerVersion, np.JobName, string(np.Metadata), np.ArchiveBytes, now,
		shard, shardTotal)
	if err != nil {
		return fail(err)
	}
	if shardTotal > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET shard_total = $1 WHERE id = $2 AND shard_total < $1`, shardTotal, res.RunID); err != nil {
			return fail(err)
		}
	}
	ord := 0
	for _, f := range np.Files {
		for i := range f.Benchmarks {
			b := &f.Benchmarks[i]
			if err := insertBenchmark(ctx, tx, res.RunID, np.PartID, ord, f.Instrument.Type, b); err != nil {
				return fail(fmt.Errorf("benchmark %q: %w", b.Name, err))
			}
			ord++
			benchCount++
			if b.Error != "" {
				failedCount++
			}
		}
		modes = addMode(modes, f.Instrument.Type)
	}
	if np.Mode != "" {
		modes = addMode(modes, np.Mode)
	}
	for _, path := range sortedKeys(np.Artifacts) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO artifacts (run_id, part_id, path, data) VALUES ($1, $2, $3, $4)`,
			res.RunID, np.PartID, path, np.Artifacts[path]); err != nil {
			return fail(fmt.Errorf("file %s: %w", path, err))
		}
	}
	status = results.StatusComplete
	if failedCount > 0 {
		status = results.StatusFailed
	}
	if st := micros(np.StartedAt); st != 0 && (started == 0 || st < started) {
		started = st
	}
	_, err = tx.ExecContext(ctx, `UPDATE runs SET modes = $1, status = $2, benchmarks = $3, failed = $4, started_at = $5, updated_at = $6 WHERE id = $7`,
		modes, status, benchCount, failedCount, started, now, res.RunID)
	if err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return res, nil
}

func addMode(modes, mode string) string {
	if mode == "" || slices.Contains(splitModes(modes), mode) {
		return modes
	}
	if modes == "" {
		return mode
	}
	return modes + "," + mode
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func insertBenchmark(ctx context.Context, tx *sql.Tx, runID, partID string, ord int, instrument string, b *results.Benchmark) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	var med, q1, q3, min, max, mean, stdev, ins, cyc, est, peak, total, calls sql.NullFloat64
	var rounds sql.NullInt64
	if st := b.Stats; st != nil {
		med, q1, q3, min, max, mean, stdev = nf(st.MedianNs), nf(st.Q1Ns), nf(st.Q3Ns), nf(st.MinNs), nf(st.MaxNs), nf(st.MeanNs), nf(st.StdevNs)
		rounds = sql.NullInt64{Int64: int64(st.Rounds), Valid: true}
	}
	if sim := b.Simulation; sim != nil {
		ins, cyc, est = nf(sim.Instructions), nf(sim.EstimatedCycles), nf(sim.TimeNs)
	}
	if m := b.Memory; m != nil {
		peak, total, calls = nf(m.PeakBytes), nf(m.TotalAllocatedBytes), nf(m.AllocCalls)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO benchmarks (run_id, part_id, ord, instrument, name, uri, error,
		median_ns, q1_ns, q3_ns, min_ns, max_ns, mean_ns, stdev_ns, rounds,
		instructions, estimated_cycles, estimated_time_ns, peak_bytes, total_alloc_bytes, alloc_calls, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
		runID, partID, ord, instrument, b.Name, b.URI, b.Error,
		med, q1, q3, min, max, mean, stdev, rounds, ins, cyc, est, peak, total, calls, string(data))
	return err
}

func nf(v float64) sql.NullFloat64 { return sql.NullFloat64{Float64: v, Valid: true} }

var instrumentRank = map[string]int{results.Walltime: 0, results.Simulation: 1, results.Memory: 2}

func sortSeries(ss []*Series) {
	slices.SortStableFunc(ss, func(a, b *Series) int {
		if a.Instrument != b.Instrument {
			ra, oka := instrumentRank[a.Instrument]
			rb, okb := instrumentRank[b.Instrument]
			if oka && okb {
				return cmp.Compare(ra, rb)
			}
			return cmp.Compare(a.Instrument, b.Instrument)
		}
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.URI, b.URI))
	})
}

// RunID is the id of the run that the parts of CI run ciRunID make in a
// project: a hash of the two, so that every part (and every server process
// sharing a database) agrees on it before the run exists, and the answer to
// the metadata POST can name it.
func RunID(p *Project, ciRunID string) string { return runIDOf(p.ID, ciRunID) }

func runIDOf(projectID, ciRunID string) string {
	return hashHex(projectID + "\x00" + ciRunID)[:16]
}

// ProjectByID finds a project by its internal id.
func (s *Store) ProjectByID(ctx context.Context, id string) (*Project, error) {
	var owner, name string
	err := s.read.QueryRowContext(ctx, `SELECT owner, name FROM projects WHERE id = $1`, id).Scan(&owner, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("project %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", id, err)
	}
	return s.Project(ctx, owner, name)
}
