package simulation

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/perfmap"
	"github.com/codspeed-go/codspeed-go/instruments/simulation/callgrind"
)

// maxJITMap bounds a perf map read into memory.
const maxJITMap = 512 << 20

// symbolizeJIT names the code that callgrind found in no object file (JIT
// code: V8 with --perf-basic-prof, CPython 3.12's -X perf, the JVM's perf
// map agents) from the perf map each measured process left in
// /tmp/perf-<pid>.map, and copies those maps beside the callgrind files as
// perf-<pid>.map, as CodSpeed's runner does for the callgrind files'
// pids. A map is read only when perfmap.Open trusts it (a regular file, not
// a symbolic link, owned by the benchmark's user or root); a refused one is
// warned about. files[i] is the file of profs[i].
func (in *Instrument) symbolizeJIT(dir string, profs []*callgrind.Profile, files []string, progress instruments.Progress) {
	done := map[int]bool{}
	for i, prof := range profs {
		pid := prof.Pid
		if pid == 0 {
			pid = outPid(files[i])
		}
		if done[pid] {
			continue
		}
		done[pid] = true
		unknown := false
		for _, part := range prof.Parts {
			for _, f := range part.Funcs {
				if f.Object == callgrind.UnknownObject {
					unknown = true
				}
			}
		}
		path := filepath.Join(perfmap.Dir, "perf-"+strconv.Itoa(pid)+".map")
		data, err := perfmap.ReadFile(path, maxJITMap, in.owner, uint32(os.Getuid()))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				progress.Warn(fmt.Sprintf("JIT symbols of pid %d not used: %v", pid, err))
			}
			continue
		}
		syms, _ := perfmap.Parse(bytes.NewReader(data))
		if unknown {
			tab := perfmap.NewTable(syms)
			for _, part := range prof.Parts {
				part.Symbolize(func(addr uint64) (string, bool) {
					s, ok := tab.Lookup(addr)
					return s.Name, ok
				})
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "perf-"+strconv.Itoa(pid)+".map"), data, 0o644); err != nil {
			progress.Warn(fmt.Sprintf("JIT symbols of pid %d not kept in the profile: %v", pid, err))
		}
	}
}
