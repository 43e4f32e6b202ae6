package instruments

import (
	"strings"
	"testing"
)

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"primes 2M":                "primes_2M",
		"a/b::c":                   "a_b__c",
		"ok-1.2":                   "ok-1.2",
		"bench.py::test_sort[100]": "bench.py__test_sort_100",
		"pkg/sub::Bench[1/2]":      "pkg_sub__Bench_1_2",
		"..":                       "fb",
		"":                         "fb",
		".hidden":                  "hidden",
		"héllo wörld":              "h_llo_w_rld",
	} {
		if got := FileName(in, "fb"); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := FileName(strings.Repeat("x", 300), "fb"); len(got) != maxFileName {
		t.Errorf("FileName of 300 bytes has %d, want %d", len(got), maxFileName)
	}
}

func TestNameSet(t *testing.T) {
	var s NameSet
	got := []string{
		s.Path("d", "a b", "x", ".json"), s.Path("d", "a/b", "x", ".json"), s.Path("e", "a b", "x", ".json"), s.Path("d", "a?b", "x", ".json"),
	}
	want := []string{"d/a_b.json", "d/a_b-2.json", "e/a_b.json", "d/a_b-3.json"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("path %d = %q, want %q", i, got[i], want[i])
		}
	}
	var later NameSet
	if p := later.Path("d", "a b", "x", ".json"); p != "d/a_b.json" {
		t.Errorf("a new set starts over: %q", p)
	}
}
