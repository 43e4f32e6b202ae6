package instruments

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	cases := []struct {
		in   string
		want []string // nil: needs a shell
	}{
		{"./bin --fast", []string{"./bin", "--fast"}},
		{"  sleep   0.1 ", []string{"sleep", "0.1"}},
		{`grep -c 'a b' "c d" e\ f`, []string{"grep", "-c", "a b", "c d", "e f"}},
		{`echo "it's" 'say "hi"'`, []string{"echo", "it's", `say "hi"`}},
		{`echo "a\"b" "c\d"`, []string{"echo", `a"b`, `c\d`}},
		{"prog --opt=value", []string{"prog", "--opt=value"}},
		{"''", []string{""}},
		{"go test -run=^$ -bench=.", []string{"go", "test", "-run=^$", "-bench=."}},
		{`grep "a$" f`, []string{"grep", "a$", "f"}},
		{"echo $HOME", nil},
		{"echo $1", nil},
		{"echo ${x}", nil},
		{"echo $'x'", nil},
		{`echo "$HOME"`, nil},
		{"ls *.go", nil},
		{"a | b", nil},
		{"a && b", nil},
		{"a; b", nil},
		{"a > out", nil},
		{"FOO=1 prog", nil},
		{"echo 'unterminated", nil},
		{"line1\nline2", nil},
		{"", nil},
		{"   ", nil},
	}
	for _, c := range cases {
		got, ok := SplitCommand(c.in)
		if c.want == nil {
			if ok {
				t.Errorf("SplitCommand(%q) = %q, want shell", c.in, got)
			}
			continue
		}
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func TestJoinCommandRoundTrip(t *testing.T) {
	for _, argv := range [][]string{
		{"./prog", "--flag", "-n", "3"},
		{"echo", "a b", "it's", `"q"`, "", "$HOME", "x*"},
	} {
		line := JoinCommand(argv)
		back, ok := SplitCommand(line)
		if ok && !reflect.DeepEqual(back, argv) {
			t.Errorf("JoinCommand(%q) = %q, reads back as %q", argv, line, back)
		}
	}
	if got := JoinCommand([]string{"./prog", "--fast"}); got != "./prog --fast" {
		t.Errorf("plain words are not quoted: %q", got)
	}
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"./bin --fast", `a 'b c' "d\"e"`, "a | b", `x\ y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, ok := SplitCommand(s)
		if !ok {
			return
		}
		// What splits must survive a join and a second split unchanged.
		again, ok2 := SplitCommand(JoinCommand(args))
		if !ok2 || !reflect.DeepEqual(again, args) {
			t.Fatalf("%q -> %q -> %q -> %q (%v)", s, args, JoinCommand(args), again, ok2)
		}
	})
}

func TestTargetArgv(t *testing.T) {
	if got := (Target{Command: "./a b", Args: []string{"./a", "b"}}).Argv(); strings.Join(got, "|") != "./a|b" {
		t.Errorf("argv target: %q", got)
	}
	if got := (Target{Command: "a | b"}).Argv(); strings.Join(got, "|") != "bash|-c|a | b" {
		t.Errorf("shell target: %q", got)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent", "PATH=/nowhere:" + dir}
	if got := LookPath("prog", env); got != prog {
		t.Errorf("LookPath in the benchmark's PATH (last PATH wins) = %q, want %q", got, prog)
	}
	if got := LookPath("./prog", env); got != "./prog" {
		t.Errorf("a name with a slash is kept: %q", got)
	}
	if got := LookPath("prog", []string{"PATH=/nowhere"}); got != "prog" {
		t.Errorf("not found: %q, want the name as is", got)
	}
}
