package compare

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/codspeed-go/codspeed-go/results"
)

// FuzzResultsFile feeds arbitrary bytes as two results files (base and head)
// through everything that reads one: results.ParseResults, Compare (every
// instrument's judge), and the table, Markdown and HTML renderers. Bad input
// must give an error, never a panic or a hang.
func FuzzResultsFile(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil && len(data) < 8<<10 {
			f.Add(data, data)
		}
	}
	f.Add([]byte(`{"instrument":{"type":"walltime"},"benchmarks":[{"name":"a","uri":"u","stats":{"median_ns":1,"rounds":1},"samples_ns":[1,2]}]}`),
		[]byte(`{"instrument":{"type":"walltime"},"benchmarks":[{"name":"a","uri":"u","stats":{"median_ns":2,"rounds":2},"samples_ns":[3,1e308,-1],"profile":{"folded":"/dev/zero"}}]}`))
	f.Add([]byte(`{"instrument":{"type":"simulation"},"benchmarks":[{"name":"a","simulation":{"instructions":0}}]}`),
		[]byte(`{"instrument":{"type":"memory"},"benchmarks":[{"name":"a","memory":{"peak_bytes":-3}},{"error":"x"}]}`))
	// The profile folder holds nothing: artifact paths lead nowhere.
	pf := f.TempDir()
	f.Fuzz(func(t *testing.T, base, head []byte) {
		side := func(name string, data []byte) *Side {
			file, err := results.ParseResults(data, name)
			if err != nil {
				return nil
			}
			_ = results.RenderTable(io.Discard, file.Instrument.Type, file.Benchmarks)
			return &Side{Ref: results.RunRef{Label: name}, Parts: []Part{{File: file, Path: name, ProfileFolder: pf}}}
		}
		b, h := side("base.json", base), side("head.json", head)
		if h == nil {
			return
		}
		c := Compare(b, h, Options{})
		Sort(c)
		_ = results.RenderMarkdown(io.Discard, c)
		_ = results.RenderHTML(io.Discard, c)
	})
}
