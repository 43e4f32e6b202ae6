package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/codspeed-go/codspeed-go/results/compare"
)

// Client reads a results server's JSON API (what `codspeed compare
// --server` uses).
type Client struct {
	// URL is the server's base URL, e.g. http://bench:8787.
	URL string
	// Token is sent when set (a private server needs one).
	Token      string
	HTTPClient *http.Client
}

// APIError is an error answer of the server.
type APIError struct {
	URL        string
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.URL, e.StatusCode, e.Message)
}

// Run fetches the run REF names in project OWNER/NAME (a run id, a branch:
// its newest run, or a commit), with its benchmarks.
func (c *Client) Run(ctx context.Context, project, ref string) (*RunWithBenchmarks, error) {
	if i := strings.LastIndex(project, "/"); i <= 0 || i == len(project)-1 {
		return nil, fmt.Errorf("project %q is not OWNER/NAME", project)
	}
	u := strings.TrimRight(c.URL, "/") + "/api/v1/projects/" + escapePath(project) + "/run?ref=" + url.QueryEscape(ref)
	var out RunWithBenchmarks
	if err := c.get(ctx, u, &out); err != nil {
		return nil, err
	}
	if out.Run == nil || out.ID == "" {
		return nil, fmt.Errorf("%s: the answer has no run", safeURL(u))
	}
	return &out, nil
}

// Side fetches the run REF names as one side of a comparison.
func (c *Client) Side(ctx context.Context, project, ref string) (*compare.Side, error) {
	r, err := c.Run(ctx, project, ref)
	if err != nil {
		return nil, err
	}
	// The profile files are on the server, not here: a path the server
	// sends must never make a local renderer open a local file.
	for i := range r.Benchmarks {
		r.Benchmarks[i].Profile = nil
	}
	side := SideOf(r.Run, r.Benchmarks, ref)
	side.Ref.Source = strings.TrimRight(c.URL, "/") + "/api/v1/runs/" + r.ID
	if len(side.Parts) == 0 {
		return nil, fmt.Errorf("run %s of %s on %s has no benchmarks", r.ID, project, c.URL)
	}
	return side, nil
}

func (c *Client) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("results server: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", c.Token)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("results server: %s: %w", safeURL(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("results server: %s: %w", safeURL(u), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		return &APIError{URL: safeURL(u), StatusCode: resp.StatusCode, Message: msg}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("results server: %s: the answer is not the JSON expected: %w", safeURL(u), err)
	}
	return nil
}

// escapePath escapes each segment of OWNER/NAME.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// safeURL drops credentials from a URL for messages.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// unwrapURLError keeps the cause of a *url.Error, whose text repeats the
// URL (with any credentials in it).
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
