package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// RunWithBenchmarks is the JSON of GET /api/v1/runs/{id}.
type RunWithBenchmarks struct {
	*store.Run
	Benchmarks []store.Benchmark `json:"benchmarks"`
	// Shards is set when the run's parts are shards of one suite.
	Shards *store.ShardStatus `json:"shards,omitempty"`
}

func (s *Server) apiProjects(w http.ResponseWriter, r *http.Request) {
	ps, err := s.store.Projects(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if ps == nil {
		ps = []*store.Project{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": ps})
}

// apiProject routes /api/v1/projects/OWNER/NAME[/ACTION]. OWNER may hold
// slashes (GitLab groups), so the action is the last segment when it is a
// registered one and what comes before still names a project.
func (s *Server) apiProject(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.PathValue("path"), "/")
	slug, action := path, ""
	if i := strings.LastIndex(path, "/"); i > 0 {
		s.mu.RLock()
		h := s.projectActions[path[i+1:]]
		s.mu.RUnlock()
		if h != nil && strings.Contains(path[:i], "/") {
			slug, action = path[:i], path[i+1:]
		}
	}
	owner, name, err := store.SplitProject(slug)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s: %v", r.URL.Path, err))
		return
	}
	p, err := s.store.Project(r.Context(), owner, name)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if action == "" {
		writeJSON(w, http.StatusOK, p)
		return
	}
	s.mu.RLock()
	h := s.projectActions[action]
	s.mu.RUnlock()
	h(w, r, p)
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request, p *store.Project) {
	q := r.URL.Query()
	f := store.RunFilter{Branch: q.Get("branch"), Before: q.Get("before")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to 1000", v))
			return
		}
		f.Limit = n
	}
	runs, err := s.store.Runs(r.Context(), p, f)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": p.Slug(), "runs": runs})
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.store.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.writeRun(w, r, run)
}

func (s *Server) writeRun(w http.ResponseWriter, r *http.Request, run *store.Run) {
	bs, err := s.store.Benchmarks(r.Context(), run.ID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RunWithBenchmarks{Run: run, Benchmarks: bs, Shards: store.Shards(run, s.shardTimeout(), time.Now())})
}

// apiResolve is GET .../run?ref=REF: the run REF names, with benchmarks.
func (s *Server) apiResolve(w http.ResponseWriter, r *http.Request, p *store.Project) {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		writeError(w, http.StatusBadRequest, "ref is missing: a run id, a branch or a commit")
		return
	}
	run, err := s.store.ResolveRef(r.Context(), p, ref)
	if err != nil {
		s.refError(w, r, "ref", err)
		return
	}
	s.writeRun(w, r, run)
}

func (s *Server) refError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, store.ErrNotFound) || strings.Contains(err.Error(), "ambiguous") {
		writeError(w, http.StatusNotFound, what+": "+err.Error())
		return
	}
	s.storeError(w, r, err)
}

// apiCompare is GET .../compare?base=REF&head=REF[&format=markdown].
func (s *Server) apiCompare(w http.ResponseWriter, r *http.Request, p *store.Project) {
	q := r.URL.Query()
	base, head := q.Get("base"), q.Get("head")
	if base == "" || head == "" {
		writeError(w, http.StatusBadRequest, "compare needs base and head: each a run id, a branch (its newest run) or a commit")
		return
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "markdown" && format != "md" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format %q: want json or markdown", format))
		return
	}
	c, err := s.Compare(r.Context(), p, base, head)
	if err != nil {
		var re *RefError
		if errors.As(err, &re) {
			s.refError(w, r, re.Side, re.Err)
			return
		}
		s.storeError(w, r, err)
		return
	}
	if format == "markdown" || format == "md" {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		if err := results.RenderMarkdown(w, c); err != nil {
			s.log.Error("render markdown", "err", err)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := results.RenderComparisonJSON(w, c); err != nil {
		s.log.Error("render comparison", "err", err)
	}
}

// apiHistory is GET .../history?branch=B[&instrument=I&uri=U&limit=N]: the
// series of every benchmark on a branch (default: the default branch).
func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request, p *store.Project) {
	q := r.URL.Query()
	branch := q.Get("branch")
	if branch == "" {
		branch = p.DefaultBranch
	}
	f := store.HistoryFilter{Instrument: q.Get("instrument"), URI: q.Get("uri")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want 1 to 100000", v))
			return
		}
		f.Limit = n
	}
	series, err := s.store.History(r.Context(), p, branch, f)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if series == nil {
		series = []*store.Series{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": p.Slug(), "branch": branch, "series": series})
}
