package shard

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/gobench"
	"github.com/codspeed-go/codspeed-go/results"
)

func names(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// exactlyOnce checks that the plans of shards 1..total together run every
// name once.
func exactlyOnce(t testing.TB, ns []string, total int, d map[string]time.Duration) [][]int {
	t.Helper()
	seen := make([]int, len(ns))
	var runs [][]int
	for i := 1; i <= total; i++ {
		p := Split(Spec{Index: i, Total: total}, ns, d)
		if len(p.Run)+len(p.Skipped) != len(ns) {
			t.Fatalf("shard %d/%d: %d run + %d skipped != %d targets", i, total, len(p.Run), len(p.Skipped), len(ns))
		}
		for _, j := range p.Run {
			seen[j]++
		}
		runs = append(runs, p.Run)
	}
	for j, c := range seen {
		if c != 1 {
			t.Fatalf("target %d (%q) ran %d times over %d shards", j, ns[j], c, total)
		}
	}
	return runs
}

func TestEveryTargetOnce(t *testing.T) {
	for _, total := range []int{1, 2, 3, 7, 50} {
		exactlyOnce(t, names(40, "BenchmarkT"), total, nil)
		exactlyOnce(t, []string{"a", "a", "b", "a"}, total, nil) // duplicate names
	}
}

func TestStableUnderAdditions(t *testing.T) {
	base := names(200, "target-")
	const total = 5
	before := Assign(Keys(base), total, nil)
	added := append(append([]string{}, base...), "a-new-target")
	after := Assign(Keys(added), total, nil)
	for i := range base {
		if before[i] != after[i] {
			t.Errorf("adding one target moved %q from shard %d to %d", base[i], before[i]+1, after[i]+1)
		}
	}
	// Growing the shard count moves only the targets the new shard takes
	// (about 1/(N+1) of them).
	grown := Assign(Keys(base), total+1, nil)
	moved := 0
	for i := range base {
		if grown[i] != before[i] {
			moved++
			if grown[i] != total {
				t.Errorf("%q moved from shard %d to %d, not to the new shard", base[i], before[i]+1, grown[i]+1)
			}
		}
	}
	if moved > len(base)/(total+1)*2 {
		t.Errorf("one more shard moved %d of %d targets", moved, len(base))
	}
}

func TestHashSpread(t *testing.T) {
	ns := names(3000, "b")
	counts := make([]int, 3)
	for _, s := range Assign(Keys(ns), 3, nil) {
		counts[s]++
	}
	for i, c := range counts {
		if c < 900 || c > 1100 {
			t.Errorf("shard %d holds %d of 3000 targets (hash badly spread: %v)", i+1, c, counts)
		}
	}
}

func TestBalancedOnDurations(t *testing.T) {
	ns := []string{"a", "b", "c", "d", "e", "f", "g"}
	d := map[string]time.Duration{"a": 9 * time.Second, "b": 7 * time.Second, "c": 6 * time.Second, "d": 5 * time.Second,
		"e": 4 * time.Second, "f": 3 * time.Second, "g": 2 * time.Second}
	runs := exactlyOnce(t, ns, 3, d)
	// LPT: a->1 (9), b->2 (7), c->3 (6), d->3 (11), e->2 (11), f->1 (12),
	// g->2 (loads 12, 11, 11: the tie goes to the lower shard).
	want := [][]string{{"a", "f"}, {"b", "e", "g"}, {"c", "d"}}
	for i, r := range runs {
		var got []string
		for _, j := range r {
			got = append(got, ns[j])
		}
		if strings.Join(got, ",") != strings.Join(want[i], ",") {
			t.Errorf("shard %d runs %v, want %v", i+1, got, want[i])
		}
	}
	if !Split(Spec{Index: 1, Total: 3}, ns, d).Balanced {
		t.Error("plan from durations not marked balanced")
	}
	if Split(Spec{Index: 1, Total: 3}, ns, nil).Balanced {
		t.Error("plan from hashing marked balanced")
	}
}

func TestParse(t *testing.T) {
	s, err := Parse("2/3")
	if err != nil || s.Index != 2 || s.Total != 3 {
		t.Fatalf("Parse(2/3) = %+v, %v", s, err)
	}
	for _, bad := range []string{"", "3", "0/3", "4/3", "a/3", "1/0", "-1/2", "1/99999"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestDetect(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		env   func(string) string
		total int
		want  string
		ok    bool
		err   string
	}{
		{env(), 0, "", false, ""},
		{env("CI_NODE_INDEX", "2", "CI_NODE_TOTAL", "3"), 0, "2/3", true, ""},
		{env("CI_NODE_INDEX", "2", "CI_NODE_TOTAL", "3", "CI_JOB_NAME", "bench 2/3"), 0, "2/3", true, ""},
		{env("CI_NODE_INDEX", "2", "CI_NODE_TOTAL", "3", "CI_JOB_NAME", "bench: [walltime]"), 0, "", false, ""}, // parallel: matrix
		{env("CI_NODE_TOTAL", "1", "CI_JOB_NAME", "bench"), 0, "", false, ""},                                   // every GitLab job without parallel:
		{env("CI_NODE_INDEX", "", "CI_NODE_TOTAL", "1"), 0, "", false, ""},
		{env("BUILDKITE_PARALLEL_JOB_COUNT", "1"), 0, "", false, ""},
		{env("CI_NODE_INDEX", "2", "CI_NODE_TOTAL", "3", "CI_JOB_NAME", "bench: [2/3]"), 0, "2/3", true, ""}, // gitlab-ci-local's name
		{env("CI_NODE_INDEX", "2", "CI_NODE_TOTAL", "3", "CI_JOB_NAME", "bench: [1/3]"), 0, "", false, ""},   // not this job's index
		{env("CI_NODE_INDEX", "0", "CI_NODE_TOTAL", "3"), 0, "", true, "index must be between 1 and 3"},
		{env("BUILDKITE_PARALLEL_JOB", "0", "BUILDKITE_PARALLEL_JOB_COUNT", "4"), 0, "1/4", true, ""},
		{env("BUILDKITE_PARALLEL_JOB", "x", "BUILDKITE_PARALLEL_JOB_COUNT", "4"), 0, "", true, "not an integer"},
		{env("JOB_COMPLETION_INDEX", "2"), 5, "3/5", true, ""},
		{env("JOB_COMPLETION_INDEX", "2", TotalVar, "3"), 0, "3/3", true, ""},
		{env("JOB_COMPLETION_INDEX", "2"), 0, "", true, "shard count is not"},
	}
	for i, c := range cases {
		s, ok, err := Detect(c.env, c.total)
		if ok != c.ok || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("case %d: ok=%v err=%v, want ok=%v err~%q", i, ok, err, c.ok, c.err)
			continue
		}
		if err == nil && ok && s.String() != c.want {
			t.Errorf("case %d: %s, want %s", i, s, c.want)
		}
	}
}

// FuzzPartition checks the properties on arbitrary names, shard counts and
// durations: every target exactly once, additions move nothing under hashing,
// and LPT stays within the mean load plus the longest target.
func FuzzPartition(f *testing.F) {
	f.Add("a\nb\nc\nd", uint8(3), "5,1,1,9", "zz")
	f.Add("x\nx\ny", uint8(2), "", "x")
	f.Add("", uint8(1), "", "")
	f.Fuzz(func(t *testing.T, list string, n uint8, durs string, extra string) {
		total := int(n%16) + 1
		ns := strings.Split(list, "\n")
		if len(ns) > 300 {
			ns = ns[:300]
		}
		keys := Keys(ns)
		var d map[string]time.Duration
		if durs != "" {
			d = map[string]time.Duration{}
			for i, v := range strings.Split(durs, ",") {
				if i >= len(keys) {
					break
				}
				var ms int64
				fmt.Sscan(v, &ms)
				if ms > 0 && ms < 1e9 {
					d[keys[i]] = time.Duration(ms) * time.Millisecond
				}
			}
		}
		exactlyOnce(t, ns, total, d)
		a := Assign(keys, total, d)
		if b := Assign(keys, total, d); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatal("partition not deterministic")
		}
		if len(d) == 0 {
			after := Assign(Keys(append(append([]string{}, ns...), extra)), total, nil)
			for i := range ns {
				if after[i] != a[i] {
					t.Fatalf("adding %q moved %q", extra, ns[i])
				}
			}
			return
		}
		// Greedy bound: max load <= sum/total + longest.
		var sum, longest time.Duration
		var known time.Duration
		cnt := 0
		for _, k := range keys {
			if v, ok := d[k]; ok {
				known += v
				cnt++
			}
		}
		mean := known / time.Duration(cnt)
		load := make([]time.Duration, total)
		for i, k := range keys {
			c, ok := d[k]
			if !ok {
				c = mean
			}
			sum += c
			longest = max(longest, c)
			load[a[i]] += c
		}
		for s, l := range load {
			if l > sum/time.Duration(total)+longest+time.Duration(total) {
				t.Fatalf("shard %d load %v > mean %v + longest %v", s+1, l, sum/time.Duration(total), longest)
			}
		}
	})
}

func TestDurations(t *testing.T) {
	b := func(mode, target string, ns int64) Measured {
		m := Measured{Mode: mode}
		m.Sandbox = &results.Sandbox{Target: target, TargetNs: ns}
		return m
	}
	d := Durations([]Measured{
		b("walltime", "a", 100), b("walltime", "a", 100), // two benchmarks of one target
		b("simulation", "a", 50), b("walltime", "b", 10), b("walltime", "", 99), {Mode: "walltime"},
	})
	if len(d) != 2 || d["a"] != 150 || d["b"] != 10 {
		t.Fatalf("durations %v, want a 150ns (both modes), b 10ns", d)
	}
}

// FuzzGoTargetPattern: the -bench pattern a shard's Go target gets selects
// exactly its benchmarks among any others, and keeps the deeper levels.
func FuzzGoTargetPattern(f *testing.F) {
	f.Add("BenchmarkA,BenchmarkB", "BenchmarkAB", "sub")
	f.Add("Benchmark_x", "Benchmarkx", "")
	f.Fuzz(func(t *testing.T, list, other, deeper string) {
		var names []string
		for _, n := range strings.Split(list, ",") {
			if isIdent(n) && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 || strings.ContainsAny(deeper, "\x00") {
			return
		}
		bench := "."
		if deeper != "" {
			if _, err := regexp.Compile(deeper); err != nil || strings.ContainsAny(deeper, "/()[]") {
				return
			}
			bench = "./" + deeper
		}
		tgt := goTarget(instruments.Target{Name: "go", Kind: instruments.Entrypoint, Args: []string{"go", "test", "-bench", bench, "./..."}}, "example.com/p", names, false)
		g, err := gobench.ParseTestCommand(tgt.Args)
		if err != nil {
			t.Fatal(err)
		}
		top, err := g.TopLevelRegexp()
		if err != nil {
			t.Fatalf("%q: %v", g.Bench, err)
		}
		for _, n := range names {
			if !top.MatchString(n) {
				t.Fatalf("%q does not select %s", g.Bench, n)
			}
		}
		if isIdent(other) && !slices.Contains(names, other) && top.MatchString(other) {
			t.Fatalf("%q selects %s too", g.Bench, other)
		}
		if levels := gobench.SplitBenchRegexp(g.Bench); deeper != "" && (len(levels) != 2 || levels[1] != deeper) {
			t.Fatalf("%q lost the deeper level %q", g.Bench, deeper)
		}
		if fmt.Sprint(g.Pkgs) != "[example.com/p]" {
			t.Fatalf("packages %v", g.Pkgs)
		}
	})
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
