package results

import (
	"encoding/json"
	"io"
)

// RenderComparisonJSON writes c as indented JSON, with two fields added at
// the top for scripts: "regressed" (what the exit code says) and "counts"
// (benchmarks per verdict). Changes that cannot be computed are null.
func RenderComparisonJSON(w io.Writer, c *Comparison) error {
	counts := map[Verdict]int{}
	for _, b := range c.Benchmarks {
		if b.Verdict != "" {
			counts[b.Verdict]++
		}
	}
	out := struct {
		Regressed bool            `json:"regressed"`
		Counts    map[Verdict]int `json:"counts"`
		*Comparison
	}{c.Base != nil && c.Regressed(), counts, c}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
