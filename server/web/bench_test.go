package web

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/server/changes"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// historyRuns is the size of the history of BENCHMARKS.md's goal: a
// 10,000-point history page in under 200 ms.
const historyRuns = 10000

var (
	benchOnce  sync.Once
	benchStore *store.Store
	benchProj  *store.Project
	benchErr   error
)

// benchHistory stores 10,000 runs of main, each with one walltime benchmark
// (30 rounds, real statistics), through the store's write API into SQLite,
// once per test binary. The level steps up by 20% at run 6,000.
func benchHistory(b *testing.B) (*store.Store, *store.Project) {
	benchOnce.Do(func() {
		ctx := context.Background()
		dir, err := makeTempDir()
		if err != nil {
			benchErr = err
			return
		}
		st, err := store.Open(ctx, "", dir)
		if err != nil {
			benchErr = err
			return
		}
		p, err := st.EnsureProject(ctx, "acme", "widgets")
		if err != nil {
			benchErr = err
			return
		}
		for i := range historyRuns {
			center := 1000.0
			if i >= 6000 {
				center = 1200
			}
			samples := make([]float64, 30)
			for j := range samples {
				// A deterministic wiggle of ±3%, different per run.
				samples[j] = center * (1 + 0.03*math.Sin(float64(i*31+j*7)))
			}
			f := walltimeFile(map[string][]float64{"BenchmarkParse": samples}, "BenchmarkParse")
			_, err := st.CommitPart(ctx, &store.NewPart{
				ProjectID: p.ID, CIRunID: fmt.Sprintf("ci-%d", i), PartID: "walltime", ProfileMD5: fmt.Sprint(i),
				Mode: results.Walltime, Metadata: []byte("{}"), Commit: fmt.Sprintf("%040x", i+1), Branch: "main",
				Ref: "refs/heads/main", Event: "push", Files: []*results.File{f},
			})
			if err != nil {
				benchErr = err
				return
			}
		}
		benchStore, benchProj = st, p
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore, benchProj
}

// BenchmarkProjectPage10k is GET /projects/acme/widgets over a 10,000-run
// history: the store's read, change detection and the SVG chart, as served.
func BenchmarkProjectPage10k(b *testing.B) {
	st, _ := benchHistory(b)
	h := New(st, nil)
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/projects/acme/widgets", nil))
		if rec.Code != 200 {
			b.Fatalf("%d: %s", rec.Code, rec.Body)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkHistoryRead10k is the peer: the store's read of the same
// history alone (what the JSON history API serves).
func BenchmarkHistoryRead10k(b *testing.B) {
	st, p := benchHistory(b)
	for b.Loop() {
		hist, err := st.History(context.Background(), p, "main", store.HistoryFilter{})
		if err != nil || len(hist) != 1 || len(hist[0].Points) != historyRuns {
			b.Fatalf("%v", err)
		}
	}
}

// BenchmarkChart10k draws the chart alone, and BenchmarkDetect10k runs the
// change detection alone, on the same 10,000 points.
func BenchmarkChart10k(b *testing.B) {
	st, p := benchHistory(b)
	hist, err := st.History(context.Background(), p, "main", store.HistoryFilter{})
	if err != nil {
		b.Fatal(err)
	}
	var svg string
	for b.Loop() {
		charts, _ := analyze(hist[0])
		svg = charts[0].SVG
	}
	if n := strings.Count(svg, `class="pt"`); n != historyRuns {
		b.Fatalf("%d points", n)
	}
}

func BenchmarkDetect10k(b *testing.B) {
	st, p := benchHistory(b)
	hist, err := st.History(context.Background(), p, "main", store.HistoryFilter{})
	if err != nil {
		b.Fatal(err)
	}
	vs := values(hist[0].Points, func(p *store.Point) *float64 { return p.MinNs })
	for b.Loop() {
		cs := changes.Detect(vs, changes.Options{MinMagnitude: 0.05})
		if len(cs) != 1 || cs[0].Index != 6000 {
			b.Fatalf("changes %+v", cs)
		}
	}
}

var benchDir string

// makeTempDir makes the benchmarks' database folder, shared by every
// benchmark of the binary; TestMain removes it.
func makeTempDir() (string, error) {
	var err error
	benchDir, err = os.MkdirTemp("", "codspeed-web-bench-")
	return benchDir, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchStore != nil {
		benchStore.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
