package perfmap

// Table finds the symbol holding an address. Symbols may overlap: JIT
// compilers regenerate code in place and reuse freed code space, so one
// address can have held several functions over a run.
type Table struct {
	syms []Symbol // sorted by Start
	// reach[i] is the largest End() of syms[0..i]: a backwards scan for
	// symbols covering an address stops where nothing earlier reaches it.
	reach []uint64
}

// maxScan bounds the backwards scan of a lookup, so that a hostile map
// (one huge symbol under millions of small ones) cannot make every lookup
// walk the whole table.
const maxScan = 4096

// NewTable builds a table of syms, which it sorts and keeps.
func NewTable(syms []Symbol) *Table {
	Sort(syms)
	t := &Table{syms: syms, reach: make([]uint64, len(syms))}
	var r uint64
	for i, s := range syms {
		r = max(r, s.End())
		t.reach[i] = r
	}
	return t
}

// Len is the number of symbols.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.syms)
}

// Symbols returns the table's symbols, sorted by address; the caller must
// not modify them.
func (t *Table) Symbols() []Symbol {
	if t == nil {
		return nil
	}
	return t.syms
}

// Lookup returns the symbol holding addr, whatever its time: among several
// of one time, the one starting last (for equal starts, the one listed
// last: a perf map's later line describes newer code).
func (t *Table) Lookup(addr uint64) (Symbol, bool) {
	return t.LookupAt(addr, ^uint64(0))
}

// LookupAt returns the symbol that held addr at time now: of the symbols
// covering addr, the one loaded last at or before now; when every one was
// loaded after now (clocks that disagree a little), the earliest of them.
// Symbols of time 0 hold from the start of the run.
func (t *Table) LookupAt(addr, now uint64) (Symbol, bool) {
	if t == nil || len(t.syms) == 0 {
		return Symbol{}, false
	}
	// The last symbol starting at or before addr.
	lo, hi := 0, len(t.syms)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.syms[m].Start <= addr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	best, earliest := -1, -1
	for i, n := lo-1, 0; i >= 0 && t.reach[i] > addr && n < maxScan; i, n = i-1, n+1 {
		s := &t.syms[i]
		if addr-s.Start >= s.Size {
			continue
		}
		if s.Time <= now && (best < 0 || s.Time > t.syms[best].Time) {
			best = i
		}
		if earliest < 0 || s.Time < t.syms[earliest].Time {
			earliest = i
		}
	}
	switch {
	case best >= 0:
		return t.syms[best], true
	case earliest >= 0:
		return t.syms[earliest], true
	}
	return Symbol{}, false
}
