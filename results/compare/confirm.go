package compare

import (
	"context"
	"fmt"

	"github.com/codspeed-go/codspeed-go/results"
)

// Flagged returns the benchmarks that make c fail because they regressed:
// what Confirm re-measures. Failed benchmarks are not flagged: re-running a
// crash does not make it pass.
func Flagged(c *results.Comparison) []results.BenchmarkChange {
	var out []results.BenchmarkChange
	for _, b := range c.Benchmarks {
		if b.Verdict == results.VerdictRegressed {
			out = append(out, b)
		}
	}
	return out
}

// Remeasure measures the given benchmarks again, under the same instrument
// and options as the head, and returns the fresh results files. The caller
// provides it (the CLI re-runs the benchmarks' targets); benchmarks it cannot
// re-measure are simply absent from what it returns.
type Remeasure func(ctx context.Context, flagged []results.BenchmarkChange) ([]*results.File, error)

// Confirm re-measures each regressed benchmark up to times times and keeps
// the regression only when every re-measurement also regresses against the
// base: one noisy head is not enough to fail. A benchmark that passes once is
// replaced by the judgement of that re-measurement, with a note that tells
// what the first measurement said. Benchmarks that could not be re-measured
// keep their verdict, with a note. It returns the error of remeasure.
func Confirm(ctx context.Context, c *results.Comparison, times int, remeasure Remeasure, o Options) error {
	if c.Base == nil {
		return nil
	}
	confirmed := map[int]int{} // index in c.Benchmarks -> confirmations
	for attempt := 1; attempt <= times; attempt++ {
		var idx []int
		var flagged []results.BenchmarkChange
		for i, b := range c.Benchmarks {
			if b.Verdict == results.VerdictRegressed && confirmed[i] == attempt-1 {
				idx = append(idx, i)
				flagged = append(flagged, b)
			}
		}
		if len(flagged) == 0 {
			break
		}
		files, err := remeasure(ctx, flagged)
		if err != nil {
			return fmt.Errorf("re-measure (attempt %d of %d): %w", attempt, times, err)
		}
		fresh := map[key]*results.Benchmark{}
		for _, f := range files {
			for j := range f.Benchmarks {
				b := &f.Benchmarks[j]
				fresh[benchKey(f.Instrument.Type, b)] = b
			}
		}
		for _, i := range idx {
			old := c.Benchmarks[i]
			h, ok := fresh[benchKey(old.Instrument, &results.Benchmark{URI: old.URI, Name: old.Name})]
			if !ok {
				c.Benchmarks[i].Notes = append(c.Benchmarks[i].Notes, "could not be re-measured to confirm the regression")
				continue
			}
			if h.Error != "" {
				c.Benchmarks[i].Notes = append(c.Benchmarks[i].Notes, "re-measuring failed: "+h.Error)
				continue
			}
			nb := Judge(old.Instrument, old.BaseBenchmark, h, o)
			if nb.Verdict == results.VerdictRegressed {
				confirmed[i] = attempt
				c.Benchmarks[i].Notes = appendConfirm(c.Benchmarks[i].Notes, attempt, times, nb)
				continue
			}
			nb.BaseFolded, nb.HeadFolded, nb.ProfileUnit = old.BaseFolded, old.HeadFolded, old.ProfileUnit
			nb.Notes = append([]string{fmt.Sprintf("regression not confirmed: first measured %s (regressed), re-measurement %d gave %s (%s)",
				results.FormatChange(old.Change), attempt, results.FormatChange(nb.Change), nb.Verdict)}, nb.Notes...)
			c.Benchmarks[i] = nb
		}
	}
	Sort(c)
	return nil
}

func appendConfirm(notes []string, attempt, times int, nb results.BenchmarkChange) []string {
	return append(notes, fmt.Sprintf("confirmed by re-measurement %d of %d: %s", attempt, times, results.FormatChange(nb.Change)))
}
