package hooks

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
)

// Attach starts a server in dir serving in the background, for the length of
// one benchmark command. The returned stop ends the server (draining what the
// integration already sent), closes it and returns the session; env is what
// to add to the benchmark's environment. The caller must call stop.
func Attach(ctx context.Context, dir string, h Handler, opts ...Option) (stop func() Session, env []string, err error) {
	srv, err := NewServerContext(ctx, dir, h, opts...)
	if err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(sctx)
	}()
	stop = func() Session {
		cancel()
		<-done
		s := srv.Session()
		srv.Close()
		return s
	}
	return stop, srv.Env(), nil
}

// sessionRecord is how a session is kept in the profile folder.
type sessionRecord struct {
	ProtocolVersion uint64       `json:"protocol_version"`
	Integration     *Integration `json:"integration,omitempty"`
	Benchmarks      []Benchmark  `json:"benchmarks"`
	Unclaimed       []Interval   `json:"unclaimed,omitempty"`
	// Markers are all markers in arrival order; each benchmark lists its
	// own, and UnmatchedMarkers those inside no measured region.
	Markers          []MarkerEvent `json:"markers,omitempty"`
	UnmatchedMarkers []MarkerEvent `json:"unmatched_markers,omitempty"`
	Errors           []string      `json:"errors,omitempty"`
	Warnings         []string      `json:"warnings,omitempty"`
}

// WriteSession keeps s as JSON at path, so the measured regions and the
// integration that reported them stay with the results.
func WriteSession(path string, s Session) error {
	rec := sessionRecord{ProtocolVersion: s.ProtocolVersion, Integration: s.Integration,
		Benchmarks: s.Benchmarks, Unclaimed: s.Unclaimed,
		Markers: s.Markers, UnmatchedMarkers: s.UnmatchedMarkers, Warnings: s.Warnings}
	if rec.Benchmarks == nil {
		rec.Benchmarks = []Benchmark{}
	}
	for _, e := range s.Errors {
		rec.Errors = append(rec.Errors, e.Error())
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o666)
}
