package ingest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/server/store"
)

// ArchivePath is where archives are PUT: ArchivePath + the upload's secret.
const ArchivePath = "/upload/archive/"

// PendingTTL is how long an upload URL stays valid. It outlives the upload
// itself so that a retried PUT (its answer was lost) finds the run part
// already stored and is answered 200.
const PendingTTL = time.Hour

// memorySpool is how much of an archive is kept in memory; the rest of a
// larger one goes to a temporary file.
const memorySpool = 4 << 20

// Handler answers POST /upload and PUT ArchivePath{secret}.
type Handler struct {
	Store *store.Store
	// MaxUploadSize bounds an archive; larger ones get 413.
	MaxUploadSize int64
	// Limits bound the archive's expansion (zero: DefaultLimits).
	Limits Limits
	// PublicURL is the base of the upload URLs ("" means http://Host).
	PublicURL string
	// TempDir holds archives too large for memory while they are checked
	// ("" means os.TempDir()).
	TempDir string
	Log     *slog.Logger
	// OnStored is called after a run part was stored (not for a retry of
	// a stored part).
	OnStored func(p *store.Project, runID string)
}

// UploadAnswer is the JSON answer to both requests.
type UploadAnswer struct {
	Status    string `json:"status"`
	UploadURL string `json:"uploadUrl,omitempty"`
	// RunID is the server's id of the run this part makes or joins.
	RunID string `json:"runId"`
	// Warning says what the server could not take from the archive.
	Warning string `json:"warning,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/upload":
		h.metadata(w, r)
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, ArchivePath):
		h.archive(w, r, strings.TrimPrefix(r.URL.Path, ArchivePath))
	default:
		writeError(w, http.StatusMethodNotAllowed, "the upload endpoint takes POST /upload and PUT "+ArchivePath+"...")
	}
}

// RequestToken is the token of a request: the Authorization header, raw
// (as CodSpeed's upload clients send it) or as "Bearer T", or the password
// of basic authentication.
func RequestToken(r *http.Request) string {
	if _, pw, ok := r.BasicAuth(); ok {
		return pw
	}
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	if t, ok := strings.CutPrefix(h, "token "); ok {
		return strings.TrimSpace(t)
	}
	return h
}

func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := RequestToken(r)
	if token == "" {
		writeError(w, http.StatusUnauthorized, "this server needs an upload token: create one with `codspeed serve token create OWNER/NAME` and pass it with --token or CODSPEED_TOKEN")
		return
	}
	p, err := h.Store.Authenticate(ctx, token)
	if err != nil {
		if errors.Is(err, store.ErrBadToken) {
			h.Log.Warn("upload refused: invalid token", "remote", r.RemoteAddr)
			writeError(w, http.StatusUnauthorized, "invalid token: it is no token of a project on this server")
			return
		}
		h.internal(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMetadataSize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("upload metadata: more than %d bytes", MaxMetadataSize))
			return
		}
		writeError(w, http.StatusBadRequest, "upload metadata: "+err.Error())
		return
	}
	md, err := ParseMetadata(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if md.Owner != "" && md.Repository != "" && (md.Owner != p.Owner || md.Repository != p.Name) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("the token is for project %s, the upload is for %s/%s", p.Slug(), md.Owner, md.Repository))
		return
	}
	secret, err := h.Store.AddPending(ctx, p, body, PendingTTL)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, UploadAnswer{Status: "ok", UploadURL: h.baseURL(r) + ArchivePath + secret, RunID: store.RunID(p, ciRunID(md))})
}

func (h *Handler) baseURL(r *http.Request) string {
	if h.PublicURL != "" {
		return strings.TrimRight(h.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ciRunID and partID place an upload: the runPart when the runner sends
// one, else the archive's MD5, so that a retried upload of the same
// archive is still stored once.
func ciRunID(md *Metadata) string {
	if md.RunPart != nil {
		return md.RunPart.RunID
	}
	return "md5:" + md.ProfileMd5
}

func partID(md *Metadata) string {
	if md.RunPart != nil {
		return md.RunPart.RunPartID
	}
	return md.ProfileMd5
}

func (h *Handler) archive(w http.ResponseWriter, r *http.Request, secret string) {
	ctx := r.Context()
	pending, err := h.Store.PendingUpload(ctx, secret)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		h.internal(w, r, err)
		return
	}
	md, err := ParseMetadata(pending.Metadata)
	if err != nil {
		h.internal(w, r, fmt.Errorf("stored metadata: %w", err))
		return
	}
	if r.ContentLength > h.MaxUploadSize {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("archive of %d bytes, more than the server's limit of %d (--max-upload-size)", r.ContentLength, h.MaxUploadSize))
		return
	}
	body, size, sum, err := h.spool(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("archive of more than the server's limit of %d bytes (--max-upload-size)", h.MaxUploadSize))
			return
		}
		writeError(w, http.StatusBadRequest, "archive: reading the body: "+err.Error())
		return
	}
	defer body.Close()
	if sum != md.ProfileMd5 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("archive MD5 %s does not match the metadata's profileMd5 %s (corrupted in transit?)", sum, md.ProfileMd5))
		return
	}
	if hdr := r.Header.Get("Content-MD5"); hdr != "" && hdr != sum {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("archive MD5 %s does not match Content-MD5 %s", sum, clip(hdr)))
		return
	}
	lim := h.Limits
	if lim.MaxExpanded == 0 {
		lim = DefaultLimits(h.MaxUploadSize)
	}
	gz := md.Gzipped() || strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip")
	a, err := ReadArchive(body, gz, lim)
	if err != nil {
		var ae *ArchiveError
		if errors.As(err, &ae) && ae.TooLarge {
			writeError(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	warning := ""
	if len(a.Files) == 0 && !md.AllowEmpty {
		if len(a.Callgrind) == 0 {
			writeError(w, http.StatusBadRequest, "archive: no results file (results/*.json) in the profile folder: this server stores the results files runners write (codspeed-go in every mode; CodSpeed's runner in walltime mode only); upload with --allow-empty to store an empty run")
			return
		}
		// CodSpeed's runner in simulation mode uploads callgrind profiles
		// only: the part is kept (the run, its commit and branch), with no
		// figures, and the uploader is told so.
		warning = fmt.Sprintf("stored without figures: the archive holds %d callgrind profile(s) and no results file; this server reads the results files runners write (run codspeed-go's runner in simulation mode for figures)", len(a.Callgrind))
	}
	p, err := h.Store.ProjectByID(ctx, pending.ProjectID)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	np := &store.NewPart{
		ProjectID: pending.ProjectID,
		CIRunID:   ciRunID(md), PartID: partID(md),
		ProfileMD5: md.ProfileMd5, Mode: md.Mode(), Executor: md.Runner.Executor,
		RunnerName: md.Runner.Name, RunnerVersion: md.Runner.Version,
		Metadata: pending.Metadata, ArchiveBytes: size,
		Commit: strings.ToLower(md.CommitHash), Branch: md.Branch(), Ref: md.Ref, Event: md.Event,
		PullRequest: md.PullRequest(), RunEnvironment: md.RunEnvironment, RepositoryProvider: md.RepositoryProvider,
		Sender: md.SenderLogin(), Files: a.Files, Artifacts: a.Artifacts,
	}
	if md.RunPart != nil {
		np.JobName = md.RunPart.JobName
	}
	if md.HeadRef != nil {
		np.HeadRef = *md.HeadRef
	}
	if md.BaseRef != nil {
		np.BaseRef = *md.BaseRef
	}
	for _, f := range a.Files {
		if f.Run != nil && !f.Run.StartedAt.IsZero() && (np.StartedAt.IsZero() || f.Run.StartedAt.Before(np.StartedAt)) {
			np.StartedAt = f.Run.StartedAt
		}
	}
	res, err := h.Store.CommitPart(ctx, np)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		h.internal(w, r, err)
		return
	}
	h.Log.Info("run part stored", "project", p.Slug(), "run", res.RunID, "part", np.PartID, "mode", np.Mode,
		"benchmarks", a.Benchmarks(), "bytes", size, "retry", res.Duplicate, "warning", warning)
	writeJSON(w, http.StatusOK, UploadAnswer{Status: "ok", RunID: res.RunID, Warning: warning})
	if !res.Duplicate && h.OnStored != nil {
		h.OnStored(p, res.RunID)
	}
}

// spooledBody is an archive read off the request: in memory, or in a
// temporary file removed on Close.
type spooledBody struct {
	io.Reader
	file *os.File
}

func (b *spooledBody) Close() error {
	if b.file == nil {
		return nil
	}
	b.file.Close()
	return os.Remove(b.file.Name())
}

// spool reads the whole body (at most MaxUploadSize bytes) while computing
// its MD5, so that nothing is parsed before it is known to be the archive
// the metadata announced.
func (h *Handler) spool(w http.ResponseWriter, r *http.Request) (*spooledBody, int64, string, error) {
	body := http.MaxBytesReader(w, r.Body, h.MaxUploadSize)
	hash := md5.New()
	var mem bytes.Buffer
	n, err := io.CopyN(io.MultiWriter(&mem, hash), body, memorySpool)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, "", err
	}
	if n < memorySpool {
		return &spooledBody{Reader: bytes.NewReader(mem.Bytes())}, n, base64.StdEncoding.EncodeToString(hash.Sum(nil)), nil
	}
	f, err := os.CreateTemp(h.TempDir, "codspeed-upload-*")
	if err != nil {
		return nil, 0, "", fmt.Errorf("temporary file: %w", err)
	}
	sb := &spooledBody{file: f}
	if _, err := f.Write(mem.Bytes()); err != nil {
		sb.Close()
		return nil, 0, "", fmt.Errorf("temporary file: %w", err)
	}
	m, err := io.Copy(io.MultiWriter(f, hash), body)
	if err != nil {
		sb.Close()
		return nil, 0, "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		sb.Close()
		return nil, 0, "", fmt.Errorf("temporary file: %w", err)
	}
	sb.Reader = f
	return sb, n + m, base64.StdEncoding.EncodeToString(hash.Sum(nil)), nil
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.Log.Error("upload failed", "method", r.Method, "path", safePath(r), "err", err)
	writeError(w, http.StatusInternalServerError, "internal error storing the upload (see the server log); retry later")
}

// safePath is the request path without the upload secret.
func safePath(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, ArchivePath) {
		return ArchivePath + "..."
	}
	return r.URL.Path
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
