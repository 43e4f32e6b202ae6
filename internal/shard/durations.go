package shard

import (
	"time"

	"github.com/codspeed-go/codspeed-go/results"
)

// Durations are the recorded durations of the targets of a run, from its
// benchmarks (of every mode: a shard runs its targets in every mode): per
// target, the sum over modes of how long measuring it took. Benchmarks that
// do not name their target (runs made before targets were recorded, uploads
// of other runners) are left out; so are names used by several targets,
// which the partition keys apart ("name#2").
func Durations(bs []Measured) map[string]time.Duration {
	perMode := map[[2]string]int64{}
	for _, b := range bs {
		if b.Sandbox == nil || b.Sandbox.Target == "" || b.Sandbox.TargetNs <= 0 {
			continue
		}
		k := [2]string{b.Mode, b.Sandbox.Target}
		perMode[k] = max(perMode[k], b.Sandbox.TargetNs)
	}
	out := map[string]time.Duration{}
	for k, ns := range perMode {
		out[k[1]] += time.Duration(ns)
	}
	return out
}

// Measured is one benchmark of a recorded run with the mode that measured
// it.
type Measured struct {
	Mode string
	results.Benchmark
}
