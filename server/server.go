// Package server is `codspeed serve`: a self-hosted results server. It takes
// uploads in the CodSpeed upload protocol (server/ingest), keeps them in a
// database (server/store: SQLite or PostgreSQL), and answers a JSON API
// (runs, benchmarks, comparisons with the same verdicts as `codspeed
// compare`, through results/compare). The web pages are another handler,
// mounted with the Pages field; change detection and merge-request
// comments plug in with HandleProject and OnRun.
//
// server imports results/ and below, never internal/ or cmd/.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codspeed-go/codspeed-go/server/ingest"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// DefaultMaxUploadSize bounds an uploaded archive (--max-upload-size).
const DefaultMaxUploadSize = 256 << 20

// Config is what New needs.
type Config struct {
	Store *store.Store
	// Private requires a token (of any project on this server) for every
	// read: the API, the pages. /healthz stays open.
	Private bool
	// MaxUploadSize bounds an archive in bytes (0 means
	// DefaultMaxUploadSize); larger ones get 413.
	MaxUploadSize int64
	// PublicURL is the server's base URL as clients reach it, used in the
	// upload URLs it hands out; empty means http://<Host header>.
	PublicURL string
	// Log receives one line per upload and per failed request; nil
	// discards. Tokens never reach it.
	Log *slog.Logger
	// ShardTimeout is how long a sharded run's hooks (the MR comment) wait
	// for its missing parts (0 means DefaultShardTimeout).
	ShardTimeout time.Duration
}

// Server is the results server's HTTP handler.
type Server struct {
	cfg    Config
	store  *store.Store
	log    *slog.Logger
	mux    *http.ServeMux
	ingest *ingest.Handler

	// Pages serves every GET that is not the API (the web pages); nil
	// answers 404. Set it before serving. It runs behind the same
	// --private check as the API.
	Pages http.Handler

	mu             sync.RWMutex
	projectActions map[string]ProjectHandler
	runHooks       []RunHook

	draining atomic.Bool
	hooks    sync.WaitGroup
}

// ProjectHandler answers GET /api/v1/projects/OWNER/NAME/ACTION for the
// project it names (found, and access checked, by the server).
type ProjectHandler func(w http.ResponseWriter, r *http.Request, p *store.Project)

// RunHook is called after a run part was stored (not for a retried part
// already stored), with the run as it now is. Hooks run after the upload
// was answered, one goroutine per stored part; Shutdown waits for them.
type RunHook func(ctx context.Context, p *store.Project, r *store.Run)

// New makes a server on cfg.Store.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	if cfg.MaxUploadSize <= 0 {
		cfg.MaxUploadSize = DefaultMaxUploadSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Log, projectActions: map[string]ProjectHandler{}}
	s.ingest = &ingest.Handler{
		Store:         cfg.Store,
		MaxUploadSize: cfg.MaxUploadSize,
		PublicURL:     cfg.PublicURL,
		Log:           cfg.Log,
		OnStored:      s.runStored,
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("POST /upload", s.ingest)
	s.mux.Handle("PUT "+ingest.ArchivePath+"{secret}", s.ingest)
	s.mux.HandleFunc("GET /api/v1/projects", s.read(s.apiProjects))
	s.mux.HandleFunc("GET /api/v1/projects/{path...}", s.read(s.apiProject))
	s.mux.HandleFunc("GET /api/v1/runs/{id}", s.read(s.apiRun))
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no API endpoint %s %s", r.Method, r.URL.Path))
	})
	// Method-less, so that it neither conflicts with "/api/" nor hides
	// the 405 of a wrong method on a known path.
	s.mux.HandleFunc("/", s.read(s.pages))
	s.HandleProject("runs", s.apiRuns)
	s.HandleProject("run", s.apiResolve)
	s.HandleProject("compare", s.apiCompare)
	s.HandleProject("history", s.apiHistory)
	return s, nil
}

// Store is the server's database, for the pages and plug-ins.
func (s *Server) Store() *store.Store { return s.store }

// HandleProject registers GET /api/v1/projects/OWNER/NAME/ACTION (ACTION
// has no slash). The built-in actions are runs, run, compare and history.
func (s *Server) HandleProject(action string, h ProjectHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projectActions[action] = h
}

// OnRun adds a hook called after each stored run part.
func (s *Server) OnRun(h RunHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runHooks = append(s.runHooks, h)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Drain makes /healthz answer 503 (so a load balancer stops sending) while
// http.Server.Shutdown finishes the requests in flight.
func (s *Server) Drain() { s.draining.Store(true) }

// WaitHooks waits for running hooks, up to ctx's deadline.
func (s *Server) WaitHooks(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.hooks.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for run hooks: %w", ctx.Err())
	}
}

func (s *Server) runStored(p *store.Project, runID string) {
	s.mu.RLock()
	hooks := append([]RunHook(nil), s.runHooks...)
	s.mu.RUnlock()
	if len(hooks) == 0 {
		return
	}
	s.hooks.Add(1)
	go func() {
		defer s.hooks.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, err := s.store.Run(ctx, runID)
		if err != nil {
			s.log.Error("run hook", "run", runID, "err", err)
			return
		}
		if !s.shardGate(ctx, r) {
			return
		}
		for _, h := range hooks {
			h(ctx, p, r)
		}
	}()
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if err := s.store.Ping(r.Context()); err != nil {
		s.log.Error("health check", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

// read wraps a reading handler with the --private check: a token of any
// project, as the Authorization header (raw or "Bearer T") or as the
// password of HTTP basic authentication (what a browser prompts for).
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Private {
			token := RequestToken(r)
			if token == "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="codspeed", charset="UTF-8"`)
				writeError(w, http.StatusUnauthorized, "this server is private: send a token (Authorization header, or as the password of basic authentication)")
				return
			}
			if _, err := s.store.Authenticate(r.Context(), token); err != nil {
				if !errors.Is(err, store.ErrBadToken) {
					s.log.Error("check token", "err", err)
					writeError(w, http.StatusInternalServerError, "cannot check the token")
					return
				}
				w.Header().Set("WWW-Authenticate", `Basic realm="codspeed", charset="UTF-8"`)
				writeError(w, http.StatusUnauthorized, "invalid token")
				return
			}
		}
		h(w, r)
	}
}

// RequestToken is the token a request carries: the Authorization header
// (raw, as CodSpeed's upload clients send it, or "Bearer T"), or the
// password of basic authentication.
func RequestToken(r *http.Request) string { return ingest.RequestToken(r) }

func (s *Server) pages(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: the pages only answer GET", r.Method, r.URL.Path))
		return
	}
	if s.Pages == nil {
		writeError(w, http.StatusNotFound, "no such page")
		return
	}
	s.Pages.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// storeError answers a store error: 404 for ErrNotFound, 500 otherwise
// (logged, not shown).
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error (see the server log)")
}
