package perf

import (
	"cmp"
	"debug/elf"
	"debug/gosym"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// object is one mapped ELF file: where its segments load, its function
// symbols and, on demand, its unwind table.
type object struct {
	path    string
	machine elf.Machine
	loads   []load
	syms    []symbol
	err     error    // the file could not be read; addresses stay unnamed
	file    *os.File // pinned file, or nil to open path

	unwindDone bool
	unwind     *unwindTable
	unwindErr  error
}

type load struct{ off, vaddr, filesz uint64 }

type symbol struct {
	start, end uint64
	name       string
}

// objectCache opens each file once per Recording. pinned holds files the
// Session opened while their processes ran, so that binaries deleted right
// after the run (`go test` removes its test binary) can still be read.
type objectCache struct {
	objs   map[string]*object
	pinned map[string]*os.File
}

func newObjectCache() *objectCache {
	return &objectCache{objs: map[string]*object{}, pinned: map[string]*os.File{}}
}

func (c *objectCache) get(path string) *object {
	if o, ok := c.objs[path]; ok {
		return o
	}
	o := loadObject(path, c.pinned[path])
	c.objs[path] = o
	return o
}

// close releases the pinned files.
func (c *objectCache) close() {
	for _, f := range c.pinned {
		f.Close()
	}
	c.pinned = map[string]*os.File{}
}

// fileBacked says whether a mapping's name is a file that can be opened, not
// "[vdso]", "//anon", "[heap]" or a deleted file.
func fileBacked(name string) bool {
	return strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "//anon") &&
		!strings.HasSuffix(name, " (deleted)") && !strings.HasPrefix(name, "/memfd:")
}

func (o *object) open() (*elf.File, error) {
	if o.file != nil {
		return elf.NewFile(o.file)
	}
	return elf.Open(o.path)
}

func loadObject(path string, pinned *os.File) *object {
	o := &object{path: path, file: pinned}
	f, err := o.open()
	if err != nil {
		o.err = err
		return o
	}
	defer f.Close()
	o.machine = f.Machine
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			o.loads = append(o.loads, load{off: p.Off, vaddr: p.Vaddr, filesz: p.Filesz})
		}
	}
	o.syms = elfSymbols(f)
	if len(o.syms) == 0 {
		o.syms = goSymbols(f)
	}
	return o
}

// elfSymbols are the functions of .symtab and .dynsym, sorted, one per
// address (the first name wins: .symtab's, which has local functions too).
func elfSymbols(f *elf.File) []symbol {
	var syms []symbol
	add := func(list []elf.Symbol) {
		for _, s := range list {
			t := elf.ST_TYPE(s.Info)
			if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Value == 0 || s.Section == elf.SHN_UNDEF {
				continue
			}
			name := s.Name
			if i := strings.IndexByte(name, '@'); i > 0 {
				name = name[:i] // drop symbol versions: memcpy@@GLIBC_2.14
			}
			syms = append(syms, symbol{start: s.Value, end: s.Value + s.Size, name: name})
		}
	}
	if list, err := f.Symbols(); err == nil {
		add(list)
	}
	if list, err := f.DynamicSymbols(); err == nil {
		add(list)
	}
	return sortSymbols(syms)
}

// goSymbols reads a stripped Go binary's function table from .gopclntab,
// which the Go runtime needs and so no strip removes.
func goSymbols(f *elf.File) []symbol {
	pcln := f.Section(".gopclntab")
	text := f.Section(".text")
	if pcln == nil || text == nil {
		return nil
	}
	data, err := pcln.Data()
	if err != nil {
		return nil
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil
	}
	syms := make([]symbol, 0, len(tab.Funcs))
	for _, fn := range tab.Funcs {
		syms = append(syms, symbol{start: fn.Entry, end: fn.End, name: fn.Name})
	}
	return sortSymbols(syms)
}

func sortSymbols(syms []symbol) []symbol {
	slices.SortStableFunc(syms, func(a, b symbol) int { return cmp.Compare(a.start, b.start) })
	syms = slices.CompactFunc(syms, func(a, b symbol) bool { return a.start == b.start })
	// A symbol without a size reaches to the next one.
	for i := range syms {
		if syms[i].end <= syms[i].start && i+1 < len(syms) {
			syms[i].end = syms[i+1].start
		}
	}
	return syms
}

// lookup returns the index of the symbol containing vaddr.
func (o *object) lookup(vaddr uint64) (int, bool) {
	i, found := slices.BinarySearchFunc(o.syms, vaddr, func(s symbol, v uint64) int { return cmp.Compare(s.start, v) })
	if !found {
		i--
	}
	if i < 0 || vaddr >= o.syms[i].end {
		return 0, false
	}
	return i, true
}

// vaddr converts an address in mapping m to the object's virtual address,
// through the file offset and the loadable segment holding it.
func (o *object) vaddr(m *mapping, ip uint64) (uint64, bool) {
	off := ip - m.start + m.pgoff
	for _, l := range o.loads {
		if off >= l.off && off < l.off+l.filesz {
			return off - l.off + l.vaddr, true
		}
	}
	return 0, false
}

// unwindTable parses .eh_frame the first time it is needed; objects without
// one (Go binaries keep .debug_frame instead) get nil.
func (o *object) unwindTable() *unwindTable {
	if o.unwindDone {
		return o.unwind
	}
	o.unwindDone = true
	if o.err != nil {
		return nil
	}
	f, err := o.open()
	if err != nil {
		o.unwindErr = err
		return nil
	}
	defer f.Close()
	sec := f.Section(".eh_frame")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		o.unwindErr = errors.New("no .eh_frame section")
		return nil
	}
	data, err := sec.Data()
	if err != nil {
		o.unwindErr = err
		return nil
	}
	regs := regsAMD64
	if f.Machine == elf.EM_AARCH64 {
		regs = regsARM64
	}
	t, err := parseEHFrame(data, sec.Addr, regs, uint32(f.Machine))
	o.unwind, o.unwindErr = t, err
	return t
}

func (o *object) base() string { return filepath.Base(o.path) }
