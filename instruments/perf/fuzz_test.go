package perf

import (
	"os"
	"slices"
	"testing"
)

// FuzzParseEHFrame feeds arbitrary section contents to the .eh_frame
// parser: it must not panic, and its rows come out sorted.
func FuzzParseEHFrame(f *testing.F) {
	seed, err := os.ReadFile("testdata/primes.eh_frame")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, uint64(0x2080))
	f.Add(seed[:40], uint64(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, vaddr uint64) {
		tab, _ := parseEHFrame(data, vaddr, regsAMD64, 62)
		if tab == nil {
			t.Fatal("nil table")
		}
		if !slices.IsSortedFunc(tab.Rows, func(a, b unwindRow) int {
			if a.PC < b.PC {
				return -1
			}
			if a.PC > b.PC {
				return 1
			}
			return 0
		}) {
			t.Fatal("rows not sorted")
		}
	})
}
