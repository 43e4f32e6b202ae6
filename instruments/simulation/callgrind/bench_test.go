package callgrind

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// benchFile returns a large callgrind file written by a real program:
// $CALLGRIND_BENCH_FILE if set, else a profile of CPython importing a dozen
// stdlib modules (many thousands of functions, every instruction position
// dumped, cache simulation and jumps on), made once and kept in the temp
// directory because making it takes about 15 s.
func benchFile(b *testing.B) []byte {
	path := os.Getenv("CALLGRIND_BENCH_FILE")
	if path == "" {
		path = filepath.Join(os.TempDir(), "codspeed-go-callgrind-bench-python.out")
		if _, err := os.Stat(path); err != nil {
			// The system interpreter itself, not a version-manager shim
			// (a shell script that callgrind would profile instead).
			py, err := exec.LookPath("/usr/bin/python3")
			if err != nil {
				b.Skip("no /usr/bin/python3 to profile; set CALLGRIND_BENCH_FILE")
			}
			if _, err := exec.LookPath("valgrind"); err != nil {
				b.Skip("valgrind not installed; set CALLGRIND_BENCH_FILE")
			}
			tmp := path + ".tmp"
			cmd := exec.Command("valgrind", "--tool=callgrind", "--dump-instr=yes", "--collect-jumps=yes",
				"--cache-sim=yes", "--compress-strings=no", "--compress-pos=no", "--callgrind-out-file="+tmp, py, "-c",
				"import json,re,decimal,email.mime.text,http.client,xml.dom.minidom,sqlite3,asyncio,unittest,argparse,pickle,csv,zipfile,tarfile,difflib;"+
					"print(len(json.dumps([str(decimal.Decimal(i)/7) for i in range(3000)])))")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("make bench file: %v\n%s", err, out)
			}
			if err := os.Rename(tmp, path); err != nil {
				b.Fatal(err)
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkParse measures parser throughput (MB/s) on a large real file.
func BenchmarkParse(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStacks measures folding a large real call graph into stacks.
func BenchmarkStacks(b *testing.B) {
	p, err := ParseBytes(benchFile(b))
	if err != nil {
		b.Fatal(err)
	}
	if len(p.Parts) == 0 {
		b.Fatal("bench file has no parts")
	}
	part := p.Parts[0]
	for b.Loop() {
		part.Stacks(part.EventIndex("Ir"), StackOptions{})
	}
}
