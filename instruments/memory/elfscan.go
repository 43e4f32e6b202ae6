package memory

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// probeSite is one allocator entry point in one file: where to put a uprobe.
type probeSite struct {
	Symbol string
	// Offset is the file offset of the function's first instruction (what
	// the uprobe PMU takes), not its virtual address.
	Offset uint64
	Kind   kind
}

// elfInfo is what the instrument needs from one ELF file.
type elfInfo struct {
	Path   string
	Sites  []probeSite
	Needed []string // DT_NEEDED sonames
	RPath  []string // DT_RUNPATH or DT_RPATH entries, $ORIGIN expanded
	Interp string
}

// scanELF reads the symbol tables (static and dynamic) of the file at path
// and returns its allocator entry points, one per distinct address: aliases
// such as glibc's malloc/__libc_malloc or aligned_alloc/memalign share one
// address, and two probes there would count each call twice.
func scanELF(path string) (*elfInfo, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open ELF %s: %w", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%s: not an executable or shared object (%s)", path, f.Type)
	}
	info := &elfInfo{Path: path}

	var syms []elf.Symbol
	for _, read := range []func() ([]elf.Symbol, error){f.Symbols, f.DynamicSymbols} {
		s, err := read()
		if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
			return nil, fmt.Errorf("read symbols of %s: %w", path, err)
		}
		syms = append(syms, s...)
	}
	byOffset := map[uint64]probeSite{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF || s.Value == 0 {
			continue
		}
		name := s.Name
		if i := strings.IndexByte(name, '@'); i >= 0 { // versioned dynsym names
			name = name[:i]
		}
		k, ok := allocatorSymbols[name]
		if !ok {
			continue
		}
		off, ok := fileOffset(f, s.Value)
		if !ok {
			continue
		}
		if prev, dup := byOffset[off]; dup && prev.Symbol <= name {
			continue // keep one name per address, chosen deterministically
		}
		byOffset[off] = probeSite{Symbol: name, Offset: off, Kind: k}
	}
	for _, site := range byOffset {
		info.Sites = append(info.Sites, site)
	}
	sort.Slice(info.Sites, func(i, j int) bool { return info.Sites[i].Offset < info.Sites[j].Offset })

	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				info.Interp = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	if needed, err := f.DynString(elf.DT_NEEDED); err == nil {
		info.Needed = needed
	}
	origin := filepath.Dir(path)
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, err := f.DynString(tag)
		if err != nil {
			continue
		}
		for _, v := range vals {
			for _, dir := range strings.Split(v, ":") {
				dir = strings.ReplaceAll(dir, "${ORIGIN}", origin)
				dir = strings.ReplaceAll(dir, "$ORIGIN", origin)
				if dir != "" {
					info.RPath = append(info.RPath, dir)
				}
			}
		}
	}
	return info, nil
}

// fileOffset converts a symbol's virtual address to its offset in the file
// through the executable PT_LOAD segment holding it.
func fileOffset(f *elf.File, vaddr uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && p.Vaddr <= vaddr && vaddr < p.Vaddr+p.Memsz {
			return vaddr - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

// libraryResolver finds the files behind DT_NEEDED names the way the dynamic
// linker would for a typical system: the object's RPATH/RUNPATH, the
// process's LD_LIBRARY_PATH, the directories of /etc/ld.so.conf, then the
// default directories. Libraries opened later with dlopen are not seen.
type libraryResolver struct {
	system []string
}

func newLibraryResolver() *libraryResolver {
	var dirs []string
	dirs = append(dirs, readLdSoConf("/etc/ld.so.conf", 0)...)
	dirs = append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
	return &libraryResolver{system: dirs}
}

func readLdSoConf(path string, depth int) []string {
	if depth > 4 {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "include"); ok {
			pattern := strings.TrimSpace(rest)
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			sort.Strings(matches)
			for _, m := range matches {
				dirs = append(dirs, readLdSoConf(m, depth+1)...)
			}
			continue
		}
		dirs = append(dirs, line)
	}
	return dirs
}

// resolve returns the path of soname as needed by an object with the given
// rpath, or "" when not found.
func (r *libraryResolver) resolve(soname string, rpath, ldLibraryPath []string) string {
	if strings.Contains(soname, "/") {
		return soname
	}
	for _, group := range [][]string{rpath, ldLibraryPath, r.system} {
		for _, dir := range group {
			p := filepath.Join(dir, soname)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}
