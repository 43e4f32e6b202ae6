package walltime

import (
	"errors"
	"fmt"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// Defaults of the exec harness, as CodSpeed's (docs/protocol.md §4).
const (
	DefaultWarmup  = time.Second
	DefaultMaxTime = 3 * time.Second
)

// Plan is how many rounds the exec harness runs, before it knows how long a
// round takes. Zero fields are unset.
type Plan struct {
	Warmup    time.Duration
	MinTime   time.Duration
	MaxTime   time.Duration
	MinRounds int64
	MaxRounds int64
}

// NewPlan applies the harness defaults to o and checks it: max-time defaults to
// 3 s only when none of min-time, max-rounds and min-rounds is set.
func NewPlan(o instruments.Options) (Plan, error) {
	p := Plan{Warmup: DefaultWarmup}
	if o.WarmupTime != nil {
		p.Warmup = *o.WarmupTime
	}
	if o.MinTime != nil {
		p.MinTime = *o.MinTime
	}
	if o.MaxTime != nil {
		p.MaxTime = *o.MaxTime
	}
	if o.MinRounds != nil {
		p.MinRounds = *o.MinRounds
	}
	if o.MaxRounds != nil {
		p.MaxRounds = *o.MaxRounds
	}
	if o.MaxTime == nil && o.MinTime == nil && o.MaxRounds == nil && o.MinRounds == nil {
		p.MaxTime = DefaultMaxTime
	}
	return p, p.check()
}

func (p Plan) check() error {
	switch {
	case p.Warmup < 0 || p.MinTime < 0 || p.MaxTime < 0:
		return errors.New("durations cannot be negative")
	case p.MinRounds < 0 || p.MaxRounds < 0:
		return errors.New("round counts cannot be negative")
	case p.MinTime > 0 && p.MaxRounds > 0:
		return errors.New("min-time and max-rounds cannot be used together: choose one lower bound")
	case p.MaxTime > 0 && p.MinRounds > 0:
		return errors.New("max-time and min-rounds cannot be used together: choose one upper bound")
	case p.MinTime > 0 && p.MaxTime > 0 && p.MinTime > p.MaxTime:
		return fmt.Errorf("min-time (%v) is greater than max-time (%v)", p.MinTime, p.MaxTime)
	case p.MinRounds > 0 && p.MaxRounds > 0 && p.MinRounds > p.MaxRounds:
		return fmt.Errorf("min-rounds (%d) is greater than max-rounds (%d)", p.MinRounds, p.MaxRounds)
	case p.Warmup == 0 && p.MinTime == 0 && p.MaxTime == 0 && p.MinRounds == 0 && p.MaxRounds == 0:
		return errors.New("with no warmup, set at least one of min-rounds, max-rounds, min-time or max-time")
	}
	return nil
}

// Rounds turns the plan into a round count once the average round time is
// known from warmup: the time bounds become round counts, the lower bound
// takes the larger and the upper bound the smaller of time and count, and with
// both bounds the result is their midpoint. The integer arithmetic follows
// CodSpeed's exec harness so that both runners choose the same counts.
func (p Plan) Rounds(avg time.Duration) int64 {
	if avg <= 0 {
		avg = 1
	}
	a := int64(avg)
	var lo, hi int64
	if p.MinRounds > 0 {
		lo = p.MinRounds
	}
	if p.MinTime > 0 {
		lo = max(lo, (int64(p.MinTime)+a)/a+1)
	}
	if p.MaxRounds > 0 {
		hi = p.MaxRounds
	}
	if p.MaxTime > 0 {
		fromTime := (int64(p.MaxTime) + a) / a
		if hi == 0 {
			hi = fromTime
		} else {
			hi = min(hi, fromTime)
		}
	}
	switch {
	case lo > 0 && hi > 0:
		if lo > hi {
			return hi
		}
		return (lo + hi) / 2
	case hi > 0:
		return hi
	case lo > 0:
		return lo
	}
	return 1
}

// FixedRounds is the round count when there is no warmup to learn from: an
// explicit count, or 0 for the degraded time-only mode, where rounds run until
// the time bounds are met.
func (p Plan) FixedRounds() int64 {
	if p.MaxRounds > 0 {
		return p.MaxRounds
	}
	return p.MinRounds
}
