package perfmap

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "7f0000001000 40 jitted::a b c\n0x7f0000000000 0x10 LazyCompile:~main\n\nbad line\n7f0000002000 zz nope\n"
	got, err := Parse(strings.NewReader(in))
	want := []Symbol{{Start: 0x7f0000000000, Size: 0x10, Name: "LazyCompile:~main"}, {Start: 0x7f0000001000, Size: 0x40, Name: "jitted::a b c"}}
	if !slices.Equal(got, want) {
		t.Errorf("symbols %+v, want %+v", got, want)
	}
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 4 {
		t.Errorf("error %v, want a *SyntaxError on line 4", err)
	}
	tab := NewTable(got)
	if s, ok := tab.Lookup(0x7f000000103f); !ok || s.Name != "jitted::a b c" {
		t.Errorf("lookup inside: %+v %v", s, ok)
	}
	if _, ok := tab.Lookup(0x7f0000001040); ok {
		t.Errorf("lookup past the end found a symbol")
	}
}

// Overlapping symbols: a long one under short ones is still found, and
// with times, the code loaded last before the sample wins.
func TestTableOverlap(t *testing.T) {
	tab := NewTable([]Symbol{
		{Start: 0x1000, Size: 0x1000, Name: "outer"},
		{Start: 0x1100, Size: 0x10, Name: "a"},
		{Start: 0x1200, Size: 0x10, Name: "b"},
		{Start: 0x3000, Size: 0x100, Name: "old", Time: 100},
		{Start: 0x3000, Size: 0x100, Name: "new", Time: 200},
	})
	for _, c := range []struct {
		addr, now uint64
		want      string
	}{
		{0x1105, ^uint64(0), "a"},
		{0x1300, ^uint64(0), "outer"},
		{0x1fff, ^uint64(0), "outer"},
		{0x3010, 150, "old"},
		{0x3010, 250, "new"},
		{0x3010, 50, "old"}, // before both: the earliest
	} {
		s, ok := tab.LookupAt(c.addr, c.now)
		if !ok || s.Name != c.want {
			t.Errorf("LookupAt(%#x, %d) = %q %v, want %q", c.addr, c.now, s.Name, ok, c.want)
		}
	}
	if _, ok := tab.Lookup(0x2000); ok {
		t.Error("0x2000 is past outer")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("7f0000001000 40 jitted_hot_loop\n")
	f.Add("0x10 0x20 a\n0x15 1 b\r\n\n ff 1\n")
	f.Add("ffffffffffffffff 2 wrap\n")
	f.Fuzz(func(t *testing.T, in string) {
		syms, err := Parse(strings.NewReader(in))
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error %v is not a *SyntaxError", err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, syms); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(&buf)
		if err != nil {
			t.Fatalf("written map does not parse: %v\n%s", err, buf.String())
		}
		if !slices.Equal(again, syms) {
			t.Fatalf("round trip: %+v became %+v", syms, again)
		}
		tab := NewTable(syms)
		for _, s := range syms {
			if got, ok := tab.Lookup(s.Start); s.Size > 0 && (!ok || got.Start > s.Start || s.Start-got.Start >= got.Size) {
				t.Fatalf("Lookup(%#x) = %+v %v", s.Start, got, ok)
			}
		}
	})
}
