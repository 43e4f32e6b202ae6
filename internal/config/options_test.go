package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestMerge(t *testing.T) {
	root := Options{
		WorkingDirectory: "/root-wd",
		WarmupTime:       ptr(time.Second),
		MaxTime:          ptr(3 * time.Second),
		MaxRounds:        ptr(int64(100)),
		CPUs:             "1",
		MemoryLimit:      ptr(int64(1 << 30)),
		Env:              map[string]string{"A": "root", "B": "root"},
	}
	target := Options{
		MaxRounds:  ptr(int64(20)),
		MinRounds:  ptr(int64(5)),
		Env:        map[string]string{"B": "target", "C": "target"},
		Thresholds: &Thresholds{Regression: ptr(0.1)},
	}
	cli := Options{WarmupTime: ptr(200 * time.Millisecond), CPUs: "2-3"}

	got := cli.Merge(target.Merge(root))
	want := Options{
		WorkingDirectory: "/root-wd",
		WarmupTime:       ptr(200 * time.Millisecond),
		MaxTime:          ptr(3 * time.Second),
		MaxRounds:        ptr(int64(20)),
		MinRounds:        ptr(int64(5)),
		CPUs:             "2-3",
		MemoryLimit:      ptr(int64(1 << 30)),
		Env:              map[string]string{"A": "root", "B": "target", "C": "target"},
		Thresholds:       &Thresholds{Regression: ptr(0.1)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge:\ngot  %+v\nwant %+v", got, want)
	}

	// Merge must not write into its inputs' maps.
	got.Env["A"] = "changed"
	if root.Env["A"] != "root" || target.Env["A"] != "" {
		t.Errorf("Merge aliased an input's Env: root %v, target %v", root.Env, target.Env)
	}

	// Unset everywhere stays unset (nil, not an empty map).
	if m := (Options{}).Merge(Options{}); !reflect.DeepEqual(m, Options{}) {
		t.Errorf("empty Merge = %+v", m)
	}
}

func TestMergeThresholds(t *testing.T) {
	o := Options{Thresholds: &Thresholds{Regression: ptr(0.1), Walltime: ptr(0.2)}}
	def := Options{Thresholds: &Thresholds{Regression: ptr(0.05), Improvement: ptr(0.03), Memory: ptr(0.0)}}
	got := o.Merge(def).Thresholds
	want := &Thresholds{Regression: ptr(0.1), Improvement: ptr(0.03), Walltime: ptr(0.2), Memory: ptr(0.0)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Only one side set: a copy, so changing the result leaves the input alone.
	only := Options{}.Merge(def).Thresholds
	only.Regression = ptr(0.9)
	if *def.Thresholds.Regression != 0.05 {
		t.Error("Merge aliased def's Thresholds")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want []string // the joined errors, in order
	}{
		{"empty", Options{}, nil},
		{"time and count limits that agree", Options{
			WarmupTime: ptr(time.Second), MinTime: ptr(time.Second), MaxTime: ptr(3 * time.Second),
			MinRounds: nil, MaxRounds: nil, CPUs: "0-1", MemoryLimit: ptr(int64(1)),
		}, nil},
		{"rounds only", Options{MinRounds: ptr(int64(5)), MaxRounds: ptr(int64(5))}, nil},
		{"min-time with max-rounds", Options{MinTime: ptr(time.Second), MaxRounds: ptr(int64(10))},
			[]string{"min-time and max-rounds cannot be used together: a time floor and a round ceiling can contradict each other (keep one)"}},
		{"max-time with min-rounds", Options{MaxTime: ptr(time.Second), MinRounds: ptr(int64(10))},
			[]string{"max-time and min-rounds cannot be used together: a time ceiling and a round floor can contradict each other (keep one)"}},
		{"min above max", Options{MinRounds: ptr(int64(10)), MaxRounds: ptr(int64(9))},
			[]string{"min-rounds (10) is greater than max-rounds (9)"}},
		{"min-time above max-time", Options{MinTime: ptr(2 * time.Second), MaxTime: ptr(time.Second)},
			[]string{"min-time (2s) is greater than max-time (1s)"}},
		{"negatives", Options{WarmupTime: ptr(-time.Second), MaxRounds: ptr(int64(-1)), MinRounds: ptr(int64(0))},
			[]string{
				"warmup-time: must not be negative, got -1s",
				"max-rounds: must be at least 1, got -1",
				"min-rounds: must be at least 1, got 0",
			}},
		{"cpus", Options{CPUs: "2-1"}, []string{`cpus: invalid CPU list "2-1": range 2-1 runs backwards (expected numbers and ranges like "1-3,5")`}},
		{"memory", Options{MemoryLimit: ptr(int64(0))}, []string{"memory-limit: must be positive, got 0"}},
		{"thresholds", Options{Thresholds: &Thresholds{Regression: ptr(-0.05), Simulation: ptr(0.01)}},
			[]string{"regression: must not be negative, got -5%"}},
	}
	for _, c := range cases {
		err := c.o.Validate()
		var got []string
		if err != nil {
			got = strings.Split(err.Error(), "\n")
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Validate() =\n%q\nwant\n%q", c.name, got, c.want)
		}
		// Plain errors: the CLI shows them as they are, and they are not
		// *Error, which would claim a position in a file.
		var e *Error
		if errors.As(err, &e) {
			t.Errorf("%s: Validate returned an *Error", c.name)
		}
	}
}

func TestValidateCPUs(t *testing.T) {
	good := []string{"0", "1", "1-3", "1-3,5", "0-3,8-11", "5,1", "2-2", " 1 , 2-3 ", "1023"}
	for _, s := range good {
		if err := ValidateCPUs(s); err != nil {
			t.Errorf("ValidateCPUs(%q) = %v", s, err)
		}
	}
	bad := map[string]string{
		"":        "empty CPU list",
		"a":       `"a" is not a CPU number`,
		"-1":      "missing CPU number",
		"1-":      "missing CPU number",
		"1,":      "empty element",
		"3-1":     "runs backwards",
		"1-2-3":   `"2-3" is not a CPU number`,
		"1024":    "above the largest supported CPU",
		"1 2":     `"1 2" is not a CPU number`,
		"+1":      `"+1" is not a CPU number`,
		"0x1":     `"0x1" is not a CPU number`,
		"1-99999": "above the largest supported CPU",
	}
	for s, want := range bad {
		err := ValidateCPUs(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateCPUs(%q) = %v, want an error containing %q", s, err, want)
		}
	}
}
