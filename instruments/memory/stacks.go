package memory

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// StackBytes is the number of bytes (and calls) allocated from one call
// stack. Frames go from the outermost caller to the allocating function.
type StackBytes struct {
	Frames []string
	Bytes  uint64
	Calls  uint64
}

// WriteFolded writes stacks in the folded format of Brendan Gregg's
// flamegraph tools ("outer;inner bytes" per line), the input of the SVG
// renderer. Semicolons and spaces inside frame names would break the format,
// so they are replaced.
func WriteFolded(w io.Writer, stacks []StackBytes) error {
	bw := bufio.NewWriter(w)
	r := strings.NewReplacer(";", ":", " ", "_", "\n", "_")
	for _, s := range stacks {
		for i, f := range s.Frames {
			if i > 0 {
				bw.WriteByte(';')
			}
			bw.WriteString(r.Replace(f))
		}
		fmt.Fprintf(bw, " %d\n", s.Bytes)
	}
	return bw.Flush()
}

// mapping is one line of /proc/<pid>/maps.
type mapping struct {
	Start, End, Offset uint64
	Exec               bool
	Path               string
}

// MapsSyntaxError is a line of /proc/<pid>/maps that could not be parsed.
type MapsSyntaxError struct {
	Line int
	Msg  string
}

func (e *MapsSyntaxError) Error() string { return fmt.Sprintf("maps:%d: %s", e.Line, e.Msg) }

// readMaps reads the mappings of process pid.
//
// A process that has exited but is not yet reaped (a zombie) has no address
// space: its maps file reads empty, without an error. That is an error here,
// so that callers keep the maps they saw while it lived instead of
// replacing them with nothing (which left every frame of its stacks
// unsymbolized when the poller caught a process between its exit and its
// reaping).
func readMaps(pid int) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ms, err := parseMaps(f)
	if err == nil && len(ms) == 0 {
		err = fmt.Errorf("process %d has no address space (it exited)", pid)
	}
	return ms, err
}

// parseMaps reads the format of proc(5) /proc/<pid>/maps:
// "start-end perms offset dev inode [path]".
func parseMaps(r io.Reader) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 5 {
			return nil, &MapsSyntaxError{n, fmt.Sprintf("want at least 5 fields, got %d", len(fields))}
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			return nil, &MapsSyntaxError{n, fmt.Sprintf("bad address range %q", fields[0])}
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(fields[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || end < start {
			return nil, &MapsSyntaxError{n, fmt.Sprintf("bad addresses in %q", line)}
		}
		m := mapping{Start: start, End: end, Offset: off, Exec: strings.Contains(fields[1], "x")}
		if len(fields) >= 6 {
			// The path is everything after the fifth field (the inode),
			// and may contain spaces.
			rest := line
			for i := 0; i < 5; i++ {
				rest = strings.TrimLeft(rest, " \t")
				if j := strings.IndexAny(rest, " \t"); j >= 0 {
					rest = rest[j:]
				} else {
					rest = ""
				}
			}
			m.Path = strings.TrimSuffix(strings.TrimSpace(rest), " (deleted)")
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// symbolizer turns user-space instruction pointers into function names using
// the ELF symbol tables of the mapped files (no DWARF, no demangling).
type symbolizer struct {
	files map[string]*symtab
}

type symtab struct {
	loads []elf.ProgHeader
	syms  []elf.Symbol // functions, by address
	isExe bool         // ET_EXEC: addresses are absolute
}

func newSymbolizer() *symbolizer { return &symbolizer{files: map[string]*symtab{}} }

func (s *symbolizer) table(path string) *symtab {
	if t, ok := s.files[path]; ok {
		return t
	}
	var t *symtab
	if f, err := elf.Open(path); err == nil {
		t = &symtab{isExe: f.Type == elf.ET_EXEC}
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD {
				t.loads = append(t.loads, p.ProgHeader)
			}
		}
		syms, _ := f.Symbols()
		dyn, _ := f.DynamicSymbols()
		for _, sy := range append(syms, dyn...) {
			if elf.ST_TYPE(sy.Info) == elf.STT_FUNC && sy.Value != 0 {
				t.syms = append(t.syms, sy)
			}
		}
		sort.Slice(t.syms, func(i, j int) bool { return t.syms[i].Value < t.syms[j].Value })
		f.Close()
	}
	s.files[path] = t
	return t
}

// frame names the function at ip in a process with memory map ms; exe is
// the process's executable, used when no map was captured (a process that
// exited before it was seen): that works for non-PIE executables only.
func (s *symbolizer) frame(ms []mapping, exe string, ip uint64) string {
	for _, m := range ms {
		if ip < m.Start || ip >= m.End || m.Path == "" || !strings.HasPrefix(m.Path, "/") {
			continue
		}
		t := s.table(m.Path)
		if t == nil {
			return m.Path
		}
		fileOff := ip - m.Start + m.Offset
		for _, p := range t.loads {
			if p.Off <= fileOff && fileOff < p.Off+p.Filesz {
				if name := t.lookup(fileOff - p.Off + p.Vaddr); name != "" {
					return name
				}
				break
			}
		}
		return fmt.Sprintf("%s+0x%x", baseName(m.Path), fileOff)
	}
	if exe != "" {
		if t := s.table(exe); t != nil && t.isExe {
			if name := t.lookup(ip); name != "" {
				return name
			}
		}
	}
	return fmt.Sprintf("0x%x", ip)
}

func (t *symtab) lookup(vaddr uint64) string {
	i := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].Value > vaddr }) - 1
	if i < 0 {
		return ""
	}
	sy := t.syms[i]
	if sy.Size != 0 && vaddr >= sy.Value+sy.Size {
		return ""
	}
	return sy.Name
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
