package perf

import "testing"

// Every process launched through the Session is sampled, not only the first
// few: the exec harness starts one per round. (A design with enable_on_exec
// lost most rounds; see Session.)
func TestEveryRoundIsSampled(t *testing.T) {
	c := probeOrSkip(t)
	bin := buildPrimes(t, "primes", "-O2", "-g", "-fno-inline", "-fno-omit-frame-pointer")
	const rounds = 12
	var cmds [][]string
	for range rounds {
		cmds = append(cmds, []string{bin, "2000000", "3"})
	}
	rec := record(t, Config{Event: c.Event, Unwinding: FramePointer}, cmds...)
	perPid := map[uint32]int{}
	execs := 0
	for _, r := range rec.Records {
		switch {
		case r.Kind == KindSample:
			perPid[r.Pid]++
		case r.Kind == KindComm && r.Exec:
			execs++
		}
	}
	if len(perPid) != rounds || execs != rounds {
		t.Fatalf("samples from %d processes and %d exec records, want %d of each: %v", len(perPid), execs, rounds, perPid)
	}
	for pid, n := range perPid {
		if n < 3 {
			t.Errorf("pid %d: %d samples for ~15 ms of CPU", pid, n)
		}
	}
}
