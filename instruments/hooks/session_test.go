package hooks

import (
	"reflect"
	"testing"
)

// step is one recorded event of a conversation, with the runner's clock at
// arrival (CLOCK_MONOTONIC ns, made up but in the real order).
type step struct {
	at   uint64
	what string // start, stop, uri, marker
	pid  int32
	uri  string
	kind MarkerKind
	ns   uint64 // the marker's own timestamp
}

func replay(steps []step) Session {
	var r recorder
	for _, s := range steps {
		switch s.what {
		case "start":
			r.start(s.at)
		case "stop":
			r.stop(s.at)
		case "uri":
			r.benchmark(s.pid, s.uri, s.at)
		case "marker":
			r.marker(s.pid, Marker{Kind: s.kind, Ns: s.ns}, s.at)
		}
	}
	r.finish()
	return r.copySession()
}

// markersOf lists each benchmark's markers as "uri kind ns".
func markersOf(s Session) map[string][]uint64 {
	out := map[string][]uint64{}
	for _, b := range s.Benchmarks {
		out[b.URI] = []uint64{}
		for _, m := range b.Markers {
			out[b.URI] = append(out[b.URI], m.Marker.Ns)
		}
	}
	return out
}

func TestMarkersMatchedByTimestamp(t *testing.T) {
	tests := []struct {
		name      string
		steps     []step
		want      map[string][]uint64
		unmatched []uint64
	}{{
		// @codspeed/tinybench-plugin 5.7.1 (walltime): setup hook sends
		// StartBenchmark then reads the clock; teardown reads the clock,
		// sends StopBenchmark, the URI, then the two round markers.
		name: "tinybench order: markers after stop and URI",
		steps: []step{
			{at: 100, what: "start"}, {at: 200, what: "stop"}, {at: 201, what: "uri", pid: 7, uri: "bench.mjs::a"},
			{at: 202, what: "marker", pid: 7, kind: BenchmarkStart, ns: 101}, {at: 203, what: "marker", pid: 7, kind: BenchmarkEnd, ns: 199},
			{at: 300, what: "start"}, {at: 400, what: "stop"}, {at: 401, what: "uri", pid: 7, uri: "bench.mjs::b"},
			{at: 402, what: "marker", pid: 7, kind: BenchmarkStart, ns: 302}, {at: 403, what: "marker", pid: 7, kind: BenchmarkEnd, ns: 398},
			{at: 500, what: "start"}, {at: 600, what: "stop"}, {at: 601, what: "uri", pid: 7, uri: "bench.mjs::c"},
			{at: 602, what: "marker", pid: 7, kind: BenchmarkStart, ns: 501}, {at: 603, what: "marker", pid: 7, kind: BenchmarkEnd, ns: 599},
		},
		want: map[string][]uint64{"bench.mjs::a": {101, 199}, "bench.mjs::b": {302, 398}, "bench.mjs::c": {501, 599}},
	}, {
		// Markers sent inside the region, before the URI (per-round markers
		// of a harness that reports as it goes).
		name: "markers inside the region",
		steps: []step{
			{at: 100, what: "start"}, {at: 110, what: "marker", pid: 7, kind: BenchmarkStart, ns: 105},
			{at: 150, what: "marker", pid: 7, kind: BenchmarkEnd, ns: 149}, {at: 200, what: "stop"},
			{at: 201, what: "uri", pid: 7, uri: "a"},
			{at: 300, what: "start"}, {at: 400, what: "stop"}, {at: 401, what: "uri", pid: 7, uri: "b"},
		},
		want: map[string][]uint64{"a": {105, 149}, "b": {}},
	}, {
		// Several regions named by one URI (several rounds, one
		// StartBenchmark each), markers all sent at the end.
		name: "one URI, several regions",
		steps: []step{
			{at: 100, what: "start"}, {at: 200, what: "stop"}, {at: 300, what: "start"}, {at: 400, what: "stop"},
			{at: 401, what: "uri", pid: 7, uri: "a"},
			{at: 402, what: "marker", pid: 7, kind: BenchmarkStart, ns: 150}, {at: 403, what: "marker", pid: 7, kind: BenchmarkEnd, ns: 350},
		},
		want: map[string][]uint64{"a": {150, 350}},
	}, {
		// Between regions, before the first or after the last: nobody's.
		name: "markers outside every region are kept apart",
		steps: []step{
			{at: 50, what: "marker", pid: 7, kind: SampleStart, ns: 40},
			{at: 100, what: "start"}, {at: 200, what: "stop"}, {at: 201, what: "uri", pid: 7, uri: "a"},
			{at: 202, what: "marker", pid: 7, kind: SampleEnd, ns: 250},
		},
		want:      map[string][]uint64{"a": {}},
		unmatched: []uint64{40, 250},
	}, {
		// Two processes whose regions overlap: the marker's own pid decides.
		name: "overlapping regions go to the marker's pid",
		steps: []step{
			{at: 100, what: "start"}, {at: 200, what: "stop"}, {at: 201, what: "uri", pid: 1, uri: "p1"},
			{at: 150, what: "start"}, {at: 300, what: "stop"}, {at: 301, what: "uri", pid: 2, uri: "p2"},
			{at: 302, what: "marker", pid: 1, kind: BenchmarkStart, ns: 160},
			{at: 303, what: "marker", pid: 2, kind: BenchmarkStart, ns: 170},
		},
		want: map[string][]uint64{"p1": {160}, "p2": {170}},
	}, {
		// A region never closed extends to the end.
		name: "open region",
		steps: []step{
			{at: 100, what: "start"}, {at: 200, what: "stop"}, {at: 201, what: "uri", pid: 7, uri: "a"},
			{at: 300, what: "start"}, {at: 310, what: "marker", pid: 7, kind: BenchmarkStart, ns: 900},
		},
		want:      map[string][]uint64{"a": {}},
		unmatched: []uint64{900}, // in a region no URI named
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := replay(tt.steps)
			if got := markersOf(s); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("markers per benchmark\n got %v\nwant %v", got, tt.want)
			}
			var un []uint64
			for _, m := range s.UnmatchedMarkers {
				un = append(un, m.Marker.Ns)
			}
			if !reflect.DeepEqual(un, tt.unmatched) {
				t.Fatalf("unmatched %v, want %v", un, tt.unmatched)
			}
			total := len(s.UnmatchedMarkers)
			for _, b := range s.Benchmarks {
				total += len(b.Markers)
			}
			if total != len(s.Markers) {
				t.Fatalf("%d markers received, %d placed", len(s.Markers), total)
			}
		})
	}
}
