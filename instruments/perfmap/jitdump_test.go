package perfmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// jitWriter builds jitdumps the way runtimes write them, for tests.
type jitWriter struct {
	bytes.Buffer
	bo binary.AppendByteOrder
}

func newJITWriter(bo binary.AppendByteOrder, pid uint32, flags uint64) *jitWriter {
	w := &jitWriter{bo: bo}
	w.u32(jitMagic)
	w.u32(1)
	w.u32(jitHeaderSize)
	w.u32(62)
	w.u32(0)
	w.u32(pid)
	w.u64(0)
	w.u64(flags)
	return w
}

func (w *jitWriter) u32(v uint32) { w.Write(w.bo.AppendUint32(nil, v)) }
func (w *jitWriter) u64(v uint64) { w.Write(w.bo.AppendUint64(nil, v)) }

func (w *jitWriter) record(id uint32, ts uint64, body []byte) {
	w.u32(id)
	w.u32(uint32(jitPrefixSize + len(body)))
	w.u64(ts)
	w.Write(body)
}

func (w *jitWriter) load(ts, vma, size, index uint64, name string) {
	var b []byte
	b = w.bo.AppendUint32(b, 7)
	b = w.bo.AppendUint32(b, 7)
	for _, v := range []uint64{vma, vma, size, index} {
		b = w.bo.AppendUint64(b, v)
	}
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, make([]byte, size)...) // the machine code
	w.record(jitCodeLoad, ts, b)
}

func (w *jitWriter) move(ts, from, to, size, index uint64) {
	var b []byte
	b = w.bo.AppendUint32(b, 7)
	b = w.bo.AppendUint32(b, 7)
	for _, v := range []uint64{to, from, to, size, index} {
		b = w.bo.AppendUint64(b, v)
	}
	w.record(jitCodeMove, ts, b)
}

func TestReadJITDump(t *testing.T) {
	for _, bo := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		w := newJITWriter(bo, 42, 0)
		w.load(100, 0x5000, 0x20, 1, "JS:*hot")
		w.record(jitCodeDebugInfo, 101, make([]byte, 24))
		w.load(102, 0x6000, 0x10, 2, "JS:~cold")
		w.move(103, 0x5000, 0x7000, 0x20, 1)
		w.record(jitCodeUnwinding, 104, make([]byte, 40))
		w.record(jitCodeClose, 105, nil)
		d, err := ReadJITDump(bytes.NewReader(w.Bytes()))
		if err != nil {
			t.Fatalf("%v: %v", bo, err)
		}
		want := []Symbol{
			{Start: 0x5000, Size: 0x20, Name: "JS:*hot", Time: 100},
			{Start: 0x6000, Size: 0x10, Name: "JS:~cold", Time: 102},
			{Start: 0x7000, Size: 0x20, Name: "JS:*hot", Time: 103},
		}
		if d.Pid != 42 || d.ElfMach != 62 || !d.Monotonic || len(d.Symbols) != len(want) {
			t.Fatalf("%v: %+v", bo, d)
		}
		for i := range want {
			if d.Symbols[i] != want[i] {
				t.Errorf("%v: symbol %d = %+v, want %+v", bo, i, d.Symbols[i], want[i])
			}
		}
		if d.Records != [6]int{2, 1, 1, 1, 1, 0} {
			t.Errorf("%v: records %v", bo, d.Records)
		}
	}

	// Cut short in its last record (the runtime was killed): the symbols
	// before it are kept, with an error at that record's offset.
	w := newJITWriter(binary.LittleEndian, 1, 1)
	w.load(5, 0x1000, 8, 1, "a")
	whole := w.Len()
	w.load(6, 0x2000, 8, 2, "b")
	d, err := ReadJITDump(bytes.NewReader(w.Bytes()[:w.Len()-3]))
	var je *JITDumpError
	if !errors.As(err, &je) || je.Offset != int64(whole) || d == nil || len(d.Symbols) != 1 {
		t.Fatalf("truncated: %+v, %v", d, err)
	}
	if d.Monotonic || d.Symbols[0].Time != 0 {
		t.Errorf("cycle-counter timestamps kept as times: %+v", d)
	}
	if _, err := ReadJITDump(strings.NewReader("JiTX" + strings.Repeat("\x00", 40))); !errors.As(err, &je) {
		t.Errorf("bad magic: %v", err)
	}
}

// needNode finds node; in CI (which installs Debian's nodejs) its absence
// is a failure.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is not installed (.ci/run installs nodejs): %v", err)
		}
		t.Skip("node is not installed")
	}
	return node
}

// A real jitdump: node --perf-prof writes jit-<pid>.dump into its working
// directory; its code loads name the script's functions.
func TestReadJITDumpNode(t *testing.T) {
	node := needNode(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "fib.js")
	src := "function fibonacci(n) { return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2); }\n" +
		"let t = 0; for (let i = 0; i < 30; i++) t += fibonacci(20); console.log(process.pid, t);\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--perf-prof", "--interpreted-frames-native-stack", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(out))[0])
	f, err := Open(filepath.Join(dir, "jit-"+strconv.Itoa(pid)+".dump"), uint32(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ReadJITDump(f)
	if err != nil {
		t.Fatal(err)
	}
	if int(d.Pid) != pid || !d.Monotonic || d.Records[jitCodeLoad] < 100 {
		t.Fatalf("pid %d (want %d), monotonic %v, records %v", d.Pid, pid, d.Monotonic, d.Records)
	}
	var named int
	for _, s := range d.Symbols {
		if strings.Contains(s.Name, "fibonacci") && strings.Contains(s.Name, "fib.js") {
			named++
			if s.Size == 0 || s.Time == 0 {
				t.Errorf("symbol %+v has no size or time", s)
			}
		}
	}
	if named == 0 {
		t.Fatalf("no code load names fibonacci in %d symbols", len(d.Symbols))
	}
}

func FuzzReadJITDump(f *testing.F) {
	w := newJITWriter(binary.LittleEndian, 3, 0)
	w.load(1, 0x1000, 4, 1, "f")
	w.move(2, 0x1000, 0x2000, 4, 1)
	f.Add(w.Bytes())
	b := newJITWriter(binary.BigEndian, 3, 1)
	b.load(1, 0xffff_ffff_ffff_fff0, 0x20, 1, "wrap")
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadJITDump(bytes.NewReader(data))
		var je *JITDumpError
		if err != nil && !errors.As(err, &je) {
			t.Fatalf("error %v is not a *JITDumpError", err)
		}
		if d == nil {
			if err == nil {
				t.Fatal("no dump and no error")
			}
			return
		}
		for _, s := range d.Symbols {
			if s.End() < s.Start {
				t.Fatalf("symbol wraps: %+v", s)
			}
		}
		NewTable(d.Symbols).Lookup(0x1000)
	})
}
