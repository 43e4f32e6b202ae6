package perf

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/perfmap"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/flamegraph"
)

// Profiles are a Recording's samples turned into named call stacks.
type Profiles struct {
	// Whole holds every sample.
	Whole *flamegraph.Profile
	// Benchmarks holds the samples taken between BeginBenchmark and
	// EndBenchmark, one profile per URI, in the order they first began.
	Benchmarks []BenchmarkProfile
	Samples    int

	symbolMaps map[uint32]map[perfmap.Symbol]struct{} // pid -> symbols hit, at run-time addresses
	jitMaps    map[uint32][]byte                      // pid -> JIT symbols read, as a perf map
	objects    map[*object]struct{}                   // objects hit by samples
	// Warnings say which JIT files were refused or could not be read.
	Warnings []string
}

// BenchmarkProfile is the profile of one benchmark.
type BenchmarkProfile struct {
	URI     string
	Profile *flamegraph.Profile
}

// Symbolize names every frame of every sample: the ELF symbol of the mapped
// file (.symtab, .dynsym, or a Go binary's .gopclntab), else the JIT symbol
// from the process's perf map and jitdump (see readJIT; jitDir "" means
// where runtimes write them, else a folder of perf-<pid>.map copies written
// by WriteFiles), else "[file name]" or "[unknown]". Each stack gets the
// process's command name as its root frame, as perf script and
// stackcollapse do.
func (r *Recording) Symbolize(jitDir string) *Profiles {
	if r.objs == nil {
		r.objs = newObjectCache()
	}
	ps := &Profiles{
		Whole:      &flamegraph.Profile{},
		symbolMaps: map[uint32]map[perfmap.Symbol]struct{}{},
		jitMaps:    map[uint32][]byte{},
		objects:    map[*object]struct{}{},
	}
	sp := newSpaces(r.objs)
	dumps := r.jitDumps()
	jit := map[uint32]*perfmap.Table{}
	jitRead := map[uint32]bool{}
	type nameKey struct {
		obj *object
		sym int
	}
	names := map[nameKey]string{}
	bench := map[string]*flamegraph.Profile{}
	var current *flamegraph.Profile
	var frames []string
	for i := range r.Records {
		rec := &r.Records[i]
		switch rec.Kind {
		case KindBenchStart:
			current = bench[rec.Name]
			if current == nil {
				current = &flamegraph.Profile{}
				bench[rec.Name] = current
				ps.Benchmarks = append(ps.Benchmarks, BenchmarkProfile{URI: rec.Name, Profile: current})
			}
			continue
		case KindBenchStop:
			current = nil
			continue
		case KindSample:
		default:
			sp.apply(rec)
			continue
		}
		p := sp.procs[rec.Pid]
		if p == nil || (p.comm == "" && len(p.maps) == 0) {
			// A child of the runner between fork and exec: runner code.
			continue
		}
		frames = frames[:0]
		comm := p.comm
		if comm == "" {
			comm = "[pid " + strconv.Itoa(int(rec.Pid)) + "]"
		}
		frames = append(frames, comm)
		for j := len(rec.Stack) - 1; j >= 0; j-- {
			ip := rec.Stack[j]
			pc := ip
			if j > 0 {
				pc-- // return addresses point after the call
			}
			m := p.find(ip)
			if m != nil && m.obj != nil && m.obj.err == nil {
				if v, ok := m.obj.vaddr(m, pc); ok {
					ps.objects[m.obj] = struct{}{}
					if si, ok := m.obj.lookup(v); ok {
						k := nameKey{m.obj, si}
						name, seen := names[k]
						if !seen {
							name = m.obj.syms[si].name
							names[k] = name
						}
						s := m.obj.syms[si]
						hits := ps.symbolMaps[rec.Pid]
						if hits == nil {
							hits = map[perfmap.Symbol]struct{}{}
							ps.symbolMaps[rec.Pid] = hits
						}
						hits[perfmap.Symbol{Start: s.start + (pc - v), Size: s.end - s.start, Name: s.name}] = struct{}{}
						frames = append(frames, name)
						continue
					}
				}
				frames = append(frames, "["+m.obj.base()+"]")
				continue
			}
			if m == nil || !fileBacked(m.name) {
				if !jitRead[rec.Pid] {
					jitRead[rec.Pid] = true
					jit[rec.Pid] = ps.readJIT(r, rec.Pid, jitDir, dumps[rec.Pid])
				}
				if e, ok := jit[rec.Pid].LookupAt(pc, rec.Time); ok {
					frames = append(frames, e.Name)
					continue
				}
			}
			switch {
			case m != nil && m.obj != nil:
				frames = append(frames, "["+m.obj.base()+"]")
			case m != nil && m.name != "":
				frames = append(frames, "["+filepath.Base(m.name)+"]")
			default:
				frames = append(frames, "[unknown]")
			}
		}
		ps.Samples++
		ps.Whole.Add(frames, 1)
		if current != nil {
			current.Add(frames, 1)
		}
	}
	return ps
}

// Artifacts are the files WriteFiles wrote, relative to its base folder.
type Artifacts struct {
	Folded     string // the whole run's
	Flamegraph string
	// Benchmarks maps a URI to its profile's files.
	Benchmarks map[string]results.Profile
	SymbolMaps []string
	JITMaps    []string
}

// Profile returns the results entry for benchmark uri: its own profile when
// it had marked samples, else the whole run's.
func (a *Artifacts) Profile(uri, event string) *results.Profile {
	if p, ok := a.Benchmarks[uri]; ok {
		p.Event = event
		return &p
	}
	return &results.Profile{Event: event, Folded: a.Folded, Flamegraph: a.Flamegraph}
}

// WriteFiles writes into dir (created if needed): maps/perf-<pid>.map with
// the symbols the samples hit at their run-time addresses, copies of the JIT
// maps read under jit/, and folded stacks and an SVG flame graph for the whole run (all.folded, all.svg) and
// for each benchmark (<name>.folded, .svg). Paths in the result are
// relative to base, which must contain dir (normally the profile folder).
func (ps *Profiles) WriteFiles(r *Recording, dir, base, title string) (*Artifacts, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("perf: %w", err)
	}
	rel := func(p string) string {
		if x, err := filepath.Rel(base, p); err == nil {
			return x
		}
		return p
	}
	a := &Artifacts{Benchmarks: map[string]results.Profile{}}

	if len(ps.symbolMaps) > 0 {
		if err := os.MkdirAll(filepath.Join(dir, "maps"), 0o777); err != nil {
			return nil, fmt.Errorf("perf: %w", err)
		}
	}
	for _, pid := range sortedKeys(ps.symbolMaps) {
		entries := make([]perfmap.Symbol, 0, len(ps.symbolMaps[pid]))
		for e := range ps.symbolMaps[pid] {
			entries = append(entries, e)
		}
		slices.SortFunc(entries, func(a, b perfmap.Symbol) int {
			return cmp.Or(cmp.Compare(a.Start, b.Start), strings.Compare(a.Name, b.Name))
		})
		path := filepath.Join(dir, "maps", "perf-"+strconv.Itoa(int(pid))+".map")
		if err := writeFile(path, func(w io.Writer) error { return perfmap.Write(w, entries) }); err != nil {
			return nil, err
		}
		a.SymbolMaps = append(a.SymbolMaps, rel(path))
	}
	for _, pid := range sortedKeys(ps.jitMaps) {
		data := ps.jitMaps[pid]
		path := filepath.Join(dir, "jit", "perf-"+strconv.Itoa(int(pid))+".map")
		if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
			return nil, fmt.Errorf("perf: %w", err)
		}
		if err := os.WriteFile(path, data, 0o666); err != nil {
			return nil, fmt.Errorf("perf: %w", err)
		}
		a.JITMaps = append(a.JITMaps, rel(path))
	}
	folded, svg, err := writeGraph(dir, "all", ps.Whole, title+" ("+r.Event+")")
	if err != nil {
		return nil, err
	}
	a.Folded, a.Flamegraph = rel(folded), rel(svg)
	used := map[string]bool{"all": true}
	for _, b := range ps.Benchmarks {
		name := fileName(b.URI)
		for n := 2; used[name]; n++ {
			name = fileName(b.URI) + "-" + strconv.Itoa(n)
		}
		used[name] = true
		folded, svg, err := writeGraph(dir, name, b.Profile, b.URI+" ("+r.Event+")")
		if err != nil {
			return nil, err
		}
		a.Benchmarks[b.URI] = results.Profile{Folded: rel(folded), Flamegraph: rel(svg)}
	}
	return a, nil
}

func writeGraph(dir, name string, p *flamegraph.Profile, title string) (folded, svg string, err error) {
	folded = filepath.Join(dir, name+".folded")
	svg = filepath.Join(dir, name+".svg")
	if err := writeFile(folded, p.WriteFolded); err != nil {
		return "", "", err
	}
	err = writeFile(svg, func(w io.Writer) error {
		return flamegraph.WriteSVG(w, p, flamegraph.Options{Title: title, Unit: "samples"})
	})
	return folded, svg, err
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("perf: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("perf: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("perf: write %s: %w", path, err)
	}
	return nil
}

// fileName makes a benchmark URI into a file name: the part after the first
// "::" (the benchmark's name without its file), as instruments.FileName
// makes it.
func fileName(uri string) string {
	if i := strings.Index(uri, "::"); i >= 0 && i+2 < len(uri) {
		uri = uri[i+2:]
	}
	return instruments.FileName(uri, "benchmark")
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	keys := make([]uint32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SelectGoBenchmark adds a profile for uri holding the samples whose stack
// passes through the Go benchmark function of name ("BenchmarkSort/n=100"
// selects BenchmarkSort and its closures): `go test -bench` runs one
// benchmark at a time in one process and tells the runner nothing, so the
// stack is what says which benchmark a sample belongs to. Sub-benchmarks
// share their parent function's samples. A uri that already has a profile
// (from BeginBenchmark) is left alone.
func (ps *Profiles) SelectGoBenchmark(uri, name string) {
	for _, b := range ps.Benchmarks {
		if b.URI == uri {
			return
		}
	}
	fn, _, _ := strings.Cut(name, "/")
	if fn == "" {
		return
	}
	dot := "." + fn
	match := func(frame string) bool {
		// pkg.BenchmarkX, pkg.BenchmarkX.func1, pkg.BenchmarkX.func1.2
		i := strings.LastIndex(frame, dot)
		for i >= 0 {
			rest := frame[i+len(dot):]
			if rest == "" || strings.HasPrefix(rest, ".func") {
				return true
			}
			i = strings.LastIndex(frame[:i], dot)
		}
		return false
	}
	p := &flamegraph.Profile{}
	for _, s := range ps.Whole.Stacks() {
		for _, f := range s.Frames {
			if match(f) {
				p.Add(s.Frames, s.Value)
				break
			}
		}
	}
	if p.Len() > 0 {
		ps.Benchmarks = append(ps.Benchmarks, BenchmarkProfile{URI: uri, Profile: p})
	}
}
