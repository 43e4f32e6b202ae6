// Package web is the results server's pages: a home page listing projects,
// a project page with the history of every benchmark on the default branch
// (server-rendered SVG charts with the changes server/changes detects), a
// run page (figures and flame graphs) and a compare page for any two runs,
// branches or commits (results/compare's verdicts, rendered by
// results.RenderHTML with its differential flame graphs). Every page is one
// self-contained HTML document: inline CSS, inline SVG, no script but the
// flame graphs' own, nothing fetched from elsewhere. Every name that comes
// from an upload is escaped (html/template, and the SVG writers escape
// their text).
//
// It also answers GET /api/v1/projects/OWNER/NAME/changes (ServeChanges).
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/server/store"
)

// Handler serves the pages. Mount it for GET requests that are not the
// API; it answers 404 for paths it does not know.
type Handler struct {
	store *store.Store
	log   *slog.Logger
	mux   *http.ServeMux
}

// New makes the pages of a store. log receives failed requests (nil
// discards).
func New(st *store.Store, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Handler{store: st, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.home)
	h.mux.HandleFunc("GET /projects/{path...}", h.project)
	h.mux.HandleFunc("GET /runs/{id}", h.run)
	h.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, fmt.Errorf("no page %s", r.URL.Path))
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// Page paths, escaped for use in href attributes (html/template escapes
// them again for the attribute, which leaves a valid URL).
func projectPath(slug string) string { return "/projects/" + escapePath(slug) }
func runPath(id string) string       { return "/runs/" + url.PathEscape(id) }

func escapePath(slug string) string {
	parts := strings.Split(slug, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func comparePath(slug, base, head string) string {
	return projectPath(slug) + "/compare?" + url.Values{"base": {base}, "head": {head}}.Encode()
}

// render executes a page template into a buffer first, so that a failure
// gives a clean error page rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	h.renderSized(w, r, name, data, 0)
}

// renderSized is render with the page's expected size, so that a page of
// large charts is not copied again each time the buffer doubles.
func (h *Handler) renderSized(w http.ResponseWriter, r *http.Request, name string, data any, size int) {
	var buf bytes.Buffer
	buf.Grow(size + 64<<10)
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.fail(w, r, http.StatusInternalServerError, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Write(buf.Bytes())
}

// csp allows nothing from elsewhere: inline styles and the flame graphs'
// inline scripts only.
const csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'"

// fail answers an error page; store errors that are not "not found" are
// logged and shown without their details.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := err.Error()
	if errors.Is(err, store.ErrNotFound) {
		status = http.StatusNotFound
	}
	if status >= 500 {
		h.log.Error("page failed", "path", r.URL.Path, "err", err)
		msg = "internal error (see the server log)"
	}
	var buf bytes.Buffer
	pages.ExecuteTemplate(&buf, "error", map[string]any{"Title": http.StatusText(status), "Message": msg, "Status": status})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type projectRow struct {
	*store.Project
	Href    string
	LastRun string
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	ps, err := h.store.Projects(r.Context())
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	rows := make([]projectRow, len(ps))
	for i, p := range ps {
		rows[i] = projectRow{Project: p, Href: projectPath(p.Slug()), LastRun: when(p.LastRunAt)}
	}
	h.render(w, r, "home", map[string]any{"Title": "Projects", "Projects": rows})
}

// findProject resolves /projects/PATH: the project PATH names, or the
// project of PATH's leading segments and the action in its last one
// (compare, changes). OWNER may hold slashes (GitLab groups).
func (h *Handler) findProject(ctx context.Context, path string) (*store.Project, string, error) {
	path = strings.Trim(path, "/")
	try := func(slug string) (*store.Project, error) {
		owner, name, err := store.SplitProject(slug)
		if err != nil {
			return nil, fmt.Errorf("no project %q: %w", slug, store.ErrNotFound)
		}
		return h.store.Project(ctx, owner, name)
	}
	p, err := try(path)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return p, "", err
	}
	if i := strings.LastIndex(path, "/"); i > 0 {
		switch action := path[i+1:]; action {
		case "compare", "changes":
			if q, err2 := try(path[:i]); err2 == nil {
				return q, action, nil
			} else if !errors.Is(err2, store.ErrNotFound) {
				return nil, "", err2
			}
		}
	}
	return nil, "", err
}

func (h *Handler) project(w http.ResponseWriter, r *http.Request) {
	p, action, err := h.findProject(r.Context(), r.PathValue("path"))
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	switch action {
	case "compare":
		h.compare(w, r, p)
		return
	case "changes":
		h.changesPage(w, r, p)
		return
	}
	branch := r.URL.Query().Get("branch")
	if branch == "" {
		branch = p.DefaultBranch
	}
	hist, err := h.store.History(r.Context(), p, branch, store.HistoryFilter{})
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	runs, err := h.store.Runs(r.Context(), p, store.RunFilter{Limit: 20})
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	var views []seriesView
	var all []Change
	size := 0
	for i, se := range hist {
		charts, found := analyze(se)
		if len(charts) == 0 {
			continue
		}
		for _, c := range charts {
			size += len(c.SVG)
		}
		views = append(views, seriesView{ID: fmt.Sprintf("s%d", i+1), Instrument: se.Instrument, URI: se.URI,
			Name: se.Name, Runs: len(se.Points), Charts: charts})
		all = append(all, found...)
	}
	sortChanges(all)
	h.renderSized(w, r, "project", map[string]any{
		"Title": p.Slug(), "Project": p, "Href": projectPath(p.Slug()), "Branch": branch,
		"Series": views, "Changes": changeRows(p, all), "Runs": runRows(p, runs),
		"Branches": branchesOf(runs, p.DefaultBranch), "BranchLinks": branchLinks(p, branchesOf(runs, p.DefaultBranch)),
	}, size)
}

type branchLink struct{ Name, Href string }

// branchLinks links the history of each branch of the recent runs, the
// default branch first.
func branchLinks(p *store.Project, branches []string) []branchLink {
	out := make([]branchLink, len(branches))
	for i, b := range branches {
		out[i] = branchLink{Name: b, Href: projectPath(p.Slug())}
		if b != p.DefaultBranch {
			out[i].Href += "?" + url.Values{"branch": {b}}.Encode()
		}
	}
	return out
}

// sortChanges orders changes newest first, then by benchmark.
func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

type changeRow struct {
	Change
	When, Short, Before, After, Pct, P, RunHref, CompareHref, Class string
}

func changeRows(p *store.Project, cs []Change) []changeRow {
	out := make([]changeRow, len(cs))
	for i, c := range cs {
		f := formatter(c.Unit)
		row := changeRow{Change: c, When: when(c.Time), Short: shortCommit(c.Commit),
			Before: deref(c.Before, f), After: deref(c.After, f), P: "-", RunHref: runPath(c.RunID),
			CompareHref: comparePath(p.Slug(), c.PreviousRunID, c.RunID), Class: "good"}
		if c.Change != nil {
			row.Pct = fmtChange(*c.Change)
		} else {
			row.Pct = "+∞"
		}
		if c.P != nil {
			row.P = fmt.Sprintf("%.2g", *c.P)
		}
		if c.Regression {
			row.Class = "bad"
		}
		out[i] = row
	}
	return out
}

type runRow struct {
	*store.Run
	Href, Short, When, CompareHref string
}

func runRows(p *store.Project, runs []*store.Run) []runRow {
	out := make([]runRow, len(runs))
	for i, r := range runs {
		row := runRow{Run: r, Href: runPath(r.ID), Short: shortCommit(r.Commit), When: when(r.CreatedAt)}
		if base, head := compareSides(p, r); base != "" {
			row.CompareHref = comparePath(p.Slug(), base, head)
		}
		out[i] = row
	}
	return out
}

// compareSides is the comparison a run naturally belongs to, as base and
// head refs: for a side of an A/B pair, the pair itself (base run → head
// run, the paired verdicts); else the run against its merge request's
// target branch, else against the default branch; "" for a run of the
// default branch itself.
func compareSides(p *store.Project, r *store.Run) (base, head string) {
	switch {
	case r.Pair != nil && r.Pair.Role == store.PairHead:
		return r.Pair.Run, r.ID
	case r.Pair != nil:
		// Its head, uploaded after it, may not be there yet: the head's
		// row and page link the comparison.
		return "", ""
	case r.PullRequest != 0 && r.BaseRef != "":
		return r.BaseRef, r.ID
	case r.Branch != p.DefaultBranch:
		return p.DefaultBranch, r.ID
	}
	return "", ""
}

func branchesOf(runs []*store.Run, def string) []string {
	out := []string{def}
	for _, r := range runs {
		if r.Branch != "" && !slices.Contains(out, r.Branch) {
			out = append(out, r.Branch)
		}
	}
	return out
}

func (h *Handler) changesPage(w http.ResponseWriter, r *http.Request, p *store.Project) {
	branch, all, err := h.changesOf(r, p)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	h.render(w, r, "changes", map[string]any{"Title": "Changes of " + p.Slug(), "Project": p, "Href": projectPath(p.Slug()),
		"Branch": branch, "Changes": changeRows(p, all)})
}

// changesOf detects the changes of every benchmark on the branch the
// request names (?branch=), the default branch when none, newest first.
func (h *Handler) changesOf(r *http.Request, p *store.Project) (string, []Change, error) {
	branch := r.URL.Query().Get("branch")
	if branch == "" {
		branch = p.DefaultBranch
	}
	hist, err := h.store.History(r.Context(), p, branch, store.HistoryFilter{})
	if err != nil {
		return "", nil, err
	}
	all := []Change{}
	for _, se := range hist {
		_, found := analyze(se)
		all = append(all, found...)
	}
	sortChanges(all)
	return branch, all, nil
}

// ChangesResponse is the JSON of GET /api/v1/projects/OWNER/NAME/changes.
type ChangesResponse struct {
	Project string   `json:"project"`
	Branch  string   `json:"branch"`
	Changes []Change `json:"changes"`
}

// ServeChanges answers GET /api/v1/projects/OWNER/NAME/changes[?branch=B]:
// the changes detected on the default branch (or B), newest first. It has
// the signature of server.ProjectHandler.
func (h *Handler) ServeChanges(w http.ResponseWriter, r *http.Request, p *store.Project) {
	branch, all, err := h.changesOf(r, p)
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err != nil {
		h.log.Error("changes failed", "project", p.Slug(), "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		enc.Encode(map[string]string{"error": "internal error (see the server log)"})
		return
	}
	enc.Encode(ChangesResponse{Project: p.Slug(), Branch: branch, Changes: all})
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func fmtChange(v float64) string {
	return strings.TrimSpace(fmt.Sprintf("%+.1f%%", 100*v))
}

// trusted marks markup built by this package's own escaping writers.
func trusted(s string) template.HTML { return template.HTML(s) }
