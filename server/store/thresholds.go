package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/compare"
)

// Threshold settings of a project (`codspeed serve config OWNER/NAME KEY
// VALUE`), the server's counterpart of codspeed.yml's top-level
// `thresholds:` section: a percentage ("5%") or a fraction ("0.05").
const (
	SettingThresholdRegression  = "thresholds.regression"
	SettingThresholdImprovement = "thresholds.improvement"
	SettingThresholdWalltime    = "thresholds.walltime"
	SettingThresholdSimulation  = "thresholds.simulation"
	SettingThresholdMemory      = "thresholds.memory"
)

// ThresholdSettings lists the threshold settings.
var ThresholdSettings = []string{SettingThresholdRegression, SettingThresholdImprovement,
	SettingThresholdWalltime, SettingThresholdSimulation, SettingThresholdMemory}

// ParseThreshold reads a threshold setting: "5%" or "0.05" is 0.05; it must
// be in [0, 10] (1000%).
func ParseThreshold(v string) (float64, error) {
	s := strings.TrimSpace(v)
	scale := 1.0
	if p, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(p), 0.01
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f*scale < 0 || f*scale > 10 || f != f {
		return 0, fmt.Errorf("threshold %q: want a percentage such as 5%% or a fraction such as 0.05, between 0 and 1000%%", v)
	}
	return f * scale, nil
}

// CompareOptions are the options of a comparison in project p: a benchmark
// is judged with the thresholds its head run recorded from the project's
// codspeed.yml (results.Benchmark.Thresholds) when it has them, else with
// the project's settings over the built-in defaults, resolved as `codspeed
// compare` resolves codspeed.yml's (a mode's value wins over regression;
// improvement defaults to the regression threshold). The API, the pages and
// the merge-request comments all judge with them.
func (s *Store) CompareOptions(ctx context.Context, p *Project) (compare.Options, error) {
	vals := map[string]*float64{}
	for _, k := range ThresholdSettings {
		v, err := s.Setting(ctx, p, k)
		if err != nil {
			return compare.Options{}, err
		}
		if v == "" {
			continue
		}
		f, err := ParseThreshold(v)
		if err != nil {
			return compare.Options{}, fmt.Errorf("project %s, setting %s: %w", p.Slug(), k, err)
		}
		vals[k] = &f
	}
	mode := map[string]string{results.Walltime: SettingThresholdWalltime, results.Simulation: SettingThresholdSimulation, results.Memory: SettingThresholdMemory}
	return compare.Options{Limits: func(instrument string, b *results.Benchmark) compare.Limits {
		// The thresholds the head run recorded from its codspeed.yml win:
		// they are what `codspeed compare` uses in that commit.
		if b != nil && b.Thresholds != nil {
			return compare.Limits{Regression: b.Thresholds.Regression, Improvement: b.Thresholds.Improvement}
		}
		lim := compare.DefaultLimits(instrument)
		switch m, r := vals[mode[instrument]], vals[SettingThresholdRegression]; {
		case m != nil:
			lim.Regression, lim.Improvement = *m, *m
		case r != nil:
			lim.Regression, lim.Improvement = *r, *r
		}
		if i := vals[SettingThresholdImprovement]; i != nil {
			lim.Improvement = *i
		}
		return lim
	}}, nil
}
