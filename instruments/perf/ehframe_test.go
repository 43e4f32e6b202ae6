package perf

import (
	"bufio"
	"bytes"
	"debug/elf"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// readelfRow is one row of `readelf --debug-dump=frames-interp`.
type readelfRow struct {
	loc      uint64
	cfa, rbp string
	ra       string
}

var fdeLine = regexp.MustCompile(`FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)`)

// readelfRows runs binutils' own interpretation of an object's .eh_frame.
func readelfRows(t *testing.T, path string) []readelfRow {
	t.Helper()
	// readelf exits 1 when it cannot find separate debug files, having
	// printed the frames all the same.
	out, err := exec.Command("readelf", "--debug-dump=frames-interp", path).Output()
	if len(out) == 0 {
		testenv.Missing(t, "readelf (binutils) printed nothing: %v", err)
	}
	var rows []readelfRow
	var cols []string
	inFDE := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case fdeLine.MatchString(line):
			inFDE, cols = true, nil
		case strings.Contains(line, " CIE "):
			inFDE, cols = false, nil
		case len(f) > 1 && f[0] == "LOC":
			cols = f
		case inFDE && cols != nil && len(f) == len(cols):
			loc, err := strconv.ParseUint(f[0], 16, 64)
			if err != nil {
				continue
			}
			r := readelfRow{loc: loc, cfa: f[1], rbp: "u"}
			for i, c := range cols {
				switch c {
				case "rbp":
					r.rbp = f[i]
				case "ra":
					r.ra = f[i]
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func tableOf(t *testing.T, path string) *unwindTable {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sec := f.Section(".eh_frame")
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := parseEHFrame(data, sec.Addr, regsAMD64, uint32(f.Machine))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tab
}

// The flattened table agrees with readelf's interpretation of every row of
// the C example and of the C library (remember/restore state, expressions,
// signal frames).
func TestEHFrameMatchesReadelf(t *testing.T) {
	bin := buildPrimes(t, "primes-nofp", "-O2", "-g", "-fomit-frame-pointer")
	for _, path := range []string{bin, "/usr/lib/x86_64-linux-gnu/libc.so.6"} {
		t.Run(path[strings.LastIndex(path, "/")+1:], func(t *testing.T) {
			rows := readelfRows(t, path)
			if len(rows) < 3 {
				t.Fatalf("readelf printed %d rows", len(rows))
			}
			tab := tableOf(t, path)
			bad := 0
			for _, want := range rows {
				got, ok := tab.lookup(want.loc)
				if !ok {
					t.Errorf("%#x: no row, readelf says CFA %s", want.loc, want.cfa)
					bad++
				} else if g, w := describe(got), expect(want); g != w {
					t.Errorf("%#x: got %s, readelf says %s", want.loc, g, w)
					bad++
				}
				if bad > 10 {
					t.Fatal("too many differences")
				}
			}
			t.Logf("%d rows compared, table has %d", len(rows), len(tab.Rows))
		})
	}
}

func describe(r unwindRow) string {
	if r.CFA == cfaOther {
		return "stop"
	}
	s := ""
	switch r.CFA {
	case cfaSP:
		s = "rsp+" + strconv.Itoa(int(r.CFAOff))
	case cfaFP:
		s = "rbp+" + strconv.Itoa(int(r.CFAOff))
	}
	switch r.FP {
	case fpSaved:
		s += " rbp=c" + strconv.Itoa(int(r.FPOff))
	case fpOther:
		s += " rbp=?"
	}
	return s + " ra=c" + strconv.Itoa(int(r.RAOff))
}

func expect(r readelfRow) string {
	// Unwinding stops where the return address is undefined, and where the
	// CFA is an expression or based on a register the sample lacks.
	if r.ra == "u" || !(strings.HasPrefix(r.cfa, "rsp+") || strings.HasPrefix(r.cfa, "rbp+")) {
		return "stop"
	}
	s := r.cfa
	switch {
	case r.rbp == "u":
	case strings.HasPrefix(r.rbp, "c"):
		s += " rbp=" + r.rbp
	default:
		s += " rbp=?"
	}
	ra := r.ra
	if ra == "" {
		ra = "c-8"
	}
	return s + " ra=" + ra
}
