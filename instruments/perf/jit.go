package perf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/codspeed-go/codspeed-go/instruments/perfmap"
)

// maxJITMap bounds a perf map read into memory (a long Node run writes tens
// of MiB).
const maxJITMap = 512 << 20

// jitDumps finds each process's jitdumps: runtimes map their jit-<pid>.dump
// executable so that profilers see where it is (V8's --perf-prof writes it
// into the working directory, CPython's -X perf_jit into /tmp), so the
// recording's mappings name them; /tmp/jit-<pid>.dump, where CodSpeed's
// runner looks, is tried too.
func (r *Recording) jitDumps() map[uint32][]string {
	out := map[uint32][]string{}
	for i := range r.Records {
		rec := &r.Records[i]
		if rec.Kind != KindMmap || filepath.Base(rec.Name) != jitDumpName(rec.Pid) || !filepath.IsAbs(rec.Name) {
			continue
		}
		if !slices.Contains(out[rec.Pid], rec.Name) {
			out[rec.Pid] = append(out[rec.Pid], rec.Name)
		}
	}
	return out
}

func jitDumpName(pid uint32) string { return "jit-" + strconv.Itoa(int(pid)) + ".dump" }

// owners are the uids whose JIT files are trusted: the benchmark's users as
// launched, and this process's.
func (r *Recording) owners() []uint32 {
	return append(slices.Clone(r.Owners), uint32(os.Getuid()))
}

// readJIT reads the JIT symbols of process pid: its perf map
// (jitDir/perf-<pid>.map, jitDir "" meaning /tmp, where runtimes write
// them whatever TMPDIR says, as perf reads them) and,
// when jitDir is "", its jitdumps. Files that are not the benchmark's
// (perfmap.Open's checks) are refused with a warning. What was read is kept
// for WriteFiles as one perf map: the map's own bytes, then one line per
// jitdump symbol, as CodSpeed's runner appends them.
func (ps *Profiles) readJIT(r *Recording, pid uint32, jitDir string, dumps []string) *perfmap.Table {
	dir := jitDir
	if dir == "" {
		dir = perfmap.Dir
	}
	var syms []perfmap.Symbol
	var kept []byte
	path := filepath.Join(dir, "perf-"+strconv.Itoa(int(pid))+".map")
	data, err := perfmap.ReadFile(path, maxJITMap, r.owners()...)
	switch {
	case err == nil:
		s, _ := perfmap.Parse(bytes.NewReader(data))
		syms = append(syms, s...)
		kept = data
	case !errors.Is(err, fs.ErrNotExist):
		ps.Warnings = append(ps.Warnings, fmt.Sprintf("JIT symbols of pid %d: %v", pid, err))
	}
	if jitDir == "" {
		tmp := filepath.Join(dir, jitDumpName(pid))
		if !slices.Contains(dumps, tmp) {
			dumps = append(dumps, tmp)
		}
		for _, path := range dumps {
			d, err := readJITDump(path, r.owners())
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				ps.Warnings = append(ps.Warnings, fmt.Sprintf("JIT symbols of pid %d: %v", pid, err))
			}
			if d == nil || len(d.Symbols) == 0 {
				continue
			}
			syms = append(syms, d.Symbols...)
			var buf bytes.Buffer
			if len(kept) > 0 && kept[len(kept)-1] != '\n' {
				buf.WriteByte('\n')
			}
			perfmap.Write(&buf, d.Symbols)
			kept = append(kept, buf.Bytes()...)
		}
	}
	if kept != nil {
		ps.jitMaps[pid] = kept
	}
	return perfmap.NewTable(syms)
}

func readJITDump(path string, owners []uint32) (*perfmap.JITDump, error) {
	f, err := perfmap.Open(path, owners...)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := perfmap.ReadJITDump(f)
	var je *perfmap.JITDumpError
	if errors.As(err, &je) {
		je.File = path
	}
	return d, err
}
