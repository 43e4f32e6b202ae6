package flamegraph

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseFolded(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Stack
	}{
		{"empty", "", []Stack{}},
		{"one", "a;b;c 123\n", []Stack{{[]string{"a", "b", "c"}, 123}}},
		{"float and exponent", "a 1.5\nb 2e3\n", []Stack{{[]string{"a"}, 1.5}, {[]string{"b"}, 2000}}},
		{"duplicates add up", "a;b 1\na;b 2\n", []Stack{{[]string{"a", "b"}, 3}}},
		{"spaces in frames", "std::vector<int, std::allocator<int> >::push_back;operator new 7",
			[]Stack{{[]string{"std::vector<int, std::allocator<int> >::push_back", "operator new"}, 7}}},
		{"tab before value, CRLF, blank lines", "a;b\t4\r\n\r\n\nc 1  \n", []Stack{{[]string{"a", "b"}, 4}, {[]string{"c"}, 1}}},
		{"zero is no sample", "a 0\nb 1\n", []Stack{{[]string{"b"}, 1}}},
		{"control characters become spaces", "a\x01b 2\n", []Stack{{[]string{"a b"}, 2}}},
		{"blank frames are unknown", "a; ;\x10 2\n", []Stack{{[]string{"a", "[unknown]", "[unknown]"}, 2}}},
		{"tiny values", "a 5e-324\n", []Stack{{[]string{"a"}, 5e-324}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFolded(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got := p.Stacks()
			if !slices.EqualFunc(got, tt.want, func(a, b Stack) bool { return slices.Equal(a.Frames, b.Frames) && a.Value == b.Value }) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseFoldedErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"a;b\n", "line 1: want frames, a space and a value, got no space"},
		{"a 1\n\nb x\n", `line 3: value "x" is not a number`},
		{"a NaN\n", `line 1: value "NaN" is not a number`},
		{"a 0x1p3\n", `line 1: value "0x1p3" is not a number`},
		{"a 1e999\n", `line 1: value "1e999" is not a finite number`},
		{"a 1..2\n", `line 1: value "1..2" is not a finite number`},
		{"a -3\n", `line 1: value "-3" is negative`},
		{" 3\n", "line 1: empty stack"},
		{"a;;b 3\n", "line 1: frame 2 is empty"},
		{"a; 3\n", "line 1: frame 2 is empty"},
		{"a 1e308\nb 1e308\n", "line 2: values add up beyond the range of float64"},
	}
	for _, tt := range tests {
		_, err := ParseFolded(strings.NewReader(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseFolded(%q) = %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseFolded(%q) error = %q, want %q", tt.in, err, tt.want)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseFoldedReadError(t *testing.T) {
	_, err := ParseFolded(failingReader{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the read error wrapped", err)
	}
}

func TestFoldedRoundTrip(t *testing.T) {
	in, err := os.ReadFile("testdata/small.folded")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseFolded(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if p.Total() != 110 || p.Len() != 6 {
		t.Fatalf("total %g over %d stacks, want 110 over 6", p.Total(), p.Len())
	}
	var out bytes.Buffer
	if err := p.WriteFolded(&out); err != nil {
		t.Fatal(err)
	}
	// Sorted frame by frame; values exactly as read.
	want := "gc 10\nmain;parse;build 20\nmain;parse;lex 30\nmain;parse;lex;readByte 10\nmain;render 35\nmain;render;escape <&> 5\n"
	if out.String() != want {
		t.Errorf("WriteFolded:\n%s\nwant:\n%s", out.String(), want)
	}
	again, err := ParseFolded(&out)
	if err != nil {
		t.Fatal(err)
	}
	if !equalProfiles(p, again) {
		t.Errorf("round trip changed the profile: %v != %v", p.Stacks(), again.Stacks())
	}
}

func TestAdd(t *testing.T) {
	var p Profile // the zero value is usable
	frames := []string{"main", "a;b", "", "x\ny"}
	p.Add(frames, 2)
	frames[0] = "changed" // Add copied the slice
	p.Add([]string{"main", "a:b", "[unknown]", "x y"}, 0.5)
	p.Add(nil, 5)
	p.Add([]string{"z"}, -1)
	p.Add([]string{"z"}, 0)
	got := p.Stacks()
	want := []Stack{{[]string{"main", "a:b", "[unknown]", "x y"}, 2.5}}
	if len(got) != 1 || !slices.Equal(got[0].Frames, want[0].Frames) || got[0].Value != 2.5 || p.Total() != 2.5 {
		t.Fatalf("got %v total %g, want %v total 2.5", got, p.Total(), want)
	}
}

func equalProfiles(a, b *Profile) bool {
	return slices.EqualFunc(a.Stacks(), b.Stacks(), func(x, y Stack) bool {
		return slices.Equal(x.Frames, y.Frames) && x.Value == y.Value
	})
}

// FuzzParseFolded checks that no input panics, that what parses writes back
// to the same profile, and that every parsed profile draws as well-formed
// XML.
func FuzzParseFolded(f *testing.F) {
	seed, err := os.ReadFile("testdata/small.folded")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add("a;b;c 1.5e3\r\nx 0\n")
	f.Add("a;;b 1\n")
	f.Add("<x>;&amp;;\"q\" 3\n]]>;'y' 1\n")
	f.Add("a 1e308\nb 1e308\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseFolded(strings.NewReader(in))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error %v is not a SyntaxError with a line", err)
			}
			return
		}
		var out bytes.Buffer
		if err := p.WriteFolded(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ParseFolded(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("own output does not parse: %v\n%s", err, out.String())
		}
		if !equalProfiles(p, again) {
			t.Fatalf("round trip changed the profile:\n%v\n%v", p.Stacks(), again.Stacks())
		}
		var svg bytes.Buffer
		if err := WriteSVG(&svg, p, Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := decodeSVG(svg.Bytes()); err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
	})
}
