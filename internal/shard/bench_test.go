package shard

import (
	"hash/fnv"
	"testing"
	"time"
)

// The cost of partitioning 10,000 targets over 50 shards, quoted in
// BENCHMARKS.md, with a peer: modulo of one FNV hash per target (what a
// partition that reshuffles on every addition would cost).
func BenchmarkAssignRendezvous(b *testing.B) {
	keys := Keys(names(10000, "pkg/path.BenchmarkTarget"))
	for b.Loop() {
		Assign(keys, 50, nil)
	}
}

func BenchmarkAssignDurations(b *testing.B) {
	keys := Keys(names(10000, "pkg/path.BenchmarkTarget"))
	d := map[string]time.Duration{}
	for i, k := range keys {
		d[k] = time.Duration(i%977+1) * time.Millisecond
	}
	for b.Loop() {
		Assign(keys, 50, d)
	}
}

func BenchmarkAssignModuloPeer(b *testing.B) {
	keys := Keys(names(10000, "pkg/path.BenchmarkTarget"))
	out := make([]int, len(keys))
	for b.Loop() {
		for i, k := range keys {
			h := fnv.New64a()
			h.Write([]byte(k))
			out[i] = int(h.Sum64() % 50)
		}
	}
}
