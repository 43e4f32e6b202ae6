package changes

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readTSV reads a history recorded by testdata/record*.sh: one "label\tvalue"
// line per run, oldest first.
func readTSV(t testing.TB, path string) (labels []string, values []float64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		label, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			t.Fatalf("%s:%d: no tab", path, line)
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		labels, values = append(labels, label), append(values, x)
	}
	return labels, values
}

func readColumn(t testing.TB, path string) []float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for i, line := range strings.Fields(string(data)) {
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			t.Fatalf("%s: value %d: %v", path, i+1, err)
		}
		out = append(out, v)
	}
	return out
}

func indexes(cs []Change) []int {
	out := []int{}
	for _, c := range cs {
		out = append(out, c.Index)
	}
	return out
}

// TestDetectRecordedSteps runs the TigerBeetle history of Apache Otava's
// tests (testdata/README.md) with the parameters of those tests: the change
// points must be the ones Otava's own implementation finds.
func TestDetectRecordedSteps(t *testing.T) {
	s := readColumn(t, "testdata/tigerbeetle.txt")
	if len(s) != 365 {
		t.Fatalf("%d points, want 365", len(s))
	}
	for _, c := range []struct {
		window int
		p, mag float64
		want   []int
	}{
		// Otava's test_tb_old_defaults, _p05 and _p2.
		{30, 0.01, 0.05, []int{15, 71}},
		{30, 0.05, 0.05, []int{15, 71}},
		{30, 0.2, 0.05, []int{10, 11, 15, 71}},
		// This package's defaults (Otava's window and level) with the
		// walltime threshold: the two real steps, nothing else.
		{0, 0, 0.05, []int{15, 71}},
	} {
		got := Detect(s, Options{Window: c.window, MaxP: c.p, MinMagnitude: c.mag})
		if !slices.Equal(indexes(got), c.want) {
			t.Errorf("window %d, p %g, magnitude %g: changes at %v, want %v", c.window, c.p, c.mag, indexes(got), c.want)
		}
	}
	got := Detect(s, Options{MinMagnitude: 0.05})
	// 26.8k to 23.6k at 15 (the drop at 10 is one outlier, not a step),
	// then up by about a fifth at 71 (the means span whole segments).
	if len(got) == 2 && (got[0].Change > -0.08 || got[0].Change < -0.15 || got[1].Change < 0.1 || got[1].Change > 0.25) {
		t.Errorf("sizes of the changes: %+v", got)
	}
}

// TestDetectRecordedFlat takes the stretches of the same history between
// its steps: nothing must be found there.
func TestDetectRecordedFlat(t *testing.T) {
	s := readColumn(t, "testdata/tigerbeetle.txt")
	for _, r := range [][2]int{{16, 71}, {72, 365}} {
		if got := Detect(s[r[0]:r[1]], Options{MinMagnitude: 0.05}); len(got) != 0 {
			t.Errorf("points %d to %d: want no change, got %+v", r[0], r[1], got)
		}
	}
}

// Callgrind's estimated times of real runs (testdata/record-simulation.sh):
// exact figures, judged by threshold alone.
func TestExactRecorded(t *testing.T) {
	labels, values := readTSV(t, "testdata/simulation.tsv")
	step := -1
	for i := 1; i < len(labels); i++ {
		if labels[i] != labels[i-1] {
			step = i
		}
	}
	got := Exact(values, 0.02)
	if len(got) != 1 || got[0].Index != step {
		t.Fatalf("want one change at %d, got %+v", step, got)
	}
	if got := Exact(values[:step], 0.02); len(got) != 0 {
		t.Errorf("flat part: want no change, got %+v", got)
	}
	if !math.IsNaN(got[0].P) {
		t.Errorf("exact change has a p-value: %+v", got[0])
	}
}

func TestDetectSteps(t *testing.T) {
	// Two steps in a series with a fixed, non-random wiggle: each level is
	// exact enough that the t-test is sure, and the wiggle keeps the
	// variance non-zero.
	var s []float64
	for i := range 150 {
		level := 100.0
		switch {
		case i >= 100:
			level = 90
		case i >= 60:
			level = 120
		}
		s = append(s, level+float64(i%5)-2)
	}
	got := Detect(s, Options{})
	if len(got) != 2 || got[0].Index != 60 || got[1].Index != 100 {
		t.Fatalf("want changes at 60 and 100, got %+v", got)
	}
	if math.Abs(got[0].Change-0.2) > 1e-9 || math.Abs(got[1].Change-(90.0/120-1)) > 1e-9 {
		t.Errorf("changes %+v", got)
	}
}

func TestDetectIgnoresNonFinite(t *testing.T) {
	s := []float64{1, 1.1, 0.9, math.NaN(), 1, 1.05, 0.95, 1, 5, 5.1, 4.9, math.Inf(1), 5, 5.05, 4.95, 5}
	got := Detect(s, Options{})
	if len(got) != 1 || got[0].Index != 8 {
		t.Fatalf("want one change at 8, got %+v", got)
	}
}

func TestDetectShort(t *testing.T) {
	for _, s := range [][]float64{nil, {1}, {1, 2}, {5, 5, 5, 5}} {
		if got := Detect(s, Options{}); len(got) != 0 {
			t.Errorf("%v: got %+v", s, got)
		}
	}
}

func TestExactDrift(t *testing.T) {
	// 1% per point never beats a 2% threshold between neighbours, but the
	// level moves: the third point is 2.01% from the first.
	s := []float64{100, 101, 102.01, 102.01, 102.5}
	got := Exact(s, 0.02)
	if len(got) != 1 || got[0].Index != 2 {
		t.Fatalf("want a change at 2, got %+v", got)
	}
	if got := Exact([]float64{0, 0, 3}, 0.02); len(got) != 1 || !math.IsInf(got[0].Change, 1) {
		t.Errorf("from zero: %+v", got)
	}
}

func TestChangeJSON(t *testing.T) {
	data, err := json.Marshal(Exact([]float64{0, 1}, 0.02))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"p":null`) || !strings.Contains(string(data), `"change":null`) {
		t.Errorf("json %s", data)
	}
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, 0.05, uint8(8))
	f.Add([]byte{0, 0, 0, 0, 255, 255, 255, 255}, 0.0, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, mag float64, window uint8) {
		// Eight bytes per value, so any float64 (NaN, ±Inf, huge) occurs.
		var s []float64
		for i := 0; i+8 <= len(data); i += 8 {
			var bits uint64
			for _, b := range data[i : i+8] {
				bits = bits<<8 | uint64(b)
			}
			s = append(s, math.Float64frombits(bits))
		}
		// Small values too: byte by byte.
		for _, b := range data {
			s = append(s, float64(b))
		}
		got := Detect(s, Options{Window: int(window), MinMagnitude: mag})
		last := -1
		for _, c := range got {
			if c.Index <= last || c.Index >= len(s) {
				t.Fatalf("bad index %d after %d (len %d)", c.Index, last, len(s))
			}
			last = c.Index
		}
		for _, c := range Exact(s, mag) {
			if c.Index <= 0 || c.Index >= len(s) {
				t.Fatalf("bad exact index %d", c.Index)
			}
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatal(err)
		}
	})
}
