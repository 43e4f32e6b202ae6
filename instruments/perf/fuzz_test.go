package perf

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParsePerfMap(t *testing.T) {
	in := "7f0000001000 40 jitted::a b c\n0x7f0000000000 0x10 LazyCompile:~main\n\nbad line\n7f0000002000 zz nope\n"
	got, err := parsePerfMap(strings.NewReader(in))
	want := []perfMapEntry{{0x7f0000000000, 0x10, "LazyCompile:~main"}, {0x7f0000001000, 0x40, "jitted::a b c"}}
	if !slices.Equal(got, want) {
		t.Errorf("entries %+v, want %+v", got, want)
	}
	var se *MapSyntaxError
	if !errors.As(err, &se) || se.Line != 4 {
		t.Errorf("error %v, want a *MapSyntaxError on line 4", err)
	}
	if e, ok := lookupMap(got, 0x7f000000103f); !ok || e.name != "jitted::a b c" {
		t.Errorf("lookup inside: %+v %v", e, ok)
	}
	if _, ok := lookupMap(got, 0x7f0000001040); ok {
		t.Errorf("lookup past the end found an entry")
	}
}

func FuzzParsePerfMap(f *testing.F) {
	f.Add("7f0000001000 40 jitted_hot_loop\n")
	f.Add("0x10 0x20 a\n0x15 1 b\r\n\n ff 1\n")
	f.Add("ffffffffffffffff 2 wrap\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := parsePerfMap(strings.NewReader(in))
		var se *MapSyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error %v is not a *MapSyntaxError", err)
		}
		var buf bytes.Buffer
		if err := writePerfMap(&buf, entries); err != nil {
			t.Fatal(err)
		}
		again, err := parsePerfMap(&buf)
		if err != nil {
			t.Fatalf("written map does not parse: %v\n%s", err, buf.String())
		}
		if !slices.Equal(again, entries) {
			t.Fatalf("round trip: %+v became %+v", entries, again)
		}
		for _, e := range entries {
			lookupMap(entries, e.start)
		}
	})
}

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
