package simulation

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
)

func goTarget(t *testing.T, bench string) instruments.Target {
	dir, err := filepath.Abs("testdata/gobench")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"go", "test", "-bench=" + bench, "-benchmem", "."}
	return instruments.Target{Name: "gobench", Kind: instruments.Entrypoint, Command: strings.Join(args, " "), Args: args, Dir: dir}
}

// TestGoBenchmarks measures the testdata Go package: every benchmark and
// sub-benchmark comes back under CodSpeed's URI; a second measurement
// agrees within 0.01%; BenchmarkKnown (10000 ADDQ + RET + the loop) is
// within 1% of 10000 instructions per op.
func TestGoBenchmarks(t *testing.T) {
	in := needValgrind(t)
	in.opts.GoTargetNs = 3e6
	bench := "."
	if b := os.Getenv("SIMTEST_BENCH"); b != "" {
		bench = b
	}
	tg := goTarget(t, bench)
	start := time.Now()
	first, _ := measure(t, in, tg)
	t.Logf("first measurement: %v", time.Since(start))
	second, _ := measure(t, in, tg)
	prefix := "instruments/simulation/testdata/gobench/"
	want := []string{
		prefix + "bench_test.go::BenchmarkFib20",
		prefix + "bench_test.go::BenchmarkKnown",
		prefix + "bench_test.go::BenchmarkSort::n=100::reversed",
		prefix + "bench_test.go::BenchmarkSort::n=100::sorted",
		prefix + "bench_test.go::BenchmarkSort::n=1000::reversed",
		prefix + "bench_test.go::BenchmarkSort::n=1000::sorted",
		prefix + "bench_test.go::BenchmarkLoopAlloc",
		prefix + "other_test.go::BenchmarkExternal",
	}
	a, b := byURI(first), byURI(second)
	if len(first) != len(want) {
		t.Errorf("got %d benchmarks, want %d", len(first), len(want))
	}
	for _, uri := range want {
		x, ok := a[uri]
		if !ok {
			t.Errorf("missing %s (have %v)", uri, keys(a))
			continue
		}
		y := b[uri]
		d := math.Abs(x.Simulation.Instructions-y.Simulation.Instructions) / x.Simulation.Instructions
		t.Logf("%s: %.3f / %.3f instructions/op (rel diff %.2g), L1m %.3f, LLm %.3f, N=%d", uri, x.Simulation.Instructions, y.Simulation.Instructions, d, x.Simulation.L1Misses, x.Simulation.LLMisses, x.GoBench.Iterations)
		if !(x.Simulation.Instructions > 0) {
			t.Errorf("%s: no instructions", uri)
		}
		if d > 1e-4 {
			t.Errorf("%s: runs differ by %.3g (> 0.01%%)", uri, d)
		}
	}
	known := a[prefix+"bench_test.go::BenchmarkKnown"].Simulation.Instructions
	if math.Abs(known-10000) > 100 {
		t.Errorf("BenchmarkKnown = %.2f instructions/op, want 10000 within 1%%", known)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
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
}

func TestParseGoTestArgs(t *testing.T) {
	g, err := parseGoTestArgs(strings.Fields("go test -C sub -tags=a,b -race -bench Sort/n=1 -benchtime=3s -count 5 -short -timeout 5m ./x ./y -args -custom=1"))
	if err != nil {
		t.Fatal(err)
	}
	if g.dir != "sub" || g.bench != "Sort/n=1" || strings.Join(g.pkgs, " ") != "./x ./y" {
		t.Errorf("got %+v", g)
	}
	if strings.Join(g.build, " ") != "-tags=a,b -race" {
		t.Errorf("build = %q", g.build)
	}
	if strings.Join(g.binFlags, " ") != "-test.short -test.timeout=5m -custom=1" {
		t.Errorf("binFlags = %q", g.binFlags)
	}
	if strings.Join(g.ignored, " ") != "-benchtime=3s -count" {
		t.Errorf("ignored = %q", g.ignored)
	}
	if _, err := parseGoTestArgs([]string{"go", "test", "-bench"}); err == nil {
		t.Error("missing value not reported")
	}
}

func TestSplitBenchRegexp(t *testing.T) {
	for in, want := range map[string]string{
		"":             ".",
		"A/B":          "A|B",
		"A(x/y)/B":     "A(x/y)|B",
		"A[/]/B":       "A[/]|B",
		`A\/B`:         `A\/B`,
		"^Sort$/n=100": "^Sort$|n=100",
	} {
		if got := strings.Join(splitBenchRegexp(in), "|"); got != want {
			t.Errorf("split(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIterationsFor(t *testing.T) {
	for _, tt := range []struct {
		ns, target float64
		want       int64
	}{
		{1000, 1e7, 10000}, {700, 1e7, 10000}, {400, 1e7, 20000}, {150, 1e7, 50000},
		{1e9, 1e7, 100}, {0, 1e7, 1e7}, {0.1, 1e7, 1e7},
	} {
		if got := iterationsFor(tt.ns, tt.target); got != tt.want {
			t.Errorf("iterationsFor(%v, %v) = %d, want %d", tt.ns, tt.target, got, tt.want)
		}
	}
}

func TestBenchSelector(t *testing.T) {
	if got := benchSelector("BenchmarkSort/n=100/a.b"); got != `^BenchmarkSort$/^n=100$/^a\.b$` {
		t.Errorf("got %q", got)
	}
	_ = context.Background
}
