package hooks

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"golang.org/x/sys/unix"
)

// MonotonicNow is CLOCK_MONOTONIC in nanoseconds: the clock integrations use
// for their markers (instrument_hooks_current_timestamp) and perf uses for
// its samples, so every timestamp in a Session is comparable with both.
func MonotonicNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		// CLOCK_MONOTONIC exists on every Linux this runs on; a failure here
		// is a broken seccomp filter, and 0 makes it visible in the results.
		return 0
	}
	return uint64(ts.Sec)*1e9 + uint64(ts.Nsec)
}

// Session is everything one Serve call recorded. The runner reads it after
// Serve returns (Server.Session returns a copy the caller owns).
type Session struct {
	// ProtocolVersion is the last version an integration announced and the
	// runner accepted (0: none announced).
	ProtocolVersion uint64
	// Integration is the last SetIntegration received, nil if none.
	Integration *Integration
	// Benchmarks in the order their URIs were announced. Each carries the
	// measured regions that ended since the previous announcement and the
	// markers whose timestamps fall inside those regions.
	Benchmarks []Benchmark
	// Unclaimed holds measured regions that no CurrentBenchmark named (an
	// integration that stopped before announcing, or a plain
	// StartBenchmark/StopBenchmark user).
	Unclaimed []Interval
	// Markers holds every marker in arrival order, matched or not.
	Markers []MarkerEvent
	// UnmatchedMarkers are the markers whose timestamp lies in no
	// benchmark's measured region.
	UnmatchedMarkers []MarkerEvent
	// Errors are protocol failures the runner should report: undecodable
	// messages, refused protocol versions, handler failures.
	Errors []error
	// Warnings are oddities that lose nothing (a duplicate StartBenchmark, a
	// region still open at exit).
	Warnings []string
}

// Err joins the session's errors (nil when there are none).
func (s *Session) Err() error { return errors.Join(s.Errors...) }

// Integration names the integration that spoke to the runner.
type Integration struct {
	Name    string
	Version string
}

// Benchmark is one URI an integration announced, with what it measured.
type Benchmark struct {
	Pid int32
	URI string
	// AnnouncedNs is when the runner received the URI (CLOCK_MONOTONIC ns).
	AnnouncedNs uint64
	// Intervals are the measured regions (StartBenchmark..StopBenchmark)
	// that ended since the previous announcement.
	Intervals []Interval
	// Markers are the markers whose own timestamp (Marker.Ns) lies inside
	// one of Intervals, in arrival order. They are matched by time, not by
	// arrival: CodSpeed's integrations send a benchmark's markers after its
	// StopBenchmark and its URI (docs/protocol.md, "Markers").
	Markers []MarkerEvent
}

// Interval is one measured region, in CLOCK_MONOTONIC ns as seen by the
// runner when it received StartBenchmark and StopBenchmark. StopNs is 0 for
// a region the integration never closed.
type Interval struct {
	StartNs uint64
	StopNs  uint64
}

// contains says whether ns lies in the region; a region never closed
// (StopNs 0) extends to the end of the run.
func (iv Interval) contains(ns uint64) bool {
	return ns >= iv.StartNs && (iv.StopNs == 0 || ns <= iv.StopNs)
}

// MarkerEvent is a marker together with who sent it and when it arrived.
type MarkerEvent struct {
	Pid        int32
	Marker     Marker
	ReceivedNs uint64
}

// ErrProtocolVersion is wrapped by *VersionError.
var ErrProtocolVersion = errors.New("unsupported instrument-hooks protocol version")

// VersionError records a SetVersion the runner refused.
type VersionError struct {
	Got      uint64
	Min, Max uint64
	Mode     IntegrationMode
}

func (e *VersionError) Error() string {
	if e.Got > e.Max {
		return fmt.Sprintf("the integration speaks instrument-hooks protocol version %d but this runner speaks at most %d: "+
			"update codspeed-go, or pin the integration to a release that speaks version %d", e.Got, e.Max, e.Max)
	}
	return fmt.Sprintf("the integration speaks instrument-hooks protocol version %d but %s mode needs at least %d: "+
		"update the integration (pytest-codspeed, codspeed-rust, codspeed-cpp, ...)", e.Got, e.Mode, e.Min)
}

func (e *VersionError) Unwrap() error { return ErrProtocolVersion }

// recorder accumulates a Session; the Server guards it with its mutex.
type recorder struct {
	s         Session
	open      *Interval  // a region started and not yet stopped
	intervals []Interval // closed regions not yet claimed
}

func (r *recorder) start(ts uint64) {
	if r.open != nil {
		r.s.Warnings = append(r.s.Warnings, "StartBenchmark received twice without StopBenchmark; kept the first")
		return
	}
	r.open = &Interval{StartNs: ts}
}

func (r *recorder) stop(ts uint64) {
	if r.open == nil {
		r.s.Warnings = append(r.s.Warnings, "StopBenchmark received without StartBenchmark; ignored")
		return
	}
	r.open.StopNs = ts
	r.intervals = append(r.intervals, *r.open)
	r.open = nil
}

func (r *recorder) benchmark(pid int32, uri string, ts uint64) {
	b := Benchmark{Pid: pid, URI: uri, AnnouncedNs: ts, Intervals: r.intervals}
	r.intervals = nil
	r.s.Benchmarks = append(r.s.Benchmarks, b)
}

func (r *recorder) marker(pid int32, m Marker, ts uint64) {
	r.s.Markers = append(r.s.Markers, MarkerEvent{Pid: pid, Marker: m, ReceivedNs: ts})
}

// finish moves what was never claimed into Unclaimed.
func (r *recorder) finish() {
	if r.open != nil {
		r.s.Warnings = append(r.s.Warnings, "a measured region was still open when the benchmark exited (StartBenchmark without StopBenchmark)")
		r.intervals = append(r.intervals, *r.open)
		r.open = nil
	}
	r.s.Unclaimed = append(r.s.Unclaimed, r.intervals...)
	r.intervals = nil
}

func (r *recorder) copySession() Session {
	s := r.s
	if s.Integration != nil {
		in := *s.Integration
		s.Integration = &in
	}
	s.Benchmarks = append([]Benchmark(nil), s.Benchmarks...)
	for i := range s.Benchmarks {
		s.Benchmarks[i].Intervals = append([]Interval(nil), s.Benchmarks[i].Intervals...)
		s.Benchmarks[i].Markers = nil
	}
	s.Unclaimed = append([]Interval(nil), s.Unclaimed...)
	s.Markers = append([]MarkerEvent(nil), s.Markers...)
	s.UnmatchedMarkers = matchMarkers(s.Benchmarks, s.Markers)
	s.Errors = append([]error(nil), s.Errors...)
	s.Warnings = append([]string(nil), s.Warnings...)
	return s
}

// span is one benchmark's measured region, for matching markers.
type span struct {
	Interval
	bench int // index in the benchmarks
}

// matchMarkers gives each marker to the benchmark one of whose measured
// regions contains the marker's own timestamp, and returns the markers that
// no region contains. This is how CodSpeed's runner relates them: it keeps
// the StartBenchmark/StopBenchmark times, the URIs' arrival times and the
// markers on one clock (CLOCK_MONOTONIC) and places markers by time, never
// by the order they arrive in. An integration takes a round's start after
// its StartBenchmark was answered and the round's end before it sends
// StopBenchmark, so the runner's region always contains its markers. When
// regions overlap (several processes measuring at once), a benchmark of the
// marker's own pid wins.
func matchMarkers(benches []Benchmark, markers []MarkerEvent) (unmatched []MarkerEvent) {
	var spans []span
	for i, b := range benches {
		for _, iv := range b.Intervals {
			spans = append(spans, span{iv, i})
		}
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].StartNs < spans[j].StartNs })
	// reach[i] is the latest end among spans[:i+1], so the backward scan
	// stops as soon as no earlier region can still contain the marker.
	reach := make([]uint64, len(spans))
	for i, sp := range spans {
		end := sp.StopNs
		if end == 0 {
			end = math.MaxUint64
		}
		reach[i] = end
		if i > 0 && reach[i-1] > end {
			reach[i] = reach[i-1]
		}
	}
	for _, m := range markers {
		// The regions that started at or before the marker; the latest
		// start comes first.
		n := sort.Search(len(spans), func(i int) bool { return spans[i].StartNs > m.Marker.Ns })
		best := -1
		for i := n - 1; i >= 0 && reach[i] >= m.Marker.Ns; i-- {
			if !spans[i].contains(m.Marker.Ns) {
				continue
			}
			if best < 0 {
				best = spans[i].bench
			}
			if benches[spans[i].bench].Pid == m.Pid {
				best = spans[i].bench
				break
			}
		}
		if best < 0 {
			unmatched = append(unmatched, m)
			continue
		}
		benches[best].Markers = append(benches[best].Markers, m)
	}
	return unmatched
}
