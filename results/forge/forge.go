// Package forge talks to the REST APIs of GitLab and GitHub for what a
// benchmark report needs: one comment on a merge or pull request, found
// again by a hidden marker and updated by later runs (the results server
// and `codspeed mr-comment` both post through it), and GitLab's job
// artifacts, where a pipeline keeps the default branch's baseline.
//
// Tokens go in request headers only, never in URLs, errors or logs.
package forge

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Marker is the hidden first line of the comment, by which later runs find
// it. An HTML comment: GitLab and GitHub render nothing for it.
const Marker = "<!-- codspeed-go benchmark report -->"

// Kinds of forge.
const (
	GitLab = "gitlab"
	GitHub = "github"
)

// Client is one forge's REST API for one repository.
type Client struct {
	// Kind is GitLab or GitHub.
	Kind string
	// API is the API base URL (https://gitlab.com/api/v4,
	// https://api.github.com), without a trailing slash.
	API string
	// Repo is the project: GitLab's path or numeric id, GitHub's
	// OWNER/REPO.
	Repo string
	// Token authenticates: a GitLab personal, project or group access token
	// (PRIVATE-TOKEN), or GitHub's bearer token.
	Token string
	// JobToken, on GitLab, is a CI job token (CI_JOB_TOKEN, sent as
	// JOB-TOKEN): it may read the project's job artifacts, not comment.
	JobToken string
	// HTTP is the client; nil uses one with a 30 s timeout.
	HTTP *http.Client
	// Marker starts the comment Upsert looks for (default Marker): a job
	// posting a report of another kind uses its own (KeyedMarker).
	Marker string
}

// KeyedMarker is the marker of a kind of report other than the default
// one, so that two jobs commenting on one merge request (the benchmarks'
// comparison, a paired A/B run) each keep their own comment.
func KeyedMarker(key string) string {
	if key == "" {
		return Marker
	}
	return "<!-- codspeed-go benchmark report: " + strings.ReplaceAll(key, "--", "") + " -->"
}

func (c *Client) marker() string {
	if c.Marker != "" {
		return c.Marker
	}
	return Marker
}

// ErrNotFound is what the forge answered 404 to.
var ErrNotFound = errors.New("not found")

func (c *Client) client() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// MaxBody is the longest comment the forge accepts (GitHub: 65,536
// characters; GitLab: 1,000,000), in bytes, with a margin.
func (c *Client) MaxBody() int {
	if c.Kind == GitHub {
		return 65000
	}
	return 999000
}

// Truncate cuts body to at most limit bytes at a line end, ending with note
// (which says where the rest is): a comparison of thousands of benchmarks
// can exceed what a forge accepts in one comment.
func Truncate(body string, limit int, note string) string {
	if len(body) <= limit {
		return body
	}
	cut := strings.LastIndexByte(body[:limit-len(note)], '\n')
	if cut < 0 {
		cut = limit - len(note)
	}
	return body[:cut] + note
}

type comment struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"` // GitLab's notes made by GitLab itself
}

// Upsert updates the comment starting with the client's marker on merge or
// pull request n, or creates one; body must start with that marker for
// later runs to find it.
// It returns the comment's id and whether it was created.
func (c *Client) Upsert(ctx context.Context, n int, body string) (id int64, created bool, err error) {
	existing, err := c.find(ctx, n)
	if err != nil {
		return 0, false, err
	}
	payload, _ := json.Marshal(map[string]string{"body": body})
	var method, u string
	switch {
	case c.Kind == GitHub && existing != 0:
		method, u = http.MethodPatch, fmt.Sprintf("%s/repos/%s/issues/comments/%d", c.API, c.Repo, existing)
	case c.Kind == GitHub:
		method, u = http.MethodPost, fmt.Sprintf("%s/repos/%s/issues/%d/comments", c.API, c.Repo, n)
	case existing != 0:
		method, u = http.MethodPut, fmt.Sprintf("%s/projects/%s/merge_requests/%d/notes/%d", c.API, url.PathEscape(c.Repo), n, existing)
	default:
		method, u = http.MethodPost, fmt.Sprintf("%s/projects/%s/merge_requests/%d/notes", c.API, url.PathEscape(c.Repo), n)
	}
	var cm comment
	if _, err := c.do(ctx, method, u, payload, &cm); err != nil {
		return 0, false, err
	}
	if cm.ID == 0 {
		cm.ID = existing
	}
	return cm.ID, existing == 0, nil
}

// find walks the comments of MR/PR n, page by page, for the marker.
func (c *Client) find(ctx context.Context, n int) (int64, error) {
	var u string
	if c.Kind == GitHub {
		u = fmt.Sprintf("%s/repos/%s/issues/%d/comments?per_page=100", c.API, c.Repo, n)
	} else {
		u = fmt.Sprintf("%s/projects/%s/merge_requests/%d/notes?per_page=100&sort=asc&order_by=created_at", c.API, url.PathEscape(c.Repo), n)
	}
	for page := 1; u != "" && page <= 100; page++ {
		var cs []comment
		h, err := c.do(ctx, http.MethodGet, u, nil, &cs)
		if err != nil {
			return 0, err
		}
		for _, cm := range cs {
			// Markers end with "-->", so none is a prefix of another.
			if !cm.System && strings.HasPrefix(cm.Body, c.marker()) {
				return cm.ID, nil
			}
		}
		u = c.next(u, h)
	}
	return 0, nil
}

// next is the URL of the following page: GitHub's Link header (rel="next"),
// GitLab's X-Next-Page.
func (c *Client) next(cur string, h http.Header) string {
	if c.Kind == GitHub {
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

// request sends one API request and returns the answer's body (up to
// limit bytes) and headers; a non-2xx answer is an error (wrapping
// ErrNotFound for 404).
func (c *Client) request(ctx context.Context, method, u string, payload []byte, limit int64) ([]byte, http.Header, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("User-Agent", "codspeed-go")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.Kind == GitHub:
		req.Header.Set("Accept", "application/vnd.github+json")
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Token != "":
		req.Header.Set("PRIVATE-TOKEN", c.Token)
	case c.JobToken != "":
		req.Header.Set("JOB-TOKEN", c.JobToken)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		// The URL has no token in it; the error is safe to log.
		return nil, nil, fmt.Errorf("%s %s: %w", method, Redact(u), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, Redact(u), err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		err := fmt.Errorf("%s %s: %s: %s", method, Redact(u), resp.Status, msg)
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, nil, err
	}
	return data, resp.Header, nil
}

// do sends one API request and decodes the JSON answer into out.
func (c *Client) do(ctx context.Context, method, u string, payload []byte, out any) (http.Header, error) {
	data, h, err := c.request(ctx, method, u, payload, 16<<20)
	if err != nil {
		return nil, err
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: unexpected answer: %w", method, Redact(u), err)
		}
	}
	return h, nil
}

// Redact drops a URL's query and user info for messages.
func Redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(url)"
	}
	pu.RawQuery, pu.User = "", nil
	return pu.String()
}

// MaxArtifacts bounds a downloaded artifacts archive.
const MaxArtifacts = 2 << 30

// Artifacts downloads the artifacts archive (a zip) of the newest
// successful job named job on ref (GitLab's "download the artifacts
// archive" endpoint, which a CI job token may call for its own project).
// The error wraps ErrNotFound when there is none.
func (c *Client) Artifacts(ctx context.Context, ref, job string) ([]byte, error) {
	if c.Kind != GitLab {
		return nil, fmt.Errorf("job artifacts: %s has none", c.Kind)
	}
	u := fmt.Sprintf("%s/projects/%s/jobs/artifacts/%s/download?job=%s", c.API, url.PathEscape(c.Repo), url.PathEscape(ref), url.QueryEscape(job))
	data, _, err := c.request(ctx, http.MethodGet, u, nil, MaxArtifacts)
	if err != nil {
		return nil, fmt.Errorf("artifacts of job %q on %s: %w", job, ref, err)
	}
	return data, nil
}

// ExtractDir writes the files under dir/ of the zip archive data into
// dest (created; dir's own name is not kept). Entries that would leave dest
// are refused. It returns how many files it wrote.
func ExtractDir(data []byte, dir, dest string) (int, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, fmt.Errorf("artifacts archive: %w", err)
	}
	prefix := strings.Trim(path.Clean("/"+dir), "/") + "/"
	n := 0
	for _, f := range zr.File {
		name := path.Clean("/" + f.Name)[1:]
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok || rel == "" || f.FileInfo().IsDir() {
			continue
		}
		if !filepath.IsLocal(rel) {
			return n, fmt.Errorf("artifacts archive: %q leaves its folder", f.Name)
		}
		if !f.Mode().IsRegular() {
			continue // links and devices are not results
		}
		out := filepath.Join(dest, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(out), 0o777); err != nil {
			return n, err
		}
		if err := extractFile(f, out); err != nil {
			return n, fmt.Errorf("artifacts archive: %s: %w", f.Name, err)
		}
		n++
	}
	return n, nil
}

func extractFile(f *zip.File, out string) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, io.LimitReader(r, MaxArtifacts)); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
