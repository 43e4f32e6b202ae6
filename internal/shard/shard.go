// Package shard splits one benchmark suite over the parallel jobs of a CI
// engine (GitLab `parallel:`, Buildkite parallelism, Kubernetes Indexed Jobs,
// a GitHub matrix or Jenkins parallel stages given `--shard I/N`).
//
// Every node computes the same partition from the same inputs: the target
// names, the shard count and, when a results server is given, the durations it
// recorded for the base branch. Nothing machine-local (host names, clocks,
// file order on disk) enters it.
//
// Without durations a target goes to the shard that ranks highest for it under
// rendezvous (highest random weight) hashing: a target's shard depends on its
// name and the shard count only, so adding or removing a target moves no
// other. With durations the partition is longest-processing-time first: the
// longest target goes to the least loaded shard, ties broken by name and then
// by the lower shard number, which keeps the longest shard within the classic
// bound of the mean load plus the longest target.
package shard

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spec is one shard of a suite: Index is 1-based, 1 <= Index <= Total.
type Spec struct {
	Index, Total int
	// Source says where the spec came from: "--shard", or the variables
	// of the CI engine that set it.
	Source string
}

// String is the I/N form.
func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Total) }

// Parse reads "I/N" (1-based).
func Parse(v string) (Spec, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok {
		return Spec{}, fmt.Errorf("shard %q: want I/N, e.g. 1/3", v)
	}
	idx, err1 := strconv.Atoi(strings.TrimSpace(i))
	tot, err2 := strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil {
		return Spec{}, fmt.Errorf("shard %q: I and N must be integers, e.g. 1/3", v)
	}
	return check(Spec{Index: idx, Total: tot, Source: "--shard"})
}

// maxTotal bounds the shard count: more shards than this is a typo.
const maxTotal = 10000

func check(s Spec) (Spec, error) {
	if s.Total < 1 || s.Total > maxTotal {
		return Spec{}, fmt.Errorf("shard %s (%s): the shard count must be between 1 and %d", s, s.Source, maxTotal)
	}
	if s.Index < 1 || s.Index > s.Total {
		return Spec{}, fmt.Errorf("shard %s (%s): the index must be between 1 and %d", s, s.Source, s.Total)
	}
	return s, nil
}

// TotalVar gives the shard count of a Kubernetes Indexed Job, whose pods know
// their index (JOB_COMPLETION_INDEX) but not the completions count.
const TotalVar = "CODSPEED_SHARD_TOTAL"

// Detect reads the shard from a CI engine's variables: GitLab `parallel: N`
// (CI_NODE_INDEX 1-based, CI_NODE_TOTAL; not `parallel: matrix:`, whose
// jobs are not named "NAME I/N"), Buildkite parallelism
// (BUILDKITE_PARALLEL_JOB 0-based, BUILDKITE_PARALLEL_JOB_COUNT), a
// Kubernetes Indexed Job (JOB_COMPLETION_INDEX 0-based with total, from
// --shard-total, or CODSPEED_SHARD_TOTAL). ok is false when none is set.
// A parallel job of one node is a shard 1/1: everything runs.
func Detect(getenv func(string) string, total int) (s Spec, ok bool, err error) {
	atoi := func(key string) (int, error) {
		v := strings.TrimSpace(getenv(key))
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%s=%q is not an integer", key, v)
		}
		return n, nil
	}
	pair := func(src, ik, nk string, base int) (Spec, bool, error) {
		i, err := atoi(ik)
		if err != nil {
			return Spec{}, true, err
		}
		n, err := atoi(nk)
		if err != nil {
			return Spec{}, true, err
		}
		s, err := check(Spec{Index: i + 1 - base, Total: n, Source: src})
		return s, true, err
	}
	switch {
	// GitLab sets CI_NODE_TOTAL=1 on every job without `parallel:` and
	// CI_NODE_INDEX only on the jobs of one; Buildkite, the same way: the
	// index decides.
	case getenv("CI_NODE_INDEX") != "":
		s, ok, err := pair("GitLab CI_NODE_INDEX/CI_NODE_TOTAL", "CI_NODE_INDEX", "CI_NODE_TOTAL", 1)
		// `parallel: matrix:` sets the same variables for jobs that each
		// run something else (a mode, a platform): those are not shards.
		// `parallel: N` names its jobs "NAME I/N" (gitlab-ci-local, which
		// runs GitLab pipelines on a workstation: "NAME: [I/N]").
		if job := getenv("CI_JOB_NAME"); err == nil && job != "" && !strings.HasSuffix(job, " "+s.String()) && !strings.HasSuffix(job, ": ["+s.String()+"]") {
			return Spec{}, false, nil
		}
		return s, ok, err
	case getenv("BUILDKITE_PARALLEL_JOB") != "":
		return pair("Buildkite BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT", "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0)
	case getenv("JOB_COMPLETION_INDEX") != "":
		i, err := atoi("JOB_COMPLETION_INDEX")
		if err != nil {
			return Spec{}, true, err
		}
		src := "Kubernetes JOB_COMPLETION_INDEX and --shard-total"
		if total == 0 {
			if getenv(TotalVar) == "" {
				return Spec{}, true, fmt.Errorf("JOB_COMPLETION_INDEX=%d is set but the shard count is not: give --shard-total N or %s=N (the Job's completions)", i, TotalVar)
			}
			if total, err = atoi(TotalVar); err != nil {
				return Spec{}, true, err
			}
			src = "Kubernetes JOB_COMPLETION_INDEX and " + TotalVar
		}
		s, err := check(Spec{Index: i + 1, Total: total, Source: src})
		return s, true, err
	}
	return Spec{}, false, nil
}

// Keys makes unique partition keys of target names: a name used twice is
// told apart by its occurrence ("name#2"), in the given (config) order.
func Keys(names []string) []string {
	seen := map[string]int{}
	keys := make([]string, len(names))
	for i, n := range names {
		seen[n]++
		keys[i] = n
		if c := seen[n]; c > 1 {
			keys[i] = n + "#" + strconv.Itoa(c)
		}
	}
	return keys
}

// Assign returns the shard (0-based) of every key, for total shards. Keys must
// be unique (see Keys). With durations (a recorded duration per key; keys
// without one count as the mean of those recorded) the assignment is
// longest-processing-time first; with none, rendezvous hashing.
func Assign(keys []string, total int, durations map[string]time.Duration) []int {
	out, _ := assign(keys, total, durations)
	return out
}

// assign is Assign, also saying whether recorded durations placed the keys.
func assign(keys []string, total int, durations map[string]time.Duration) (out []int, balanced bool) {
	out = make([]int, len(keys))
	var sum time.Duration
	known := 0
	for _, k := range keys {
		if d, ok := durations[k]; ok && d > 0 {
			sum += d
			known++
		}
	}
	if total <= 1 {
		return out, known > 0
	}
	if known == 0 {
		for i, k := range keys {
			out[i] = Rendezvous(k, total)
		}
		return out, false
	}
	mean := sum / time.Duration(known)
	if mean <= 0 {
		mean = 1
	}
	cost := make([]time.Duration, len(keys))
	order := make([]int, len(keys))
	for i, k := range keys {
		order[i] = i
		cost[i] = mean
		if d, ok := durations[k]; ok && d > 0 {
			cost[i] = d
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(cost[b], cost[a]), cmp.Compare(keys[a], keys[b]))
	})
	load := make([]time.Duration, total)
	for _, i := range order {
		best := 0
		for s := 1; s < total; s++ {
			if load[s] < load[best] {
				best = s
			}
		}
		out[i] = best
		load[best] += cost[i]
	}
	return out, true
}

// Rendezvous is the shard (0-based) that ranks highest for key among total:
// the one whose hash of (key, shard) is largest.
func Rendezvous(key string, total int) int {
	best, bestW := 0, uint64(0)
	buf := make([]byte, 0, len(key)+9)
	for s := 0; s < total; s++ {
		buf = append(buf[:0], key...)
		buf = append(buf, 0)
		buf = binary.BigEndian.AppendUint64(buf, uint64(s))
		sum := sha256.Sum256(buf)
		w := binary.BigEndian.Uint64(sum[:8])
		if s == 0 || w > bestW {
			best, bestW = s, w
		}
	}
	return best
}

// Plan is one shard's share: the indexes (into the names given to Split) it
// runs, and those it leaves to the other shards.
type Plan struct {
	Spec Spec
	// Keys are the names' partition keys (see Keys), index for index.
	Keys    []string
	Run     []int
	Skipped []int
	// Balanced is true when recorded durations placed the targets.
	Balanced bool
}

// Split is the plan of spec over names (config order kept in Run and
// Skipped).
func Split(spec Spec, names []string, durations map[string]time.Duration) Plan {
	keys := Keys(names)
	shards, balanced := assign(keys, spec.Total, durations)
	p := Plan{Spec: spec, Keys: keys, Balanced: balanced}
	for i, s := range shards {
		if s == spec.Index-1 {
			p.Run = append(p.Run, i)
		} else {
			p.Skipped = append(p.Skipped, i)
		}
	}
	return p
}
