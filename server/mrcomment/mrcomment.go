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
	"github.com/codspeed-go/codspeed-go/results/forge"
	"github.com/codspeed-go/codspeed-go/server"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// Marker is the hidden first line of the comment, by which later runs find
// it (forge.Marker).
const Marker = forge.Marker

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
	if run.Pair != nil && run.Pair.Role == store.PairBase {
		// The base side of an A/B pair is reported with its head, once
		// both are on the server.
		head, err := r.Store.PairOf(ctx, run)
		if errors.Is(err, store.ErrNotFound) {
			return Result{}, nil
		}
		if err != nil {
			return Result{}, err
		}
		run = head
	}
	if run.PullRequest <= 0 {
		return Result{}, nil
	}
	f, err := r.forge(ctx, p, run)
	if err != nil || f == nil {
		return Result{}, err
	}
	f.Marker = marker(run)
	body, err := r.Body(ctx, p, run)
	if err != nil {
		return Result{}, err
	}
	// The parts of one run arrive close together: one comment per MR/PR
	// at a time, or two could both find none and both create one.
	unlock := r.lock(p.Slug() + "#" + strconv.Itoa(run.PullRequest))
	defer unlock()
	id, created, err := f.Upsert(ctx, run.PullRequest, truncate(body, f.MaxBody()))
	if err != nil {
		return Result{}, fmt.Errorf("%s %s !%d: %w", f.Kind, f.Repo, run.PullRequest, err)
	}
	return Result{Forge: f.Kind, CommentID: id, Created: created}, nil
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

// ABKey is the key of the comment an A/B pair's head is reported in: a
// comment of its own, next to the one of the merge request's other runs and
// to the one a CI job posts with `codspeed mr-comment --key ab` (two
// writers of one comment could both create it).
const ABKey = "ab-server"

// marker is the hidden first line of run's comment.
func marker(run *store.Run) string {
	if run.Pair != nil {
		return forge.KeyedMarker(ABKey)
	}
	return Marker
}

// Body is the comment's text: the marker, then the comparison of run with
// the newest run of its target branch in Markdown (a report of the run alone
// when the target branch has no run on the server yet). The head of an A/B
// pair is compared with its base run, with the paired verdicts, once that
// has arrived.
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
	var br *store.Run
	if run.Pair != nil && run.Pair.Role == store.PairHead {
		br, err = r.Store.PairOf(ctx, run)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		if err == nil {
			target = "A/B base"
			if br.Pair != nil && br.Pair.Label != "" {
				target = br.Pair.Label
			}
		}
	}
	if br == nil {
		br, err = r.Store.ResolveRef(ctx, p, target)
	}
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
	opts, err := r.Store.CompareOptions(ctx, p)
	if err != nil {
		return "", err
	}
	c := compare.Compare(base, head, opts)
	var md bytes.Buffer
	if err := results.RenderMarkdown(&md, c); err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(marker(run) + "\n")
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
func (r *Reporter) forge(ctx context.Context, p *store.Project, run *store.Run) (*forge.Client, error) {
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
		return &forge.Client{Kind: kind, API: strings.TrimRight(api, "/"), Repo: repo, Token: token, HTTP: r.client()}, nil
	}
	return nil, nil
}

// truncate cuts body to at most limit bytes at a line end, saying where
// the rest is.
func truncate(body string, limit int) string {
	return forge.Truncate(body, limit, "\n\n… (truncated: the comparison is longer than a comment may be; the server's compare page has all of it)\n")
}
