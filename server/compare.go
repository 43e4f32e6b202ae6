package server

import (
	"context"
	"fmt"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// RefError is a side of a comparison that names no run.
type RefError struct {
	Side string // "base" or "head"
	Err  error
}

func (e *RefError) Error() string { return e.Side + ": " + e.Err.Error() }
func (e *RefError) Unwrap() error { return e.Err }

// Compare resolves two REFs of a project (a run id, a branch: its newest
// run, or a commit) and compares them with results/compare, the verdict
// engine of `codspeed compare`, with the project's thresholds
// (Store.CompareOptions). Folded-stack
// paths in the result (BaseFolded, HeadFolded) are relative to their
// part's profile folder: read them with Store.Artifact(run, part, path).
func (s *Server) Compare(ctx context.Context, p *store.Project, baseRef, headRef string) (*results.Comparison, error) {
	base, err := s.store.ResolveRef(ctx, p, baseRef)
	if err != nil {
		return nil, &RefError{Side: "base", Err: err}
	}
	head, err := s.store.ResolveRef(ctx, p, headRef)
	if err != nil {
		return nil, &RefError{Side: "head", Err: err}
	}
	bs, err := s.Side(ctx, base, baseRef)
	if err != nil {
		return nil, err
	}
	hs, err := s.Side(ctx, head, headRef)
	if err != nil {
		return nil, err
	}
	opts, err := s.store.CompareOptions(ctx, p)
	if err != nil {
		return nil, err
	}
	return compare.Compare(bs, hs, opts), nil
}

// Side turns a stored run into one side of a comparison: one part per run
// part and instrument, labelled as the user named it.
func (s *Server) Side(ctx context.Context, r *store.Run, label string) (*compare.Side, error) {
	bs, err := s.store.Benchmarks(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return SideOf(r, bs, label), nil
}

// SideOf builds a comparison side from a run and its benchmarks (as the
// API's /api/v1/runs/{id} gives them). Source is the run's API path.
func SideOf(r *store.Run, bs []store.Benchmark, label string) *compare.Side {
	side := &compare.Side{Ref: results.RunRef{
		Label:  label,
		RunID:  r.ID,
		Git:    results.GitInfo{Commit: r.Commit, Ref: r.Branch},
		Source: "/api/v1/runs/" + r.ID,
	}}
	type key struct{ part, instrument string }
	files := map[key]*results.File{}
	for _, b := range bs {
		k := key{b.PartID, b.Instrument}
		f := files[k]
		if f == nil {
			f = &results.File{Instrument: results.Instrument{Type: b.Instrument}}
			files[k] = f
			side.Parts = append(side.Parts, compare.Part{File: f, Path: fmt.Sprintf("/api/v1/runs/%s#%s", r.ID, b.PartID)})
		}
		f.Benchmarks = append(f.Benchmarks, b.Benchmark)
	}
	return side
}
