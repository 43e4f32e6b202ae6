package perf

import (
	"bytes"
	"errors"
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
		var buf bytes.Buffer
		tab.WriteTo(&buf)
		back, err := readUnwindTable(buf.Bytes())
		if err != nil || !slices.Equal(back.Rows, tab.Rows) {
			t.Fatalf("file round trip: %v", err)
		}
	})
}

func FuzzReadUnwindTable(f *testing.F) {
	seed, _ := os.ReadFile("testdata/primes.eh_frame")
	tab, _ := parseEHFrame(seed, 0x2080, regsAMD64, 62)
	var buf bytes.Buffer
	tab.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(unwindMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := readUnwindTable(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			return
		}
		var out bytes.Buffer
		tab.WriteTo(&out)
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatal("re-encoding differs")
		}
	})
}
