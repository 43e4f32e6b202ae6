package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

const projectColumns = `p.id, p.owner, p.name, p.default_branch, p.created_at,
	(SELECT COUNT(*) FROM runs r WHERE r.project_id = p.id),
	(SELECT COALESCE(MAX(r.created_at), 0) FROM runs r WHERE r.project_id = p.id)`

func scanProject(sc interface{ Scan(...any) error }) (*Project, error) {
	var p Project
	var created, last int64
	if err := sc.Scan(&p.ID, &p.Owner, &p.Name, &p.DefaultBranch, &created, &p.Runs, &last); err != nil {
		return nil, err
	}
	p.CreatedAt, p.LastRunAt = fromMicros(created), fromMicros(last)
	return &p, nil
}

// Projects lists every project, by owner and name. DefaultBranch is
// resolved as DefaultBranch does.
func (s *Store) Projects(ctx context.Context) ([]*Project, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects p ORDER BY p.owner, p.name`)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	var out []*Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fmt.Errorf("list projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	for _, p := range out {
		if p.DefaultBranch, err = s.defaultBranch(ctx, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Project finds OWNER/NAME; the error wraps ErrNotFound when there is none.
func (s *Store) Project(ctx context.Context, owner, name string) (*Project, error) {
	p, err := scanProject(s.read.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects p WHERE p.owner = $1 AND p.name = $2`, owner, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("project %s/%s: %w", owner, name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("project %s/%s: %w", owner, name, err)
	}
	if p.DefaultBranch, err = s.defaultBranch(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// DefaultBranch is the branch whose history stands for the project: the
// one set with SetDefaultBranch, else main or master when it has runs, else
// the branch with the most runs that are not merge requests, else "main".
func (s *Store) DefaultBranch(ctx context.Context, p *Project) (string, error) {
	return s.defaultBranch(ctx, p)
}

func (s *Store) defaultBranch(ctx context.Context, p *Project) (string, error) {
	var configured string
	err := s.read.QueryRowContext(ctx, `SELECT default_branch FROM projects WHERE id = $1`, p.ID).Scan(&configured)
	if err != nil {
		return "", fmt.Errorf("default branch of %s: %w", p.Slug(), err)
	}
	if configured != "" {
		return configured, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT branch, COUNT(*) AS n FROM runs
		WHERE project_id = $1 AND pull_request = 0 AND branch <> '' AND pair_role = ''
		GROUP BY branch ORDER BY n DESC, branch`, p.ID)
	if err != nil {
		return "", fmt.Errorf("default branch of %s: %w", p.Slug(), err)
	}
	defer rows.Close()
	var best string
	seen := map[string]bool{}
	for rows.Next() {
		var b string
		var n int
		if err := rows.Scan(&b, &n); err != nil {
			return "", fmt.Errorf("default branch of %s: %w", p.Slug(), err)
		}
		if best == "" {
			best = b
		}
		seen[b] = true
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("default branch of %s: %w", p.Slug(), err)
	}
	switch {
	case seen["main"]:
		return "main", nil
	case seen["master"]:
		return "master", nil
	case best != "":
		return best, nil
	}
	return "main", nil
}

// SetDefaultBranch configures the project's default branch ("" to guess).
func (s *Store) SetDefaultBranch(ctx context.Context, p *Project, branch string) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE projects SET default_branch = $1 WHERE id = $2`, branch, p.ID); err != nil {
		return fmt.Errorf("set default branch of %s: %w", p.Slug(), err)
	}
	return nil
}

const runColumns = `r.id, r.run_key, r.commit_hash, r.branch, r.ref, r.base_ref, r.head_ref, r.event,
	r.pull_request, r.run_environment, r.repository_provider, r.sender, r.modes, r.status,
	r.benchmarks, r.failed, r.started_at, r.created_at, r.updated_at, p.owner, p.name,
	r.project_id, r.pair_role, r.pair_with, r.pair_label`

func scanRun(sc interface{ Scan(...any) error }) (*Run, error) {
	var r Run
	var modes, owner, name, projectID, pairRole, pairWith, pairLabel string
	var started, created, updated int64
	err := sc.Scan(&r.ID, &r.CIRunID, &r.Commit, &r.Branch, &r.Ref, &r.BaseRef, &r.HeadRef, &r.Event,
		&r.PullRequest, &r.RunEnvironment, &r.RepositoryProvider, &r.Sender, &modes, &r.Status,
		&r.Benchmarks, &r.Failed, &started, &created, &updated, &owner, &name,
		&projectID, &pairRole, &pairWith, &pairLabel)
	if err != nil {
		return nil, err
	}
	r.projectID = projectID
	if pairRole != "" {
		r.Pair = &Pair{Role: pairRole, Run: runIDOf(projectID, pairWith), Label: pairLabel}
	}
	r.Modes = splitModes(modes)
	r.StartedAt, r.CreatedAt, r.UpdatedAt = fromMicros(started), fromMicros(created), fromMicros(updated)
	r.Project = owner + "/" + name
	return &r, nil
}

func splitModes(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// Runs lists a project's runs, newest first.
func (s *Store) Runs(ctx context.Context, p *Project, f RunFilter) ([]*Run, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT ` + runColumns + ` FROM runs r JOIN projects p ON p.id = r.project_id WHERE r.project_id = $1`
	args := []any{p.ID}
	if f.Branch != "" {
		args = append(args, f.Branch)
		q += fmt.Sprintf(` AND r.branch = $%d`, len(args))
	}
	if f.Before != "" {
		var created int64
		err := s.read.QueryRowContext(ctx, `SELECT created_at FROM runs WHERE id = $1 AND project_id = $2`, f.Before, p.ID).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("runs of %s before %s: %w", p.Slug(), f.Before, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("runs of %s: %w", p.Slug(), err)
		}
		args = append(args, created, f.Before)
		q += fmt.Sprintf(` AND (r.created_at < $%d OR (r.created_at = $%d AND r.id < $%d))`, len(args)-1, len(args)-1, len(args))
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(` ORDER BY r.created_at DESC, r.id DESC LIMIT $%d`, len(args))
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("runs of %s: %w", p.Slug(), err)
	}
	defer rows.Close()
	out := []*Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("runs of %s: %w", p.Slug(), err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("runs of %s: %w", p.Slug(), err)
	}
	return out, nil
}

// Run reads one run with its parts; the error wraps ErrNotFound when there
// is no such run.
func (s *Store) Run(ctx context.Context, id string) (*Run, error) {
	r, err := scanRun(s.read.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs r JOIN projects p ON p.id = r.project_id WHERE r.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT part_id, mode, executor, runner_name, runner_version, job_name,
		profile_md5, archive_bytes, received_at, shard, shard_total FROM run_parts WHERE run_id = $1 ORDER BY received_at, part_id`, id)
	if err != nil {
		return nil, fmt.Errorf("run %s: parts: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Part
		var received int64
		if err := rows.Scan(&p.ID, &p.Mode, &p.Executor, &p.RunnerName, &p.RunnerVersion, &p.JobName, &p.ProfileMD5, &p.ArchiveBytes, &received, &p.Shard, &p.ShardTotal); err != nil {
			return nil, fmt.Errorf("run %s: parts: %w", id, err)
		}
		p.ReceivedAt = fromMicros(received)
		r.Parts = append(r.Parts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run %s: parts: %w", id, err)
	}
	return r, nil
}

// PairOf reads the other side of r's A/B pair. The error wraps ErrNotFound
// when r is no side of a pair, the other side has not been uploaded, or it
// does not name r back as the opposite side (a pair is what both sides say).
func (s *Store) PairOf(ctx context.Context, r *Run) (*Run, error) {
	if r.Pair == nil {
		return nil, fmt.Errorf("run %s is no side of an A/B pair: %w", r.ID, ErrNotFound)
	}
	ok, err := s.namesBack(ctx, r.projectID, r.ID, r.Pair.Role, r.Pair.Run)
	if err != nil {
		return nil, fmt.Errorf("pair of run %s: %w", r.ID, err)
	}
	if !ok {
		return nil, fmt.Errorf("run %s is not uploaded or does not name run %s as its pair: %w", r.Pair.Run, r.ID, ErrNotFound)
	}
	return s.Run(ctx, r.Pair.Run)
}

// namesBack reports whether run peerID of the project is stored as the
// other side (not role) of run id's pair: the rule that makes two runs a
// pair.
func (s *Store) namesBack(ctx context.Context, projectID, id, role, peerID string) (bool, error) {
	var peerRole, peerWith string
	err := s.read.QueryRowContext(ctx, `SELECT pair_role, pair_with FROM runs WHERE id = $1 AND project_id = $2`, peerID, projectID).Scan(&peerRole, &peerWith)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return peerRole != "" && peerRole != role && runIDOf(projectID, peerWith) == id, nil
}

// RunInProject is Run, refusing a run of another project.
func (s *Store) RunInProject(ctx context.Context, p *Project, id string) (*Run, error) {
	r, err := s.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Project != p.Slug() {
		return nil, fmt.Errorf("run %q in %s: %w", id, p.Slug(), ErrNotFound)
	}
	return r, nil
}

// Benchmarks reads every benchmark of a run, in upload order (part, then
// the order of the results file). A paired verdict (Benchmark.Paired, from
// `codspeed ab`) names its base by the server's id of the pair's base run,
// so that comparing the head with that run (results/compare) uses it; it
// names no run when this run is not the head of a pair.
func (s *Store) Benchmarks(ctx context.Context, runID string) ([]Benchmark, error) {
	var projectID, pairRole, pairWith string
	err := s.read.QueryRowContext(ctx, `SELECT project_id, pair_role, pair_with FROM runs WHERE id = $1`, runID).Scan(&projectID, &pairRole, &pairWith)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("benchmarks of run %s: %w", runID, err)
	}
	pairBase := ""
	if pairRole == PairHead {
		id := runIDOf(projectID, pairWith)
		ok, err := s.namesBack(ctx, projectID, runID, pairRole, id)
		if err != nil {
			return nil, fmt.Errorf("benchmarks of run %s: %w", runID, err)
		}
		if ok {
			pairBase = id
		}
	}
	rows, err := s.read.QueryContext(ctx, `SELECT b.instrument, b.part_id, b.data FROM benchmarks b
		JOIN run_parts rp ON rp.run_id = b.run_id AND rp.part_id = b.part_id
		WHERE b.run_id = $1 ORDER BY rp.received_at, b.part_id, b.ord`, runID)
	if err != nil {
		return nil, fmt.Errorf("benchmarks of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := []Benchmark{}
	for rows.Next() {
		var b Benchmark
		var data string
		if err := rows.Scan(&b.Instrument, &b.PartID, &data); err != nil {
			return nil, fmt.Errorf("benchmarks of run %s: %w", runID, err)
		}
		if err := json.Unmarshal([]byte(data), &b.Benchmark); err != nil {
			return nil, fmt.Errorf("benchmarks of run %s: stored benchmark: %w", runID, err)
		}
		if b.Paired != nil {
			// The client named the base by its local run id.
			b.Paired.BaseRun = pairBase
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("benchmarks of run %s: %w", runID, err)
	}
	return out, nil
}

// Artifact reads a file kept from a run part's profile folder (the folded
// stacks a benchmark's Profile.Folded names), by its path relative to that
// folder.
func (s *Store) Artifact(ctx context.Context, runID, partID, path string) ([]byte, error) {
	var data []byte
	err := s.read.QueryRowContext(ctx, `SELECT data FROM artifacts WHERE run_id = $1 AND part_id = $2 AND path = $3`, runID, partID, path).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %s part %s: file %q: %w", runID, partID, path, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("run %s part %s: file %q: %w", runID, partID, path, err)
	}
	return data, nil
}

// ResolveRef finds the run REF names in a project: a run id, else the
// newest run of a branch of that name (refs/heads/ may prefix it), else the
// newest run of a commit (the full hash or a prefix of at least 4 hex
// digits, which must name one commit).
func (s *Store) ResolveRef(ctx context.Context, p *Project, ref string) (*Run, error) {
	if ref == "" {
		return nil, fmt.Errorf("empty ref in %s: %w", p.Slug(), ErrNotFound)
	}
	if r, err := s.RunInProject(ctx, p, ref); err == nil {
		return r, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	newest := func(where string, arg any) (string, error) {
		var id string
		// The sides of an A/B pair measured refs or commands of their own,
		// not (only) the branch and commit they were uploaded from.
		err := s.read.QueryRowContext(ctx, `SELECT id FROM runs WHERE project_id = $1 AND pair_role = '' AND `+where+
			` ORDER BY created_at DESC, id DESC LIMIT 1`, p.ID, arg).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return id, err
	}
	id, err := newest(`branch = $2`, strings.TrimPrefix(ref, "refs/heads/"))
	if err != nil {
		return nil, fmt.Errorf("resolve %q in %s: %w", ref, p.Slug(), err)
	}
	if id == "" && len(ref) >= 4 && isHex(ref) {
		ref := strings.ToLower(ref)
		var commits []string
		rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT commit_hash FROM runs WHERE project_id = $1 AND pair_role = '' AND commit_hash LIKE $2`, p.ID, ref+"%")
		if err != nil {
			return nil, fmt.Errorf("resolve %q in %s: %w", ref, p.Slug(), err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return nil, fmt.Errorf("resolve %q in %s: %w", ref, p.Slug(), err)
			}
			commits = append(commits, c)
		}
		rows.Close()
		if len(commits) > 1 {
			return nil, fmt.Errorf("%q in %s is ambiguous: %d commits start with it", ref, p.Slug(), len(commits))
		}
		if len(commits) == 1 {
			if id, err = newest(`commit_hash = $2`, commits[0]); err != nil {
				return nil, fmt.Errorf("resolve %q in %s: %w", ref, p.Slug(), err)
			}
		}
	}
	if id == "" {
		return nil, fmt.Errorf("%q is no run id, branch or commit with runs in %s: %w", ref, p.Slug(), ErrNotFound)
	}
	return s.Run(ctx, id)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// History reads the series of every benchmark (or of the one f names) on a
// branch: one point per run, oldest first, over the branch's newest
// f.Limit runs. Series are ordered by instrument then name.
func (s *Store) History(ctx context.Context, p *Project, branch string, f HistoryFilter) ([]*Series, error) {
	if f.Limit <= 0 {
		f.Limit = 10000
	}
	// The branch's runs as a derived table, then their benchmarks: twice
	// as fast on SQLite as filtering benchmarks by "run IN (...)".
	q := `SELECT r.id, r.commit_hash, r.created_at, b.instrument, b.uri, b.name, b.error,
		b.median_ns, b.q1_ns, b.q3_ns, b.min_ns, b.max_ns, b.mean_ns, b.stdev_ns, b.rounds,
		b.instructions, b.estimated_cycles, b.estimated_time_ns, b.peak_bytes, b.total_alloc_bytes, b.alloc_calls
		FROM (SELECT id, commit_hash, created_at FROM runs WHERE project_id = $1 AND branch = $2 AND pair_role = ''
			ORDER BY created_at DESC, id DESC LIMIT $3) r
		JOIN benchmarks b ON b.run_id = r.id WHERE 1 = 1`
	args := []any{p.ID, branch, f.Limit}
	if f.Instrument != "" {
		args = append(args, f.Instrument)
		q += fmt.Sprintf(` AND b.instrument = $%d`, len(args))
	}
	if f.URI != "" {
		args = append(args, f.URI)
		q += fmt.Sprintf(` AND b.uri = $%d`, len(args))
	}
	q += ` ORDER BY r.created_at, r.id, b.part_id, b.ord`
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("history of %s on %s: %w", p.Slug(), branch, err)
	}
	defer rows.Close()
	type key struct{ instrument, uri string }
	byKey := map[key]*Series{}
	var order []*Series
	for rows.Next() {
		var pt Point
		var created int64
		var instrument, uri, name string
		var med, q1, q3, min, max, mean, stdev, ins, cyc, est, peak, total, calls sql.NullFloat64
		var rounds sql.NullInt64
		if err := rows.Scan(&pt.RunID, &pt.Commit, &created, &instrument, &uri, &name, &pt.Error,
			&med, &q1, &q3, &min, &max, &mean, &stdev, &rounds, &ins, &cyc, &est, &peak, &total, &calls); err != nil {
			return nil, fmt.Errorf("history of %s on %s: %w", p.Slug(), branch, err)
		}
		pt.Time = fromMicros(created)
		pt.MedianNs, pt.Q1Ns, pt.Q3Ns, pt.MinNs, pt.MaxNs, pt.MeanNs, pt.StdevNs = fp(med), fp(q1), fp(q3), fp(min), fp(max), fp(mean), fp(stdev)
		if rounds.Valid {
			n := int(rounds.Int64)
			pt.Rounds = &n
		}
		pt.Instructions, pt.EstimatedCycles, pt.EstimatedTimeNs = fp(ins), fp(cyc), fp(est)
		pt.PeakBytes, pt.TotalAllocBytes, pt.AllocCalls = fp(peak), fp(total), fp(calls)
		k := key{instrument, uri}
		se := byKey[k]
		if se == nil {
			se = &Series{Instrument: instrument, URI: uri}
			byKey[k] = se
			order = append(order, se)
		}
		se.Name = name
		// One point per run: a benchmark measured twice in one run (two
		// parts of the same mode) keeps its last measurement.
		if n := len(se.Points); n > 0 && se.Points[n-1].RunID == pt.RunID {
			se.Points[n-1] = pt
		} else {
			se.Points = append(se.Points, pt)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of %s on %s: %w", p.Slug(), branch, err)
	}
	sortSeries(order)
	return order, nil
}

func fp(v sql.NullFloat64) *float64 {
	if !v.Valid {
		return nil
	}
	f := v.Float64
	return &f
}

// Setting reads a project setting ("" when unset).
func (s *Store) Setting(ctx context.Context, p *Project, key string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM project_settings WHERE project_id = $1 AND key = $2`, p.ID, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("setting %s of %s: %w", key, p.Slug(), err)
	}
	return v, nil
}

// SetSetting writes a project setting; an empty value deletes it.
func (s *Store) SetSetting(ctx context.Context, p *Project, key, value string) error {
	var err error
	if value == "" {
		_, err = s.write.ExecContext(ctx, `DELETE FROM project_settings WHERE project_id = $1 AND key = $2`, p.ID, key)
	} else {
		_, err = s.write.ExecContext(ctx, `INSERT INTO project_settings (project_id, key, value) VALUES ($1, $2, $3)
			ON CONFLICT (project_id, key) DO UPDATE SET value = excluded.value`, p.ID, key, value)
	}
	if err != nil {
		return fmt.Errorf("set %s of %s: %w", key, p.Slug(), err)
	}
	return nil
}

// partMetadata reads the string values of a part's runPart.metadata from
// its upload metadata; values of other types are left out.
func partMetadata(metadata string) map[string]string {
	var md struct {
		RunPart *struct {
			Metadata map[string]json.RawMessage `json:"metadata"`
		} `json:"runPart"`
	}
	if json.Unmarshal([]byte(metadata), &md) != nil || md.RunPart == nil {
		return nil
	}
	out := map[string]string{}
	for k, raw := range md.RunPart.Metadata {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[k] = s
		}
	}
	return out
}

// partShard reads the shard of a part from its upload metadata
// (runPart.metadata.shard and shardTotal, decimal strings); 0, 0 when the
// part is not one shard of several or the figures are not valid.
func partShard(metadata string) (int, int) {
	md := partMetadata(metadata)
	num := func(key string) int {
		s, ok := md[key]
		if !ok {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return 0
		}
		return n
	}
	i, n := num("shard"), num("shardTotal")
	if i == 0 || n == 0 || i > n {
		return 0, 0
	}
	return i, n
}

// partPair reads the A/B pair of a part from its upload metadata
// (runPart.metadata.pairRole, pairWith, pairLabel): the side, the other
// side's client run id and this side's label. All empty when the part is no
// side of a pair or the values are not valid; a label too long is cut.
func partPair(metadata string) (role, with, label string) {
	md := partMetadata(metadata)
	role, with, label = md["pairRole"], md["pairWith"], md["pairLabel"]
	if role != PairBase && role != PairHead || with == "" || len(with) > 256 || !printable(with) {
		return "", "", ""
	}
	if !printable(label) {
		label = ""
	}
	if r := []rune(label); len(r) > 200 {
		label = string(r[:199]) + "…"
	}
	return role, with, label
}

// printable reports whether s holds no control character.
func printable(s string) bool {
	for _, c := range s {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}
