// Package mrcomment posts the comparison of a merge request's run (GitLab)
// or pull request's run (GitHub) as one comment on it, and updates that
// comment when later runs of the same MR/PR arrive. The comment is the
// Markdown of `codspeed compare --format markdown`: the run against the
// newest run of the MR's target branch, with the verdicts and thresholds of
// results/compare. It is found again by a hidden marker, so the MR keeps one
// comment however many pipelines run.
//
// Tokens are project settings on the server (see Settings*); nothing is
// posted for a project without one.
package mrcomment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
	"github.com/codspeed-go/codspeed-go/server"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// Marker is the hidden first line of the comment, by which later runs find
// it. An HTML comment: GitLab and GitHub render nothing for it.
const Marker = "<!-- codspeed-go benchmark report -->"

// Project settings read by the Reporter.
const (
	SettingGitLabToken   = "gitlab.token"
	SettingGitLabURL     = "gitlab.url"     // API base, default DefaultGitLabURL
	SettingGitLabProject = "gitlab.project" // project path, default OWNER/NAME
	SettingGitHubToken   = "github.token"
	SettingGitHubURL     = "github.url"        // API base, default DefaultGitHubURL
	SettingGitHubRepo    = "github.repository" // OWNER/REPO, default OWNER/NAME
)

// Default API bases.
const (
	DefaultGitLabURL = "https://gitlab.com/api/v4"
	DefaultGitHubURL = "https://api.github.com"
)

// Reporter comments on merge and pull requests. Its Hook is a
// server.RunHook. The zero value needs only Store.
type Reporter struct {
	Store *store.Store
	// HTTP is the client for the forge's API; nil uses one with a 30 s
	// timeout.
	HTTP *http.Client
	// PublicURL, when set, is the server's base URL as people reach it: the
	// comment links the compare page.
	PublicURL string
	// Log receives what was posted and what failed; nil discards. Tokens
	// never reach it.
	Log *slog.Logger

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Result says what Report did.
type Result struct {
	// Forge is "gitlab" or "github"; empty when nothing was posted.
	Forge string
	// CommentID is the forge's id of the comment, Created whether this call
	// created it (false: updated).
	CommentID int64
	Created   bool
}

// Hook reports a stored run, logging the outcome: a failed comment never
// fails an upload.
func (r *Reporter) Hook(ctx context.Context, p *store.Project, run *store.Run) {
	res, err := r.Report(ctx, p, run)
	log := r.log()
	switch {
	case err != nil:
		log.Error("merge request comment failed", "project", p.Slug(), "run", run.ID, "mr", run.PullRequest, "err", err)
	case res.Forge != "":
		log.Info("merge request comment", "project", p.Slug(), "run", run.ID, "mr", run.PullRequest,
			"forge", res.Forge, "comment", res.CommentID, "created", res.Created)
	}
}

func (r *Reporter) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r.Log
}

// Report posts or updates the comment of run's MR/PR. It does nothing (a
// zero Result, no error) for a run without an MR/PR number or a project
// without a token for its forge.
func (r *Reporter) Report(ctx context.Context, p *store.Project, run *store.Run) (Result, error) {
	if run.PullRequest <= 0 {
		return Result{}, nil
	}
	f, err := r.forge(ctx, p, run)
	if err != nil || f == nil {
		return Result{}, err
	}
	body, err := r.Body(ctx, p, run)
	if err != nil {
		return Result{}, err
	}
	// The parts of one run arrive close together: one comment per MR/PR
	// at a time, or two could both find none and both create one.
	unlock := r.lock(p.Slug() + "#" + strconv.Itoa(run.PullRequest))
	defer unlock()
	id, created, err := f.upsert(ctx, r.client(), run.PullRequest, truncate(body, f.maxBody()))
	if err != nil {
		return Result{}, fmt.Errorf("%s %s !%d: %w", f.kind, f.repo, run.PullRequest, err)
	}
	return Result{Forge: f.kind, CommentID: id, Created: created}, nil
}

func (r *Reporter) lock(key string) func() {
	r.mu.Lock()
	if r.locks == nil {
		r.locks = map[string]*sync.Mutex{}
	}
	m := r.locks[key]
	if m == nil {
		m = &sync.Mutex{}
		r.locks[key] = m
	}
	r.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (r *Reporter) client() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Body is the comment's text: the marker, then the comparison of run with
// the newest run of its target branch in Markdown (a report of the run alone
// when the target branch has no run on the server yet).
func (r *Reporter) Body(ctx context.Context, p *store.Project, run *store.Run) (string, error) {
	bs, err := r.Store.Benchmarks(ctx, run.ID)
	if err != nil {
		return "", err
	}
	head := server.SideOf(run, bs, run.Branch)
	var base *compare.Side
	target := run.BaseRef
	if target == "" {
		target = p.DefaultBranch
	}
	var note string
	br, err := r.Store.ResolveRef(ctx, p, target)
	switch {
	case err == nil && br.ID != run.ID:
		bbs, err := r.Store.Benchmarks(ctx, br.ID)
		if err != nil {
			return "", err
		}
		base = server.SideOf(br, bbs, target)
	case err == nil:
	case errors.Is(err, store.ErrNotFound):
		note = fmt.Sprintf("No run of `%s` is on the server yet, so there is nothing to compare with: these are the figures of this run alone.\n\n",
			strings.ReplaceAll(target, "`", "'"))
	default:
		return "", err
	}
	c := compare.Compare(base, head, compare.Options{})
	var md bytes.Buffer
	if err := results.RenderMarkdown(&md, c); err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(Marker + "\n")
	sb.WriteString(note)
	sb.Write(md.Bytes())
	if r.PublicURL != "" && base != nil {
		u := strings.TrimRight(r.PublicURL, "/") + "/projects/" + escapeSlug(p.Slug()) + "/compare?" +
			url.Values{"base": {base.Ref.RunID}, "head": {run.ID}}.Encode()
		fmt.Fprintf(&sb, "\n[Flame graphs and details](%s)\n", u)
	}
	return sb.String(), nil
}

func escapeSlug(slug string) string {
	parts := strings.Split(slug, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// forge picks the forge of a run: its repository provider when the project
// has that forge's token, else whichever forge has a token.
func (r *Reporter) forge(ctx context.Context, p *store.Project, run *store.Run) (*forge, error) {
	setting := func(key string) (string, error) { return r.Store.Setting(ctx, p, key) }
	var order []string
	switch strings.ToLower(run.RepositoryProvider) {
	case "github":
		order = []string{"github"}
	case "gitlab":
		order = []string{"gitlab"}
	default:
		order = []string{"gitlab", "github"}
	}
	for _, kind := range order {
		tokenKey, urlKey, repoKey, def := SettingGitLabToken, SettingGitLabURL, SettingGitLabProject, DefaultGitLabURL
		if kind == "github" {
			tokenKey, urlKey, repoKey, def = SettingGitHubToken, SettingGitHubURL, SettingGitHubRepo, DefaultGitHubURL
		}
		token, err := setting(tokenKey)
		if err != nil {
			return nil, err
		}
		if token == "" {
			continue
		}
		api, err := setting(urlKey)
		if err != nil {
			return nil, err
		}
		if api == "" {
			api = def
		}
		repo, err := setting(repoKey)
		if err != nil {
			return nil, err
		}
		if repo == "" {
			repo = p.Slug()
		}
		return &forge{kind: kind, api: strings.TrimRight(api, "/"), repo: repo, token: token}, nil
	}
	return nil, nil
}

// truncate cuts body to at most limit bytes at a line end, saying so: a
// comparison of thousands of benchmarks can exceed what a forge accepts in
// one comment.
func truncate(body string, limit int) string {
	if len(body) <= limit {
		return body
	}
	const note = "\n\n… (truncated: the comparison is longer than a comment may be; the server's compare page has all of it)\n"
	cut := strings.LastIndexByte(body[:limit-len(note)], '\n')
	if cut < 0 {
		cut = limit - len(note)
	}
	return body[:cut] + note
}

// maxBody is the longest comment the forge accepts (GitHub: 65,536
// characters; GitLab: 1,000,000), in bytes, with a margin.
func (f *forge) maxBody() int {
	if f.kind == "github" {
		return 65000
	}
	return 999000
}

// forge is one forge's REST API for one repository.
type forge struct {
	kind  string // "gitlab" or "github"
	api   string
	repo  string
	token string
}

type comment struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"` // GitLab's notes made by GitLab itself
}

// upsert updates the comment carrying Marker on MR/PR number n, or creates
// one.
func (f *forge) upsert(ctx context.Context, hc *http.Client, n int, body string) (id int64, created bool, err error) {
	existing, err := f.find(ctx, hc, n)
	if err != nil {
		return 0, false, err
	}
	payload, _ := json.Marshal(map[string]string{"body": body})
	var method, u string
	switch {
	case f.kind == "github" && existing != 0:
		method, u = http.MethodPatch, fmt.Sprintf("%s/repos/%s/issues/comments/%d", f.api, f.repo, existing)
	case f.kind == "github":
		method, u = http.MethodPost, fmt.Sprintf("%s/repos/%s/issues/%d/comments", f.api, f.repo, n)
	case existing != 0:
		method, u = http.MethodPut, fmt.Sprintf("%s/projects/%s/merge_requests/%d/notes/%d", f.api, url.PathEscape(f.repo), n, existing)
	default:
		method, u = http.MethodPost, fmt.Sprintf("%s/projects/%s/merge_requests/%d/notes", f.api, url.PathEscape(f.repo), n)
	}
	var c comment
	if _, err := f.do(ctx, hc, method, u, payload, &c); err != nil {
		return 0, false, err
	}
	if c.ID == 0 {
		c.ID = existing
	}
	return c.ID, existing == 0, nil
}

// find walks the comments of MR/PR n, page by page, for the marker.
func (f *forge) find(ctx context.Context, hc *http.Client, n int) (int64, error) {
	var u string
	if f.kind == "github" {
		u = fmt.Sprintf("%s/repos/%s/issues/%d/comments?per_page=100", f.api, f.repo, n)
	} else {
		u = fmt.Sprintf("%s/projects/%s/merge_requests/%d/notes?per_page=100&sort=asc&order_by=created_at", f.api, url.PathEscape(f.repo), n)
	}
	for page := 1; u != "" && page <= 100; page++ {
		var cs []comment
		h, err := f.do(ctx, hc, http.MethodGet, u, nil, &cs)
		if err != nil {
			return 0, err
		}
		for _, c := range cs {
			if !c.System && strings.HasPrefix(c.Body, Marker) {
				return c.ID, nil
			}
		}
		u = f.next(u, h)
	}
	return 0, nil
}

// next is the URL of the following page: GitHub's Link header (rel="next"),
// GitLab's X-Next-Page.
func (f *forge) next(cur string, h http.Header) string {
	if f.kind == "github" {
		for _, part := range strings.Split(h.Get("Link"), ",") {
			target, rel, ok := strings.Cut(part, ";")
			if ok && strings.Contains(rel, `rel="next"`) {
				return strings.Trim(strings.TrimSpace(target), "<>")
			}
		}
		return ""
	}
	np := strings.TrimSpace(h.Get("X-Next-Page"))
	if np == "" {
		return ""
	}
	pu, err := url.Parse(cur)
	if err != nil {
		return ""
	}
	q := pu.Query()
	q.Set("page", np)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// do sends one API request and decodes the JSON answer into out.
func (f *forge) do(ctx context.Context, hc *http.Client, method, u string, payload []byte, out any) (http.Header, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "codspeed-go")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if f.kind == "github" {
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		req.Header.Set("Authorization", "Bearer "+f.token)
	} else {
		req.Header.Set("PRIVATE-TOKEN", f.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The URL has no token in it; the error is safe to log.
		return nil, fmt.Errorf("%s %s: %w", method, redact(u), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, redact(u), err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, fmt.Errorf("%s %s: %s: %s", method, redact(u), resp.Status, msg)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: unexpected answer: %w", method, redact(u), err)
		}
	}
	return resp.Header, nil
}

// redact drops a URL's query and user info for messages.
func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(url)"
	}
	pu.RawQuery, pu.User = "", nil
	return pu.String()
}
