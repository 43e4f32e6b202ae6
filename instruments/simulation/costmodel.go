package simulation

import (
	"github.com/codspeed-go/codspeed-go/instruments/simulation/callgrind"
	"github.com/codspeed-go/codspeed-go/results"
)

// DefaultCostModel is KCachegrind's classic cycle estimate, Ir + 10 x L1
// misses + 100 x LL misses, at a nominal 3.0 GHz: a round figure for a
// current server core, stated in every result so that time_ns is never
// mistaken for a measurement. Syscall time is not part of the estimate (it
// is wall time, not simulated, and varies run to run); it is reported
// separately as sys_ns.
func DefaultCostModel() results.CostModel {
	return results.CostModel{
		Name:              "ir+10*l1m+100*llm@3GHz",
		InstructionWeight: 1,
		L1MissWeight:      10,
		LLMissWeight:      100,
		FrequencyGHz:      3.0,
	}
}

// Counts are the raw simulated figures of one benchmark (per iteration once
// divided).
type Counts struct {
	// Instructions is callgrind's Ir.
	Instructions float64
	// L1Misses is I1mr + D1mr + D1mw: instruction fetch, data read and data
	// write misses of the simulated first-level caches.
	L1Misses float64
	// LLMisses is ILmr + DLmr + DLmw: the same misses at the last level.
	LLMisses float64
	// SysNs is the elapsed time spent in system calls (callgrind's sysTime
	// with --collect-systime=nsec).
	SysNs float64
}

// CountsOf reads a dump's totals.
func CountsOf(p *callgrind.Part) Counts {
	t := func(n string) float64 { return float64(p.Total(n)) }
	return Counts{
		Instructions: t("Ir"),
		L1Misses:     t("I1mr") + t("D1mr") + t("D1mw"),
		LLMisses:     t("ILmr") + t("DLmr") + t("DLmw"),
		SysNs:        t("sysTime"),
	}
}

// Add returns c + o.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Instructions + o.Instructions, c.L1Misses + o.L1Misses, c.LLMisses + o.LLMisses, c.SysNs + o.SysNs}
}

// PerOp returns (c - base) / n with every figure floored at zero: the cost
// of n iterations measured as the difference of two runs.
func (c Counts) PerOp(base Counts, n float64) Counts {
	d := func(a, b float64) float64 { return max(0, (a-b)/n) }
	return Counts{d(c.Instructions, base.Instructions), d(c.L1Misses, base.L1Misses), d(c.LLMisses, base.LLMisses), d(c.SysNs, base.SysNs)}
}

// Stats applies the cost model m (DefaultCostModel when m has no
// frequency) to c.
func Stats(m results.CostModel, c Counts) results.SimulationStats {
	if m.FrequencyGHz <= 0 {
		m = DefaultCostModel()
	}
	cycles := c.Instructions*m.InstructionWeight + c.L1Misses*m.L1MissWeight + c.LLMisses*m.LLMissWeight
	return results.SimulationStats{
		Instructions:    c.Instructions,
		L1Misses:        c.L1Misses,
		LLMisses:        c.LLMisses,
		SysNs:           c.SysNs,
		EstimatedCycles: cycles,
		TimeNs:          cycles / m.FrequencyGHz,
		CostModel:       m,
	}
}
