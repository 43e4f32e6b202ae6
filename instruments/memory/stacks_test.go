package memory

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"golang.org/x/sys/unix"
)

func TestParseMaps(t *testing.T) {
	f, err := os.Open("testdata/maps.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseMaps(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{
		{0x55d0c0a00000, 0x55d0c0a02000, 0, false, "/usr/bin/cat"},
		{0x55d0c0a02000, 0x55d0c0a07000, 0x2000, true, "/usr/bin/cat"},
		{0x7f1e2a000000, 0x7f1e2a021000, 0, false, ""},
		{0x7f1e2a200000, 0x7f1e2a226000, 0, false, "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		{0x7f1e2a226000, 0x7f1e2a37b000, 0x26000, true, "/usr/lib/x86_64-linux-gnu/libc.so.6"},
		{0x7f1e2a500000, 0x7f1e2a501000, 0, true, "/tmp/dir with spaces/lib.so"},
		{0x7ffd1c9e0000, 0x7ffd1ca01000, 0, false, "[stack]"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d mappings, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseMapsErrors(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		line     int
	}{
		{"few fields", "0-1 r-xp 0\n", 1},
		{"no dash", "good r-xp 0 0:0 0\n", 1},
		{"bad hex", "00-zz r-xp 0 0:0 0\n", 1},
		{"end before start", "10-01 r-xp 0 0:0 0\n", 1},
		{"second line", "0-1 r-xp 0 0:0 0\n0-1 r-xp zz 0:0 0\n", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseMaps(strings.NewReader(tt.in))
			var se *MapsSyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *MapsSyntaxError", err)
			}
			if se.Line != tt.line {
				t.Errorf("line = %d, want %d", se.Line, tt.line)
			}
		})
	}
}

func FuzzParseMaps(f *testing.F) {
	seed, err := os.ReadFile("testdata/maps.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add("0-1 r-xp 0 0:0 0 /x\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		ms, err := parseMaps(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.End < m.Start {
				t.Errorf("mapping %+v ends before it starts", m)
			}
		}
	})
}

func TestWriteFolded(t *testing.T) {
	var b bytes.Buffer
	err := WriteFolded(&b, []StackBytes{
		{Frames: []string{"main", "parse;inner", "operator new(unsigned long)"}, Bytes: 42},
		{Frames: []string{"main"}, Bytes: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "main;parse:inner;operator_new(unsigned_long) 42\nmain 7\n"
	if b.String() != want {
		t.Errorf("folded = %q, want %q", b.String(), want)
	}
}

// TestFoldedFilesDoNotCollide: two benchmarks whose names make the same file
// name get a file each; a later run into the same folder overwrites them.
func TestFoldedFilesDoNotCollide(t *testing.T) {
	dir := t.TempDir()
	var names instruments.NameSet
	a, err := writeFoldedFile(dir, "bench[a/b]", []StackBytes{{Frames: []string{"main", "f"}, Bytes: 1}}, &names)
	if err != nil {
		t.Fatal(err)
	}
	b, err := writeFoldedFile(dir, "bench[a b]", []StackBytes{{Frames: []string{"main", "g"}, Bytes: 2}}, &names)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a != filepath.Join("memory", "bench_a_b.folded") || b != filepath.Join("memory", "bench_a_b-2.folded") {
		t.Fatalf("files %q and %q", a, b)
	}
	for rel, want := range map[string]string{a: "main;f 1\n", b: "main;g 2\n"} {
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", rel, got, err, want)
		}
	}
	again, err := writeFoldedFile(dir, "bench[a/b]", []StackBytes{{Frames: []string{"main", "h"}, Bytes: 3}}, &instruments.NameSet{})
	if err != nil || again != a {
		t.Fatalf("a later run wrote %q, %v; want %q overwritten", again, err, a)
	}
}

// TestReadMapsOfZombie: an exited, unreaped process has an empty maps file;
// readMaps says so rather than return no mappings.
func TestReadMapsOfZombie(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	// Wait for it to exit without reaping it.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	if ms, err := readMaps(cmd.Process.Pid); err == nil {
		t.Fatalf("readMaps of a zombie = %d mappings, nil error; want an error", len(ms))
	}
	if ms, err := readMaps(os.Getpid()); err != nil || len(ms) == 0 {
		t.Fatalf("readMaps of self = %d mappings, %v", len(ms), err)
	}
}
