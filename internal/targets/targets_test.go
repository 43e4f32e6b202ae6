package targets

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/results"
)

func TestParseModes(t *testing.T) {
	got, err := ParseModes([]string{"walltime", " Instrumentation", "walltime", "memory", ""})
	if err != nil || fmt.Sprint(got) != "[walltime simulation memory]" {
		t.Fatalf("ParseModes: %v %v", got, err)
	}
	for _, bad := range [][]string{{"perf"}, {}, {""}} {
		if _, err := ParseModes(bad); err == nil {
			t.Errorf("ParseModes(%q) accepted", bad)
		}
	}
}

// TestOver: a bound on the command line replaces the config's bound it may
// not be combined with; other options merge, the command line winning.
func TestOver(t *testing.T) {
	d := func(s time.Duration) *time.Duration { return &s }
	n := func(v int64) *int64 { return &v }
	cfg := config.Options{MinTime: d(time.Second), MaxTime: d(5 * time.Second), CPUs: "2"}
	o := Over(config.Options{MaxRounds: n(3)}, cfg)
	if o.MinTime != nil || o.MaxRounds == nil || *o.MaxRounds != 3 || *o.MaxTime != 5*time.Second || o.CPUs != "2" {
		t.Fatalf("Over: %+v", o)
	}
	if o := Over(config.Options{CPUs: "1"}, cfg); o.CPUs != "1" || *o.MinTime != time.Second {
		t.Fatalf("Over: %+v", o)
	}
}

// TestFromStdin: `codspeed exec -` input, JSON with options or one command
// per line (comments and blank lines skipped).
func TestFromStdin(t *testing.T) {
	dir := t.TempDir()
	ts, err := FromStdin(strings.NewReader(`[{"command": "sleep 0.1", "name": "nap", "options": {"max-rounds": 4}}, {"command": "true"}]`), nil, config.Options{}, dir)
	if err != nil || len(ts) != 2 || ts[0].Name != "nap" || *ts[0].Options.MaxRounds != 4 || ts[1].Name != "true" || ts[1].Kind != instruments.Exec || ts[1].Dir != dir {
		t.Fatalf("JSON: %+v %v", ts, err)
	}
	ts, err = FromStdin(strings.NewReader("# a comment\n\ntrue\nsleep 0\n"), nil, config.Options{}, dir)
	if err != nil || len(ts) != 2 || ts[1].Command != "sleep 0" || fmt.Sprint(ts[1].Args) != "[sleep 0]" {
		t.Fatalf("lines: %+v %v", ts, err)
	}
	for _, bad := range []string{`[{"name": "x"}]`, `[{"command": "true", "options": {"nope": 1}}]`, `[{`} {
		if _, err := FromStdin(strings.NewReader(bad), nil, config.Options{}, dir); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestLimits: a target's thresholds over the root's over the top-level
// section over the defaults; a mode's value over regression.
func TestLimits(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cfg := &config.Config{
		Thresholds: &config.Thresholds{Regression: f(0.10)},
		Targets:    []config.Target{{Name: "hot", Options: config.Options{Thresholds: &config.Thresholds{Walltime: f(0.01)}}}},
	}
	lim := Limits(cfg)
	if l := lim(results.Walltime, &results.Benchmark{Name: "hot", URI: "exec_harness::hot"}); l.Regression != 0.01 || l.Improvement != 0.01 {
		t.Errorf("target's walltime threshold: %+v", l)
	}
	if l := lim(results.Walltime, &results.Benchmark{Name: "cold"}); l.Regression != 0.10 {
		t.Errorf("top-level regression threshold: %+v", l)
	}
	if l := Limits(nil)(results.Simulation, &results.Benchmark{Name: "x"}); l.Regression != 0.02 {
		t.Errorf("default simulation threshold: %+v", l)
	}
}

// TestRecordedThresholds: a benchmark records the thresholds codspeed.yml
// sets for it, and nothing when it sets none (the defaults).
func TestRecordedThresholds(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cfg := &config.Config{Targets: []config.Target{{Name: "hot", Options: config.Options{Thresholds: &config.Thresholds{Walltime: f(0.01)}}}}}
	rec := RecordedThresholds(cfg)
	if th := rec(results.Walltime, &results.Benchmark{Name: "hot"}); th == nil || th.Regression != 0.01 || th.Improvement != 0.01 {
		t.Errorf("hot: %+v", th)
	}
	if th := rec(results.Walltime, &results.Benchmark{Name: "cold"}); th != nil {
		t.Errorf("cold: %+v, want nil (defaults)", th)
	}
	if RecordedThresholds(nil) != nil {
		t.Error("no config: want no recording")
	}
}
