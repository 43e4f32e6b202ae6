package perf

import (
	"cmp"
	"fmt"
	"slices"
)

// CFA rules of an unwind row: how to compute the canonical frame address
// (the caller's stack pointer) at a PC.
const (
	cfaNone  uint8 = iota // no unwind information here (between functions)
	cfaSP                 // CFA = SP + CFAOff
	cfaFP                 // CFA = FP + CFAOff
	cfaOther              // another register or a DWARF expression: cannot unwind
)

// Frame-pointer rules of an unwind row.
const (
	fpSame  uint8 = iota // the caller's FP is the current FP
	fpSaved              // the caller's FP is saved at CFA + FPOff
	fpOther              // anything else: FP is unknown above this frame

	// raUndefined marks a register explicitly undefined while parsing;
	// for the return address it means "outermost frame".
	raUndefined uint8 = 3
)

// unwindRow says how to unwind from the addresses [PC, next row's PC). The
// return address is at CFA + RAOff (x86-64: always CFA - 8).
type unwindRow struct {
	PC     uint64
	CFA    uint8
	FP     uint8
	CFAOff int32
	FPOff  int32
	RAOff  int32
}

// unwindTable is the .eh_frame of one object flattened into rows sorted by
// PC, in the object's virtual addresses: everything a frame-pointer-less
// stack walk needs, and nothing else. It lives in memory only, for the
// DWARF unwinding of the samples after the run.
type unwindTable struct {
	Machine uint32
	Rows    []unwindRow
}

// lookup returns the row covering pc.
func (t *unwindTable) lookup(pc uint64) (unwindRow, bool) {
	i, found := slices.BinarySearchFunc(t.Rows, pc, func(r unwindRow, pc uint64) int { return cmp.Compare(r.PC, pc) })
	if !found {
		i--
	}
	if i < 0 || t.Rows[i].CFA == cfaNone {
		return unwindRow{}, false
	}
	return t.Rows[i], true
}

// archRegs are the DWARF register numbers that unwinding tracks.
type archRegs struct{ sp, fp, ra uint64 }

var (
	regsAMD64 = archRegs{sp: 7, fp: 6, ra: 16}
	regsARM64 = archRegs{sp: 31, fp: 29, ra: 30}
)

type cie struct {
	codeAlign uint64
	dataAlign int64
	raReg     uint64
	fdeEnc    uint8
	hasAug    bool
	initial   []byte
}

// regRule is how one register is recovered: same value, or saved at
// CFA+off, or anything else.
type regRule struct {
	kind uint8 // fpSame, fpSaved, fpOther (reused for RA)
	off  int64
}

type cfiState struct {
	cfaReg uint64
	cfaOff int64
	cfaOK  bool // false: expression or a register we do not track
	fp, ra regRule
}

// parseEHFrame flattens an .eh_frame section (data, loaded at vaddr) into an
// unwind table for the architecture whose registers are regs. FDEs it cannot
// read are skipped: a partial table unwinds what it covers; a structural
// error (bad lengths) ends the walk and is returned with what was read.
func parseEHFrame(data []byte, vaddr uint64, regs archRegs, machine uint32) (*unwindTable, error) {
	t := &unwindTable{Machine: machine}
	cies := map[int]*cie{}
	var firstErr error
	pos := 0
	for pos+4 <= len(data) {
		start := pos
		r := &cfiReader{b: data, pos: pos, end: len(data)}
		length, _ := r.fixed(4)
		if length == 0 {
			break // terminator
		}
		if length == 0xffffffff {
			l64, err := r.fixed(8)
			if err != nil {
				return t, &ehFrameError{start, "truncated 64-bit length"}
			}
			length = l64
		}
		if length > uint64(len(data)-r.pos) {
			return finishTable(t), &ehFrameError{start, fmt.Sprintf("entry length %d runs past the section end", length)}
		}
		r.end = r.pos + int(length)
		pos = r.end
		idPos := r.pos
		id, err := r.fixed(4)
		if err != nil {
			return finishTable(t), &ehFrameError{start, "truncated entry"}
		}
		if id == 0 {
			c, err := parseCIE(r, vaddr)
			if err != nil {
				firstErr = cmpErr(firstErr, &ehFrameError{start, "CIE: " + err.Error()})
				continue
			}
			cies[start] = c
			continue
		}
		ciePos := idPos - int(id)
		c := cies[ciePos]
		if c == nil {
			if ciePos < 0 || ciePos >= len(data) {
				firstErr = cmpErr(firstErr, &ehFrameError{start, "FDE points outside the section"})
				continue
			}
			cr := &cfiReader{b: data, pos: ciePos, end: len(data)}
			l, _ := cr.fixed(4)
			if l == 0 || l == 0xffffffff || l > uint64(len(data)-cr.pos) {
				firstErr = cmpErr(firstErr, &ehFrameError{start, "FDE's CIE is unreadable"})
				continue
			}
			cr.end = cr.pos + int(l)
			if cid, err := cr.fixed(4); err != nil || cid != 0 {
				firstErr = cmpErr(firstErr, &ehFrameError{start, "FDE's CIE pointer does not point at a CIE"})
				continue
			}
			if c, err = parseCIE(cr, vaddr); err != nil {
				firstErr = cmpErr(firstErr, &ehFrameError{ciePos, "CIE: " + err.Error()})
				continue
			}
			cies[ciePos] = c
		}
		if err := parseFDE(r, c, vaddr, regs, t); err != nil {
			firstErr = cmpErr(firstErr, &ehFrameError{start, "FDE: " + err.Error()})
		}
	}
	return finishTable(t), firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func parseCIE(r *cfiReader, vaddr uint64) (*cie, error) {
	c := &cie{fdeEnc: 0}
	version, err := r.u8()
	if err != nil {
		return nil, err
	}
	if version != 1 && version != 3 && version != 4 {
		return nil, fmt.Errorf("version %d not supported", version)
	}
	aug, err := r.cstring()
	if err != nil {
		return nil, err
	}
	if version == 4 {
		if _, err := r.fixed(2); err != nil { // address size, segment size
			return nil, err
		}
	}
	if c.codeAlign, err = r.uleb(); err != nil {
		return nil, err
	}
	if c.dataAlign, err = r.sleb(); err != nil {
		return nil, err
	}
	if version == 1 {
		ra, err := r.u8()
		if err != nil {
			return nil, err
		}
		c.raReg = uint64(ra)
	} else if c.raReg, err = r.uleb(); err != nil {
		return nil, err
	}
	if len(aug) > 0 && aug[0] == 'z' {
		c.hasAug = true
		n, err := r.uleb()
		if err != nil {
			return nil, err
		}
		if n > uint64(r.end-r.pos) {
			return nil, errShort
		}
		augEnd := r.pos + int(n)
		for _, ch := range aug[1:] {
			switch ch {
			case 'R':
				if c.fdeEnc, err = r.u8(); err != nil {
					return nil, err
				}
			case 'L':
				if _, err = r.u8(); err != nil {
					return nil, err
				}
			case 'P':
				enc, err := r.u8()
				if err != nil {
					return nil, err
				}
				if _, err := r.pointer(enc&^0x80, vaddr); err != nil {
					return nil, err
				}
			case 'S', 'B', 'G':
			default:
				// Unknown augmentation: its data length lets us skip it.
				r.pos = augEnd
			}
		}
		r.pos = augEnd
	} else if aug != "" {
		return nil, fmt.Errorf("augmentation %q not supported", aug)
	}
	c.initial = r.b[r.pos:r.end]
	return c, nil
}

func parseFDE(r *cfiReader, c *cie, vaddr uint64, regs archRegs, t *unwindTable) error {
	pcBegin, err := r.pointer(c.fdeEnc, vaddr)
	if err != nil {
		return err
	}
	pcRange, err := r.pointer(c.fdeEnc&0x0f, vaddr)
	if err != nil {
		return err
	}
	if c.hasAug {
		// The FDE's augmentation data: nothing in it is needed here.
		if err := r.skipBlock(); err != nil {
			return err
		}
	}
	if pcRange == 0 {
		return nil
	}
	init := cfiState{fp: regRule{kind: fpSame}, ra: regRule{kind: fpOther}}
	st := init
	ex := &cfiExec{c: c, regs: regs, vaddr: vaddr}
	if err := ex.run(&cfiReader{b: c.initial, end: len(c.initial)}, &st, nil, 0, nil); err != nil {
		return fmt.Errorf("CIE instructions: %w", err)
	}
	init = st
	emit := func(pc uint64, s *cfiState) {
		t.Rows = append(t.Rows, rowOf(pc, s, regs))
	}
	loc := pcBegin
	if err := ex.run(r, &st, &init, loc, emit); err != nil {
		return err
	}
	emit(ex.loc, &st)
	// Close the FDE's range, so that addresses past it find no row.
	t.Rows = append(t.Rows, unwindRow{PC: pcBegin + pcRange, CFA: cfaNone})
	return nil
}

func rowOf(pc uint64, s *cfiState, regs archRegs) unwindRow {
	row := unwindRow{PC: pc, CFA: cfaOther, FP: fpOther}
	if s.cfaOK && s.cfaOff == int64(int32(s.cfaOff)) {
		switch s.cfaReg {
		case regs.sp:
			row.CFA = cfaSP
		case regs.fp:
			row.CFA = cfaFP
		}
		row.CFAOff = int32(s.cfaOff)
	}
	if s.ra.kind == raUndefined {
		// The outermost frame (_start, thread entry points): stop here.
		row.CFA = cfaOther
		return row
	}
	if s.fp.kind != fpOther && s.fp.kind != raUndefined && s.fp.off == int64(int32(s.fp.off)) {
		row.FP = s.fp.kind
		row.FPOff = int32(s.fp.off)
	}
	switch {
	case s.ra.kind == fpSaved && s.ra.off == int64(int32(s.ra.off)):
		row.RAOff = int32(s.ra.off)
	default:
		// x86-64 always keeps the return address at CFA-8 even when the
		// CIE says nothing; arm64 leaves it in LR (RAOff 0 = "in LR").
		if regs == regsAMD64 {
			row.RAOff = -8
		}
	}
	return row
}

// finishTable sorts the rows and drops the redundant ones: a row equal to
// the one before it, and an end marker that a following FDE starts at.
func finishTable(t *unwindTable) *unwindTable {
	slices.SortStableFunc(t.Rows, func(a, b unwindRow) int {
		if c := cmp.Compare(a.PC, b.PC); c != 0 {
			return c
		}
		// At equal PCs an FDE's start beats the previous FDE's end.
		if a.CFA == cfaNone && b.CFA != cfaNone {
			return -1
		}
		if b.CFA == cfaNone && a.CFA != cfaNone {
			return 1
		}
		return 0
	})
	out := t.Rows[:0]
	for _, r := range t.Rows {
		if n := len(out); n > 0 {
			last := out[n-1]
			if last.PC == r.PC {
				out[n-1] = r
				if n > 1 && out[n-2] == withPC(r, out[n-2].PC) {
					out = out[:n-1]
				}
				continue
			}
			if withPC(last, r.PC) == r {
				continue
			}
		}
		out = append(out, r)
	}
	t.Rows = out
	return t
}

func withPC(r unwindRow, pc uint64) unwindRow {
	r.PC = pc
	return r
}
