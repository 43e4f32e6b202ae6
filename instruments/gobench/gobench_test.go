package gobench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

const sample = `goos: linux
goarch: amd64
pkg: example.com/m/sortx
cpu: Some CPU @ 2.00GHz
BenchmarkSort/n=10-2         	 5000000	       240.5 ns/op	      80 B/op	       1 allocs/op
BenchmarkSort/n=10-2         	 5000000	       241.0 ns/op	      80 B/op	       1 allocs/op
BenchmarkSort/n=1000/rev-2   	   20000	     61234 ns/op
BenchmarkPlain               	 1000000	      1000 ns/op
BenchmarkBroken-2            	 notanumber	      1000 ns/op
PASS
ok  	example.com/m/sortx	3.2s
`

func TestParse(t *testing.T) {
	res, errs := Parse(strings.NewReader(sample), "out")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "out:9") {
		t.Fatalf("errors: %v", errs)
	}
	if len(res) != 4 {
		t.Fatalf("got %d results: %+v", len(res), res)
	}
	r := res[0]
	if r.Pkg != "example.com/m/sortx" || r.Name != "BenchmarkSort/n=10" || r.Iters != 5000000 ||
		r.NsPerOp != 240.5 || r.BytesPerOp != 80 || r.AllocsPerOp != 1 || !r.HasMem {
		t.Fatalf("first result: %+v", r)
	}
	if res[2].Name != "BenchmarkSort/n=1000/rev" || res[2].HasMem {
		t.Fatalf("third: %+v", res[2])
	}
	if res[3].Name != "BenchmarkPlain" {
		t.Fatalf("no GOMAXPROCS suffix: %+v", res[3])
	}
}

func TestURI(t *testing.T) {
	if got := URI("pkg/sort_test.go", "BenchmarkSort/n=1000/rev"); got != "pkg/sort_test.go::BenchmarkSort::n=1000::rev" {
		t.Fatal(got)
	}
}

func TestIsGoTest(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"go", "test", "-bench=.", "./..."}, true},
		{[]string{"/usr/local/go/bin/go", "test", "-run", "^$", "-bench", "X", "./pkg"}, true},
		{[]string{"go", "test", "--bench=.", "./..."}, true},
		{[]string{"go", "test", "-test.bench=."}, true},
		{[]string{"go", "test", "./..."}, false},
		{[]string{"go", "test", "-args", "-bench=."}, false},
		{[]string{"go", "build", "-bench=."}, false},
		{[]string{"gotest", "test", "-bench=."}, false},
		{[]string{"go"}, false},
	} {
		if got := IsGoTest(tt.args); got != tt.want {
			t.Errorf("IsGoTest(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
	if !HasFlag([]string{"go", "test", "-count=3"}, "count") || HasFlag([]string{"go", "test", "-countx"}, "count") {
		t.Error("HasFlag")
	}
}

// TestLocateRealPackage runs real `go test -bench` on a module made in the
// test and checks names and URIs end to end.
func TestLocateRealPackage(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Missing(t, "no go command")
	}
	root := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.22\n")
	write("inner/calc_test.go", `package inner

import ("testing"; "strconv")

func BenchmarkItoa(b *testing.B) {
	for i := 0; i < b.N; i++ { _ = strconv.Itoa(i) }
}

func BenchmarkSub(b *testing.B) {
	b.Run("small", func(b *testing.B) { for i := 0; i < b.N; i++ { _ = strconv.Itoa(7) } })
}
`)
	cmd := exec.Command("go", "test", "-run=^$", "-bench=.", "-benchtime=100x", "-benchmem", "./...")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test: %v\n%s", err, out)
	}
	res, errs := Parse(strings.NewReader(string(out)), "go test")
	if len(errs) > 0 || len(res) != 2 {
		t.Fatalf("parse: %v %+v\n%s", errs, res, out)
	}
	l := &Locator{Dir: root, Root: root}
	want := map[string]string{
		"BenchmarkItoa":      "inner/calc_test.go::BenchmarkItoa",
		"BenchmarkSub/small": "inner/calc_test.go::BenchmarkSub::small",
	}
	for _, r := range res {
		got := URI(l.File(context.Background(), r.Pkg, r.Name), r.Name)
		if got != want[r.Name] {
			t.Errorf("%s: URI %q, want %q", r.Name, got, want[r.Name])
		}
		if r.Iters != 100 || !r.HasMem {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("BenchmarkX 1 1 ns/op\n")
	f.Fuzz(func(t *testing.T, s string) {
		res, _ := Parse(strings.NewReader(s), "fuzz")
		for _, r := range res {
			if !strings.HasPrefix(r.Name, "Benchmark") {
				t.Fatalf("name %q", r.Name)
			}
		}
	})
}
