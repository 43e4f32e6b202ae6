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
