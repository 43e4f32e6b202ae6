package walltime

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/testenv"
)

// TestStandardLibraryBenchmarks runs a real package's benchmarks (the
// standard library's unicode/utf8) through the walltime entrypoint path:
// one result per Benchmark and sub-benchmark, CodSpeed's URIs, rounds from
// -count, and the -benchmem figures kept.
func TestStandardLibraryBenchmarks(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Missing(t, "no go command")
	}
	dir := t.TempDir()
	args := []string{"go", "test", "-run=^$", "-bench=^(BenchmarkFullRune|BenchmarkValidTenASCIIChars)$", "-benchtime=2000x", "-benchmem", "unicode/utf8"}
	target := instruments.Target{Name: "utf8", Kind: instruments.Entrypoint, Command: "go test ...", Args: args, Dir: dir,
		Options: instruments.Options{MaxRounds: ptr(int64(3))}}
	in := New("", Options{})
	in.HooksDir = t.TempDir()
	env := instruments.Env{ProfileFolder: filepath.Join(dir, "pf"), BaseEnv: os.Environ(), Progress: instruments.NopProgress{}}
	benches, err := in.Measure(context.Background(), target, env)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.ToSlash(filepath.Join(runtime.GOROOT(), "src", "unicode", "utf8", "utf8_test.go"))
	want := map[string]string{
		"BenchmarkFullRune/ASCII":      file + "::BenchmarkFullRune::ASCII",
		"BenchmarkFullRune/Incomplete": file + "::BenchmarkFullRune::Incomplete",
		"BenchmarkFullRune/Japanese":   file + "::BenchmarkFullRune::Japanese",
		"BenchmarkValidTenASCIIChars":  file + "::BenchmarkValidTenASCIIChars",
	}
	if len(benches) != len(want) {
		t.Fatalf("got %d benchmarks: %+v", len(benches), benches)
	}
	for _, b := range benches {
		if want[b.Name] != b.URI {
			t.Errorf("%s: URI %q, want %q", b.Name, b.URI, want[b.Name])
		}
		if b.Stats == nil || b.Stats.Rounds != 3 || len(b.Samples) != 3 || b.Stats.IterPerRound != 2000 || b.Stats.MedianNs <= 0 {
			t.Errorf("%s: stats %+v", b.Name, b.Stats)
		}
		if b.GoBench == nil || b.GoBench.Iterations != 2000 {
			t.Errorf("%s: go figures %+v", b.Name, b.GoBench)
		}
	}

	// The -benchmem figures are kept: the example package allocates (111
	// allocations per Count call, see its own test output).
	root, _ := filepath.Abs("../..")
	target = instruments.Target{Name: "wordfreq", Kind: instruments.Entrypoint, Command: "go test ...", Dir: root,
		Args:    []string{"go", "test", "-run=^$", "-bench=^BenchmarkCount$", "-benchtime=500x", "-benchmem", "./examples/go/wordfreq"},
		Options: instruments.Options{MaxRounds: ptr(int64(2))}}
	withRoot := New(root, Options{})
	withRoot.HooksDir = in.HooksDir
	benches, err = withRoot.Measure(context.Background(), target, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 1 || benches[0].GoBench == nil || benches[0].GoBench.AllocsPerOp != 111 || benches[0].GoBench.BytesPerOp < 1000 {
		t.Fatalf("-benchmem figures not kept: %+v", benches[0].GoBench)
	}
	// With the git root known, the URI's file is relative to it, as CodSpeed's.
	if benches[0].URI != "examples/go/wordfreq/wordfreq_test.go::BenchmarkCount" {
		t.Errorf("URI %q", benches[0].URI)
	}
}
