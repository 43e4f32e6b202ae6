package perf

import (
	"testing"
)

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"examples/go/wordfreq/wordfreq_test.go::BenchmarkTop::words=10": "BenchmarkTop__words_10",
		"exec_harness::./bin/primes 20":                                 "bin_primes_20",
		"bench.py::test_sort[100]":                                      "test_sort_100",
		"::":                                                            "benchmark",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseUnwinding(t *testing.T) {
	for in, want := range map[string]Unwinding{"fp": FramePointer, "FP": FramePointer, "dwarf": DWARF, " dwarf ": DWARF} {
		if got, err := ParseUnwinding(in); err != nil || got != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	if _, err := ParseUnwinding("lbr"); err == nil {
		t.Error("lbr accepted")
	}
}
