package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
	"github.com/codspeed-go/codspeed-go/results/flamegraph"
	"github.com/codspeed-go/codspeed-go/server/store"
)

type benchRow struct {
	ID, Instrument, Name, URI, Error string
	// Figures are the benchmark's figures as "name: value".
	Figures []string
	Graph   template.HTML
	// GraphError says why a recorded profile could not be drawn.
	GraphError string
}

func (h *Handler) run(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	run, err := h.store.Run(ctx, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	owner, name, err := store.SplitProject(run.Project)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	p, err := h.store.Project(ctx, owner, name)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	bs, err := h.store.Benchmarks(ctx, run.ID)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	rows := make([]benchRow, len(bs))
	graphs := 0
	for i := range bs {
		b := &bs[i]
		row := benchRow{ID: fmt.Sprintf("b%d", i+1), Instrument: b.Instrument, Name: b.Name, URI: b.URI,
			Error: b.Error, Figures: figures(b)}
		if b.Profile != nil && b.Profile.Folded != "" {
			row.Graph, row.GraphError = h.flameGraph(ctx, run.ID, b)
			if row.Graph != "" {
				graphs++
			}
		}
		rows[i] = row
	}
	data := map[string]any{
		"Title": "Run " + run.ID, "Run": run, "Project": p, "ProjectHref": projectPath(p.Slug()), "Href": projectPath(p.Slug()),
		"Benchmarks": rows, "When": when(run.CreatedAt),
		// A few flame graphs are shown open; many stay folded, so the
		// table stays at hand.
		"OpenGraphs": graphs <= 4,
		// The page shows what has not arrived; the API says whether the
		// server's shard timeout has passed.
		"Shards": store.Shards(run, time.Duration(math.MaxInt64), time.Now()),
	}
	if run.Pair != nil {
		// The other side may not have been uploaded (yet), or may not
		// name this run back.
		_, err := h.store.PairOf(ctx, run)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		other, base, head := store.PairBase, run.Pair.Run, run.ID
		if run.Pair.Role == store.PairBase {
			other, base, head = store.PairHead, run.ID, run.Pair.Run
		}
		data["PairOther"], data["PairHref"], data["PairArrived"] = other, runPath(run.Pair.Run), err == nil
		if err == nil {
			data["CompareHref"], data["CompareBase"] = comparePath(p.Slug(), base, head), "the "+other+" of its A/B pair"
		}
	} else if base, head := compareSides(p, run); base != "" {
		data["CompareHref"], data["CompareBase"] = comparePath(p.Slug(), base, head), base
	}
	h.render(w, r, "run", data)
}

// figures lists a benchmark's figures for the run page.
func figures(b *store.Benchmark) []string {
	var out []string
	add := func(name, v string) { out = append(out, name+": "+v) }
	if s := b.Stats; s != nil && s.Rounds > 0 {
		add("median", results.FormatNs(s.MedianNs))
		add("interquartile range", results.FormatNs(s.Q1Ns)+" – "+results.FormatNs(s.Q3Ns))
		add("fastest round", results.FormatNs(s.MinNs))
		add("rounds", fmt.Sprint(s.Rounds))
	}
	if s := b.Simulation; s != nil {
		add("estimated time", results.FormatNs(s.TimeNs))
		add("instructions", results.FormatCount(s.Instructions))
		add("L1 misses", results.FormatCount(s.L1Misses))
		add("LL misses", results.FormatCount(s.LLMisses))
	}
	if m := b.Memory; m != nil {
		add("peak memory", results.FormatBytes(m.PeakBytes))
		add("total allocated", results.FormatBytes(m.TotalAllocatedBytes))
		add("alloc calls", results.FormatCount(m.AllocCalls))
		add("free calls", results.FormatCount(m.FreeCalls))
	}
	if p := b.Paired; p != nil && p.BaseRun != "" {
		add("against the A/B base", p.Note())
	}
	return out
}

// flameGraph draws a benchmark's folded stacks, kept by the server with its
// run part.
func (h *Handler) flameGraph(ctx context.Context, runID string, b *store.Benchmark) (template.HTML, string) {
	data, err := h.store.Artifact(ctx, runID, b.PartID, b.Profile.Folded)
	if err != nil {
		return "", fmt.Sprintf("flame graph unavailable: %v", err)
	}
	prof, err := flamegraph.ParseFolded(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Sprintf("flame graph unavailable: %s: %v", b.Profile.Folded, err)
	}
	var buf bytes.Buffer
	err = flamegraph.WriteSVG(&buf, prof, flamegraph.Options{Title: "Flame graph: " + b.Name, Unit: b.Profile.Event})
	if err != nil {
		return "", fmt.Sprintf("flame graph unavailable: %v", err)
	}
	// The writer escapes every name: trusted markup. The XML declaration
	// has no place inside an HTML page.
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:]
	}
	return template.HTML(s), ""
}

// compare serves /projects/OWNER/NAME/compare?base=REF&head=REF: the HTML
// report of `codspeed compare --format html`, with the server's runs as
// sides. REF is a run id, a branch (its newest run) or a commit.
func (h *Handler) compare(w http.ResponseWriter, r *http.Request, p *store.Project) {
	ctx := r.Context()
	q := r.URL.Query()
	baseRef, headRef := strings.TrimSpace(q.Get("base")), strings.TrimSpace(q.Get("head"))
	if baseRef == "" || headRef == "" {
		runs, err := h.store.Runs(ctx, p, store.RunFilter{Limit: 50})
		if err != nil {
			h.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		h.render(w, r, "compare-form", map[string]any{"Title": "Compare " + p.Slug(), "Project": p,
			"Href": projectPath(p.Slug()), "Base": baseRef, "Head": headRef, "Runs": runRows(p, runs),
			"Branches": branchesOf(runs, p.DefaultBranch)})
		return
	}
	base, err := h.store.ResolveRef(ctx, p, baseRef)
	if err != nil {
		h.fail(w, r, http.StatusNotFound, fmt.Errorf("base: %w", err))
		return
	}
	head, err := h.store.ResolveRef(ctx, p, headRef)
	if err != nil {
		h.fail(w, r, http.StatusNotFound, fmt.Errorf("head: %w", err))
		return
	}
	// results.RenderHTML reads folded stacks from files: the stored ones are
	// written to a folder that lives as long as the request.
	dir, err := os.MkdirTemp("", "codspeed-compare-")
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	defer os.RemoveAll(dir)
	bs, err := h.side(ctx, base, baseRef, filepath.Join(dir, "base"))
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	hs, err := h.side(ctx, head, headRef, filepath.Join(dir, "head"))
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	opts, err := h.store.CompareOptions(ctx, p)
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	c := compare.Compare(bs, hs, opts)
	var buf bytes.Buffer
	if err := results.RenderHTML(&buf, c); err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	page := buf.String()
	// The report is a whole document; the server adds its navigation.
	var nav bytes.Buffer
	if err := pages.ExecuteTemplate(&nav, "compare-nav", map[string]any{
		"Project": p, "Href": projectPath(p.Slug()), "Base": baseRef, "Head": headRef,
		"BaseHref": runPath(base.ID), "HeadHref": runPath(head.ID), "BaseID": base.ID, "HeadID": head.ID,
	}); err != nil {
		h.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	page = strings.Replace(page, "<head>\n", "<head>\n<link rel=\"icon\" href=\"data:,\">\n", 1)
	page = strings.Replace(page, "<body>\n", "<body>\n"+nav.String(), 1)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Write([]byte(page))
}

// side is one side of a comparison: a part per run part and instrument,
// with the folded stacks its benchmarks recorded written under dir/<part>.
func (h *Handler) side(ctx context.Context, run *store.Run, label, dir string) (*compare.Side, error) {
	bs, err := h.store.Benchmarks(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	side := &compare.Side{Ref: results.RunRef{Label: label, RunID: run.ID,
		Git: results.GitInfo{Commit: run.Commit, Ref: run.Branch}, Source: runPath(run.ID)}}
	type key struct{ part, instrument string }
	files := map[key]int{}
	partDirs := map[string]string{}
	for i := range bs {
		b := &bs[i]
		pd, ok := partDirs[b.PartID]
		if !ok {
			pd = filepath.Join(dir, fmt.Sprintf("p%d", len(partDirs)))
			partDirs[b.PartID] = pd
		}
		bench := b.Benchmark
		if bench.Profile != nil && bench.Profile.Folded != "" && !localPath(bench.Profile.Folded) {
			// results/compare would join the path to the profile folder
			// and RenderHTML open it: a path from an upload that leaves
			// the folder must never reach them.
			prof := *bench.Profile
			prof.Folded = ""
			bench.Profile = &prof
		}
		if bench.Profile != nil && bench.Profile.Folded != "" {
			if err := h.writeArtifact(ctx, run.ID, b.PartID, bench.Profile.Folded, pd); err != nil {
				// The report names a profile it cannot read in the
				// benchmark's section; a missing one must not stop it.
				h.log.Warn("compare: folded stacks unavailable", "run", run.ID, "path", b.Profile.Folded, "err", err)
			}
		}
		k := key{b.PartID, b.Instrument}
		j, ok := files[k]
		if !ok {
			j = len(side.Parts)
			files[k] = j
			side.Parts = append(side.Parts, compare.Part{
				File:          &results.File{Instrument: results.Instrument{Type: b.Instrument}},
				Path:          runPath(run.ID),
				ProfileFolder: pd,
			})
		}
		side.Parts[j].File.Benchmarks = append(side.Parts[j].File.Benchmarks, bench)
	}
	return side, nil
}

// writeArtifact copies a stored file to folder/path. path comes from an
// upload: one that would leave the folder is refused.
func (h *Handler) writeArtifact(ctx context.Context, runID, partID, path, folder string) error {
	if !localPath(path) {
		return fmt.Errorf("profile path %q leaves the profile folder", path)
	}
	data, err := h.store.Artifact(ctx, runID, partID, path)
	if err != nil {
		return err
	}
	dst := filepath.Join(folder, path)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// localPath reports whether a path from an upload stays inside the folder it
// is relative to: not absolute, no "..", no empty or reserved name.
func localPath(path string) bool {
	return path != "" && !filepath.IsAbs(path) && filepath.IsLocal(path)
}
