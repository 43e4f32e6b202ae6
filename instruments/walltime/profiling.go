package walltime

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/results"
)

// Options configure the walltime instrument.
type Options struct {
	// Perf turns sampling profiles on (--enable-perf,
	// CODSPEED_PERF_ENABLED; on by default in the CLI).
	Perf bool
	// PerfUnwinding is how sampled stacks are unwound
	// (--perf-unwinding-mode); "" means frame pointers.
	PerfUnwinding perf.Unwinding
}

// profiler decides once per instrument whether this host can sample, so
// that a host that cannot warns once, not once per target.
type profiler struct {
	opts  Options
	once  sync.Once
	cap   perf.Capability
	err   error
	probe func() (perf.Capability, error) // perf.Probe; tests replace it
	dirs  instruments.NameSet             // perf/<target> folders, one per target
}

// start opens a sampling session for one target, or returns nil (having
// warned once) when profiling is off or not possible here.
func (p *profiler) start(env instruments.Env) *perf.Session {
	if !p.opts.Perf || env.ProfileFolder == "" {
		return nil
	}
	warn := false
	p.once.Do(func() {
		probe := p.probe
		if probe == nil {
			probe = perf.Probe
		}
		p.cap, p.err = probe()
		warn = p.err != nil
	})
	if p.err != nil {
		if warn {
			env.Progress.Warn(fmt.Sprintf("profiling skipped, the benchmarks still run: %v (or pass --enable-perf=false)", p.err))
		}
		return nil
	}
	cfg := perf.Config{Event: p.cap.Event, Unwinding: p.opts.PerfUnwinding}
	if tl, ok := env.Launcher.(instruments.ThreadLauncher); ok {
		// The sandbox forks from its own thread (in the target's cgroup):
		// follow that thread's children.
		cfg.Thread = tl.ForkThread()
	}
	s, err := perf.Start(cfg)
	if err != nil {
		env.Progress.Warn(fmt.Sprintf("profiling skipped, the benchmarks still run: %v", err))
		return nil
	}
	return s
}

// finish stops the session and attaches each benchmark's profile: exec
// targets and benchmarks without their own get the whole target's; Go
// benchmarks get the samples under their Benchmark function; benchmarks
// bounded through the instrument-hooks pipe get their own region.
func (p *profiler) finish(s *perf.Session, t instruments.Target, env instruments.Env, benches []results.Benchmark, regions *regionMarker) {
	rec, err := s.Stop()
	if err != nil {
		env.Progress.Warn(fmt.Sprintf("profile of %s is incomplete: %v", t.Name, err))
	}
	if rec == nil {
		return
	}
	defer rec.Close()
	if rec.Lost > 0 {
		env.Progress.Warn(fmt.Sprintf("profile of %s: the kernel dropped %d samples (ring buffer full)", t.Name, rec.Lost))
	}
	ps := rec.Symbolize("")
	for _, w := range ps.Warnings {
		env.Progress.Warn(fmt.Sprintf("profile of %s: %s", t.Name, w))
	}
	regions.rename(ps)
	for _, b := range benches {
		if b.GoBench == nil {
			continue
		}
		ps.SelectGoBenchmark(b.URI, b.Name)
	}
	dir := p.dirs.Path(filepath.Join(env.ProfileFolder, "perf"), t.Name, "target", "")
	arts, err := ps.WriteFiles(rec, dir, env.ProfileFolder, t.Name)
	if err != nil {
		env.Progress.Warn(fmt.Sprintf("profile of %s not written: %v", t.Name, err))
		return
	}
	for i := range benches {
		benches[i].Profile = arts.Profile(benches[i].URI, rec.Event)
	}
}

// regionMarker bounds profiling with the instrument-hooks pipe: once an
// integration speaks, sampling is off except between its StartBenchmark and
// StopBenchmark, and each region's samples go to the URI the integration
// announces next (CodSpeed's integrations send the URI after the region).
type regionMarker struct {
	s    *perf.Session
	next hooks.Handler // another handler to forward to, may be nil

	mu      sync.Mutex
	n       int
	pending []string          // regions not yet named
	names   map[string]string // region id -> URI
}

func newRegionMarker(s *perf.Session, next hooks.Handler) *regionMarker {
	if next == nil {
		next = hooks.NopHandler{}
	}
	return &regionMarker{s: s, next: next, names: map[string]string{}}
}

func (r *regionMarker) OnIntegration(name, version string) error {
	// An integration that marks its regions: sample only those.
	if err := r.s.Disable(); err != nil {
		return err
	}
	return r.next.OnIntegration(name, version)
}

func (r *regionMarker) OnStart(ts uint64) error {
	r.mu.Lock()
	r.n++
	id := fmt.Sprintf("\x00region-%d", r.n)
	r.pending = append(r.pending, id)
	r.mu.Unlock()
	if err := r.s.BeginBenchmark(id); err != nil {
		return err
	}
	return r.next.OnStart(ts)
}

func (r *regionMarker) OnStop(ts uint64) error {
	if err := r.s.EndBenchmark(); err != nil {
		return err
	}
	return r.next.OnStop(ts)
}

func (r *regionMarker) OnBenchmark(pid int32, uri string) error {
	r.mu.Lock()
	for _, id := range r.pending {
		r.names[id] = uri
	}
	r.pending = nil
	r.mu.Unlock()
	return r.next.OnBenchmark(pid, uri)
}

func (r *regionMarker) OnMarker(pid int32, m hooks.Marker) error { return r.next.OnMarker(pid, m) }

// rename gives each region's profile the URI announced for it, merging the
// regions of one URI; regions never named keep their id out of the way.
func (r *regionMarker) rename(ps *perf.Profiles) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []perf.BenchmarkProfile
	index := map[string]int{}
	for _, b := range ps.Benchmarks {
		if uri, ok := r.names[b.URI]; ok {
			b.URI = uri
		}
		if i, ok := index[b.URI]; ok {
			for _, st := range b.Profile.Stacks() {
				out[i].Profile.Add(st.Frames, st.Value)
			}
			continue
		}
		index[b.URI] = len(out)
		out = append(out, b)
	}
	ps.Benchmarks = out
}
