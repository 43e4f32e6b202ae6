package memory

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/results"
)

// regionHandler turns an integration's instrument-hooks events into
// measured regions: StartBenchmark starts the session's counting,
// StopBenchmark stops it and keeps the snapshot, and CurrentBenchmark, which
// CodSpeed's integrations send after the region it names, claims the
// snapshots taken since the previous CurrentBenchmark. The hooks server
// calls it before answering, so counting is on before the integration runs
// the measured code and off before it runs anything else.
type regionHandler struct {
	hooks.NopHandler
	s *Session

	marked  bool // a region was started at least once
	open    bool
	pending []Snapshot
	named   []namedRegions
}

// namedRegions are the snapshots one CurrentBenchmark claimed.
type namedRegions struct {
	uri   string
	snaps []Snapshot
}

func (h *regionHandler) OnStart(uint64) error {
	h.marked = true
	if h.open {
		return nil // the hooks session records the duplicate
	}
	if err := h.s.Start(); err != nil {
		return err
	}
	h.open = true
	return nil
}

func (h *regionHandler) OnStop(uint64) error {
	if !h.open {
		return nil
	}
	h.open = false
	snap, err := h.s.Stop()
	if err != nil {
		return err
	}
	h.pending = append(h.pending, snap)
	return nil
}

func (h *regionHandler) OnBenchmark(_ int32, uri string) error {
	h.named = append(h.named, namedRegions{uri: uri, snaps: h.pending})
	h.pending = nil
	return nil
}

// finish closes a region the integration left open at exit, as its stop
// marker would have.
func (h *regionHandler) finish() error { return h.OnStop(0) }

// regionBenchmarks makes one benchmark per announced URI (in the order of
// first announcement; a URI announced again adds its regions), named after
// the URI's last "::" element. Regions no URI claimed make one benchmark
// named after the target when nothing was named at all (a program that
// marks its region without naming it), and a warning otherwise.
func (in *Instrument) regionBenchmarks(t instruments.Target, env instruments.Env, h *regionHandler, runErr error) ([]results.Benchmark, error) {
	if err := h.finish(); err != nil {
		return nil, err
	}
	var order []string
	byURI := map[string][]Snapshot{}
	for _, n := range h.named {
		if _, ok := byURI[n.uri]; !ok {
			order = append(order, n.uri)
		}
		byURI[n.uri] = append(byURI[n.uri], n.snaps...)
	}
	if len(h.pending) > 0 {
		if len(order) == 0 {
			order = append(order, t.Name)
			byURI[t.Name] = h.pending
		} else {
			env.Progress.Warn(fmt.Sprintf("%s: %d measured region(s) at the end were not named by CurrentBenchmark; dropped", t.Name, len(h.pending)))
		}
	}
	for _, w := range h.s.Warnings() {
		env.Progress.Warn(w)
	}
	var benches []results.Benchmark
	for _, uri := range order {
		name := uri
		if k := strings.LastIndex(uri, "::"); k >= 0 {
			name = uri[k+2:]
		}
		b := results.Benchmark{Name: name, URI: uri}
		snaps := byURI[uri]
		if len(snaps) == 0 {
			b.Error = "announced without a measured region (no StartBenchmark/StopBenchmark before its CurrentBenchmark)"
			benches = append(benches, b)
			continue
		}
		snap := mergeSnapshots(snaps)
		b.Memory = &snap.Stats
		warnUntracked(env, name, snap)
		if err := in.attachStacks(&b, env, uri, snap.Stacks); err != nil {
			return benches, err
		}
		benches = append(benches, b)
	}
	if runErr != nil {
		msg := runErr.Error()
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			msg = ee.ProcessState.String()
		}
		return benches, fmt.Errorf("%s: %s", t.Name, msg)
	}
	return benches, nil
}

// mergeSnapshots adds up the regions of one benchmark: counts and bytes
// add, the peak is the largest region's (each region starts from zero live
// bytes), stacks of the same path add.
func mergeSnapshots(snaps []Snapshot) Snapshot {
	if len(snaps) == 1 {
		return snaps[0]
	}
	var out Snapshot
	idx := map[string]int{}
	for _, sn := range snaps {
		out.Stats.AllocCalls += sn.Stats.AllocCalls
		out.Stats.FreeCalls += sn.Stats.FreeCalls
		out.Stats.TotalAllocatedBytes += sn.Stats.TotalAllocatedBytes
		out.Stats.PeakBytes = max(out.Stats.PeakBytes, sn.Stats.PeakBytes)
		out.Untracked += sn.Untracked
		out.StackErrors += sn.StackErrors
		for _, st := range sn.Stacks {
			k := strings.Join(st.Frames, ";")
			if i, ok := idx[k]; ok {
				out.Stacks[i].Bytes += st.Bytes
				out.Stacks[i].Calls += st.Calls
				continue
			}
			idx[k] = len(out.Stacks)
			out.Stacks = append(out.Stacks, st)
		}
	}
	return out
}

// hooksOptions serve one benchmark command: announce memory mode, wait (and
// say so) while another run uses the FIFOs rather than let an integration
// talk to that run's server, and give the FIFOs to the benchmark's user.
func hooksOptions(env instruments.Env, target string, mode hooks.IntegrationMode) []hooks.Option {
	opts := []hooks.Option{hooks.WithMode(mode), hooks.WithLockWait(hooks.WaitForever),
		hooks.WithWaitNotice(func(msg string) {
			env.Progress.Warn(msg) // once per run
			env.Progress.Phase(target, "waiting for another run's instrument-hooks pipes")
		})}
	if env.RunAs != nil {
		opts = append(opts, hooks.WithOwner(env.RunAs.UID, env.RunAs.GID))
	}
	return opts
}
