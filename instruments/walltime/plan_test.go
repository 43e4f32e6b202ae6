package walltime

import (
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
)

func dur(d time.Duration) *time.Duration { return &d }
func count(n int64) *int64               { return &n }

func TestNewPlanDefaults(t *testing.T) {
	p, err := NewPlan(instruments.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Warmup != time.Second || p.MaxTime != 3*time.Second || p.MinTime != 0 || p.MinRounds != 0 || p.MaxRounds != 0 {
		t.Fatalf("defaults = %+v", p)
	}
	// Any explicit bound disables the default max-time.
	p, err = NewPlan(instruments.Options{MaxRounds: count(10)})
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxTime != 0 || p.MaxRounds != 10 {
		t.Fatalf("with max-rounds: %+v", p)
	}
}

func TestNewPlanInvalid(t *testing.T) {
	cases := map[string]instruments.Options{
		"min-time and max-rounds":    {MinTime: dur(time.Second), MaxRounds: count(3)},
		"max-time and min-rounds":    {MaxTime: dur(time.Second), MinRounds: count(3)},
		"is greater than max-time":   {MinTime: dur(2 * time.Second), MaxTime: dur(time.Second)},
		"is greater than max-rounds": {MinRounds: count(5), MaxRounds: count(2)},
		"with no warmup":             {WarmupTime: dur(0), MinTime: nil},
		"negative":                   {MaxTime: dur(-time.Second)},
	}
	for want, o := range cases {
		if want == "with no warmup" {
			// No bounds at all and no warmup: the default max-time applies,
			// so this one is valid (degraded time-only mode).
			if _, err := NewPlan(o); err != nil {
				t.Errorf("warmup 0 with default max-time: %v", err)
			}
			continue
		}
		_, err := NewPlan(o)
		if err == nil {
			t.Errorf("%s: no error", want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q", want, err)
		}
	}
}

// The cases of docs/protocol.md §4, computed by hand: min = (min_time+avg)/avg + 1,
// max = (max_time+avg)/avg, combined with explicit counts, midpoint when both.
func TestPlanRounds(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		o    instruments.Options
		avg  time.Duration
		want int64
	}{
		{"default max-time 3s, 10ms rounds", instruments.Options{}, 10 * ms, 301},                                         // (3000+10)/10
		{"default max-time, 7ms rounds", instruments.Options{}, 7 * ms, 429},                                              // (3000+7)/7 = 429.57
		{"max-time only", instruments.Options{MaxTime: dur(time.Second)}, 100 * ms, 11},                                   // (1000+100)/100
		{"min-time only", instruments.Options{MinTime: dur(time.Second)}, 100 * ms, 12},                                   // (1000+100)/100+1
		{"min and max time", instruments.Options{MinTime: dur(time.Second), MaxTime: dur(2 * time.Second)}, 100 * ms, 16}, // (12+21)/2
		{"max-rounds only", instruments.Options{MaxRounds: count(7)}, 100 * ms, 7},
		{"min-rounds only", instruments.Options{MinRounds: count(40)}, 100 * ms, 40},
		{"min and max rounds", instruments.Options{MinRounds: count(10), MaxRounds: count(20)}, ms, 15},
		{"min-rounds + min-time takes the larger", instruments.Options{MinRounds: count(5), MinTime: dur(time.Second)}, 100 * ms, 12},
		{"max-rounds + max-time takes the smaller", instruments.Options{MaxRounds: count(5), MaxTime: dur(time.Second)}, 100 * ms, 5},
		{"max-rounds + max-time, time smaller", instruments.Options{MaxRounds: count(50), MaxTime: dur(time.Second)}, 100 * ms, 11},
		{"min above max uses max", instruments.Options{MinTime: dur(time.Second), MaxTime: dur(time.Second)}, 300 * ms, 4}, // min 5, max 4
		{"round longer than max-time", instruments.Options{MaxTime: dur(time.Second)}, 5 * time.Second, 1},
	}
	for _, c := range cases {
		p, err := NewPlan(c.o)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := p.Rounds(c.avg); got != c.want {
			t.Errorf("%s: Rounds(%v) = %d, want %d", c.name, c.avg, got, c.want)
		}
	}
}

func TestPlanFixedRounds(t *testing.T) {
	p, _ := NewPlan(instruments.Options{WarmupTime: dur(0), MaxRounds: count(9)})
	if p.FixedRounds() != 9 {
		t.Fatal(p.FixedRounds())
	}
	p, _ = NewPlan(instruments.Options{WarmupTime: dur(0), MinRounds: count(4)})
	if p.FixedRounds() != 4 {
		t.Fatal(p.FixedRounds())
	}
	// Degraded time-only mode: no count.
	p, _ = NewPlan(instruments.Options{WarmupTime: dur(0), MaxTime: dur(time.Second)})
	if p.FixedRounds() != 0 {
		t.Fatal(p.FixedRounds())
	}
}
