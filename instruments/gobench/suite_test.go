package gobench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// suiteModule writes a module in a git work tree: package a (a benchmark
// with two sub-benchmarks, in an external test file), package b (one that
// passes, one that fails) and package c (no benchmark).
func suiteModule(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.mod":             "module example.com/suite\n\ngo 1.22\n",
		"proj/a/a.go":        "package a\n\nfunc Sum(n int) (s int) {\n\tfor i := 0; i < n; i++ {\n\t\ts += i\n\t}\n\treturn\n}\n",
		"proj/a/a_x_test.go": "package a_test\n\nimport (\n\t\"testing\"\n\n\t\"example.com/suite/proj/a\"\n)\n\nfunc BenchmarkSum(b *testing.B) {\n\tfor _, n := range []string{\"10\", \"100\"} {\n\t\tb.Run(\"n=\"+n, func(b *testing.B) {\n\t\t\tfor i := 0; i < b.N; i++ {\n\t\t\t\ta.Sum(len(n) * 10)\n\t\t\t}\n\t\t})\n\t}\n}\n",
		"proj/b/b.go":        "package b\n",
		"proj/b/b_test.go":   "package b\n\nimport \"testing\"\n\nfunc BenchmarkOK(b *testing.B) {\n\tfor i := 0; i < b.N; i++ {\n\t}\n}\n\nfunc BenchmarkFails(b *testing.B) {\n\tb.Fatal(\"broken\")\n}\n",
		"proj/c/c.go":        "package c\n",
		"proj/c/c_test.go":   "package c\n\nimport \"testing\"\n\nfunc TestNothing(t *testing.T) {}\n",
		".git/HEAD":          "ref: refs/heads/main\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestSuiteRun: the shared skeleton builds each package with benchmarks
// once, lists its leaves (the default ListLeaves), names each under the
// file that declares it relative to the git root, keeps a leaf that failed
// in the listing run or in Measure as an error among the others, and says
// when nothing matched.
func TestSuiteRun(t *testing.T) {
	root := suiteModule(t)
	var built, measured []string
	suite := Suite{
		Phase: "measuring",
		Build: func(ctx context.Context, dir string, env []string, g TestCommand, pkg, bin string) error {
			built = append(built, pkg)
			return BuildTestBinary(ctx, dir, env, g, pkg, bin)
		},
		Measure: func(ctx context.Context, b *results.Benchmark, lf Leaf, bin, pkgDir string) error {
			measured = append(measured, b.URI)
			if strings.HasSuffix(lf.Name, "n=100") {
				return errors.New("measure refused")
			}
			return nil
		},
	}
	g, err := ParseTestCommand([]string{"go", "test", "-bench", ".", "./..."})
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	bs, err := suite.Run(context.Background(), g, filepath.Join(root, "proj"), os.Environ(), phases{&progress})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"example.com/suite/proj/a", "example.com/suite/proj/b"}; !slices.Equal(built, want) {
		t.Errorf("built %v, want %v (c has no benchmark)", built, want)
	}
	got := map[string]string{}
	for _, b := range bs {
		got[b.URI] = b.Error
	}
	want := map[string]string{
		"proj/a/a_x_test.go::BenchmarkSum::n=10":  "",
		"proj/a/a_x_test.go::BenchmarkSum::n=100": "measure refused",
		"proj/b/b_test.go::BenchmarkOK":           "",
	}
	for uri, e := range want {
		if g, ok := got[uri]; !ok || g != e {
			t.Errorf("%s: error %q (present %v), want %q\nall: %v", uri, g, ok, e, got)
		}
	}
	if e := got["proj/b/b_test.go::BenchmarkFails"]; !strings.HasPrefix(e, "benchmark failed in its listing run: --- FAIL: BenchmarkFails") {
		t.Errorf("BenchmarkFails: error %q", e)
	}
	if len(bs) != 4 || len(measured) != 3 {
		t.Errorf("%d benchmarks, %d measured: %v", len(bs), len(measured), measured)
	}
	if !strings.Contains(progress.String(), "BenchmarkOK measuring") {
		t.Errorf("progress: %s", progress.String())
	}

	g, _ = ParseTestCommand([]string{"go", "test", "-bench", "NoSuch", "./..."})
	if _, err := suite.Run(context.Background(), g, filepath.Join(root, "proj"), os.Environ(), nil); !errors.Is(err, instruments.ErrNoBenchmarks) {
		t.Errorf("no match: %v, want ErrNoBenchmarks", err)
	}
}

type phases struct{ w *bytes.Buffer }

func (p phases) Phase(b, ph string) { p.w.WriteString(b + " " + ph + "\n") }
func (p phases) Step(int, int)      {}
func (p phases) Warn(string)        {}
