package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/version"
)

// DefaultURL is CodSpeed's upload endpoint.
const DefaultURL = "https://api.codspeed.io/upload"

// Options say where and how to upload. The zero value uploads tokenless to
// CodSpeed with http.DefaultClient, three retries and a one-second backoff.
type Options struct {
	// URL is the metadata endpoint (--upload-url, CODSPEED_UPLOAD_URL).
	URL string
	// Token is sent raw in the Authorization header; empty means a
	// tokenless upload (public repositories on GitHub). It never appears in
	// any error or log line this package produces.
	Token      string
	HTTPClient *http.Client
	// UserAgent names the runner, e.g. "codspeed-go/1.2.0".
	UserAgent string
	// Retries is how many times a request is retried after a network error
	// or a 5xx answer; 4xx answers are never retried. 0 means 3; use a
	// negative number for no retry.
	Retries int
	// Backoff is the wait before the first retry; it doubles each time.
	// 0 means one second.
	Backoff time.Duration
	// Log receives one line per request and per retry; nil discards them.
	Log io.Writer
}

// Response is the upload endpoint's answer to the metadata POST.
type Response struct {
	Status    string `json:"status"`
	UploadURL string `json:"uploadUrl"`
	RunID     string `json:"runId"`
}

// Error is a failed upload step. Message is the server's own error text
// (from {"error": ...}) or the network failure, with secrets redacted.
type Error struct {
	// Op is "upload metadata" (the POST) or "upload archive" (the PUT).
	Op         string
	URL        string // without query string: pre-signed URLs carry credentials
	StatusCode int    // 0 for a network error
	Message    string
	Attempts   int
	cause      error // only secret-free causes (context errors)
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Op, e.URL)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap exposes context.Canceled and context.DeadlineExceeded; other causes
// are not kept, since their text may hold a secret.
func (e *Error) Unwrap() error { return e.cause }

// Retryable reports whether the failure was a network error or a 5xx
// answer, which a later `codspeed upload RUN` may well get past.
func (e *Error) Retryable() bool { return e.StatusCode == 0 || e.StatusCode >= 500 }

// Upload POSTs md to o.URL, then PUTs b to the URL the server answers with.
// md.Tokenless is set from whether o.Token is empty.
// It returns the server's answer (whose RunID names the run on the server).
// On failure the caller keeps the run (the profile folder is untouched) and
// can retry later.
func Upload(ctx context.Context, o Options, md Metadata, b *Bundle) (*Response, error) {
	o = o.withDefaults()
	if o.Token != "" {
		if err := checkSecretURL(o.URL, "upload URL"); err != nil {
			return nil, fmt.Errorf("upload: %w", err)
		}
	}
	red := newRedactor(o.Token)
	// The server must know whether to expect a token; only Options knows.
	md.Tokenless = o.Token == ""
	if md.ProfileMd5 != b.MD5 {
		return nil, fmt.Errorf("upload: metadata profileMd5 %q does not match the archive's %q", md.ProfileMd5, b.MD5)
	}
	body, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("upload: encode metadata: %w", err)
	}

	var resp Response
	err = o.do(ctx, red, "upload metadata", o.URL, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if o.Token != "" {
			req.Header.Set("Authorization", o.Token)
		}
		return req, nil
	}, func(data []byte) error {
		var answer struct {
			Response
			Error string `json:"error"`
		}
		if err := json.Unmarshal(data, &answer); err != nil {
			return fmt.Errorf("answer is not JSON: %v", err)
		}
		if answer.Error != "" {
			return errors.New(answer.Error)
		}
		resp = answer.Response
		if resp.UploadURL == "" {
			return errors.New("answer has no uploadUrl")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(resp.UploadURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Op: "upload metadata", URL: safeURL(o.URL), Message: red.String(fmt.Sprintf("uploadUrl %q is not an http(s) URL", safeURL(resp.UploadURL)))}
	}
	o.logf(red, "upload: run %s: sending %d bytes", resp.RunID, len(b.Data))

	err = o.do(ctx, red, "upload archive", resp.UploadURL, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, resp.UploadURL, bytes.NewReader(b.Data))
		if err != nil {
			return nil, err
		}
		req.ContentLength = int64(len(b.Data))
		req.Header.Set("Content-Type", "application/x-tar")
		req.Header.Set("Content-MD5", b.MD5)
		if b.Encoding != "" {
			req.Header.Set("Content-Encoding", b.Encoding)
		}
		return req, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	o.logf(red, "upload: run %s uploaded", resp.RunID)
	return &resp, nil
}

func (o Options) withDefaults() Options {
	if o.URL == "" {
		o.URL = DefaultURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Retries == 0 {
		o.Retries = 3
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff == 0 {
		o.Backoff = time.Second
	}
	if o.UserAgent == "" {
		o.UserAgent = version.UserAgent()
	}
	return o
}

func (o Options) logf(red *redactor, format string, args ...any) {
	if o.Log == nil {
		return
	}
	io.WriteString(o.Log, red.String(fmt.Sprintf(format, args...))+"\n")
}

// maxBody bounds what is read of an answer: error texts are short, and a
// misbehaving server must not fill memory.
const maxBody = 1 << 20

// do sends the request newReq builds, retrying network errors and 5xx
// answers with exponential backoff, and hands a 2xx body to accept (which
// may reject it; a rejected body is not retried).
func (o Options) do(ctx context.Context, red *redactor, op, rawURL string, newReq func() (*http.Request, error), accept func([]byte) error) error {
	where := safeURL(rawURL)
	wait := o.Backoff
	attempts := o.Retries + 1
	for attempt := 1; ; attempt++ {
		req, err := newReq()
		if err != nil {
			return &Error{Op: op, URL: where, Message: red.String(err.Error())}
		}
		req.Header.Set("User-Agent", o.UserAgent)
		o.logf(red, "upload: %s %s (attempt %d/%d)", req.Method, where, attempt, attempts)
		status, body, err := o.roundTrip(req)
		var failure *Error
		switch {
		case err != nil:
			failure = &Error{Op: op, URL: where, Message: red.String(networkMessage(err)), Attempts: attempt}
			if ctxErr := ctx.Err(); ctxErr != nil {
				failure.cause = ctxErr
				return failure
			}
		case status >= 200 && status < 300:
			if accept != nil {
				if err := accept(body); err != nil {
					return &Error{Op: op, URL: where, StatusCode: status, Message: red.String(err.Error()), Attempts: attempt}
				}
			}
			return nil
		default:
			failure = &Error{Op: op, URL: where, StatusCode: status, Message: red.String(serverMessage(body)), Attempts: attempt}
			if status < 500 {
				return failure
			}
		}
		if attempt >= attempts {
			return failure
		}
		o.logf(red, "upload: %s failed: %s; retrying in %s", op, failure.shortReason(), wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			failure.cause = ctx.Err()
			return failure
		case <-t.C:
		}
		wait *= 2
	}
}

func (o Options) roundTrip(req *http.Request) (int, []byte, error) {
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

func (e *Error) shortReason() string {
	if e.StatusCode != 0 {
		return "HTTP " + strconv.Itoa(e.StatusCode)
	}
	return e.Message
}

// serverMessage extracts {"error": "..."} (CodSpeed's error answer), or
// else the start of the body as text.
func serverMessage(body []byte) string {
	var answer struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &answer) == nil {
		if answer.Error != "" {
			return answer.Error
		}
		if answer.Message != "" {
			return answer.Message
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return s
}

// networkMessage describes a transport failure without the URL, which
// *url.Error would repeat in full (query string included).
func networkMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// safeURL drops user information, the query and the fragment: pre-signed
// upload URLs carry their signature in the query.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
