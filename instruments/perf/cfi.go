package perf

import (
	"errors"
	"fmt"
)

// ehFrameError is malformed .eh_frame data; Offset is into the section.
type ehFrameError struct {
	Offset int
	Msg    string
}

func (e *ehFrameError) Error() string {
	return fmt.Sprintf(".eh_frame offset %#x: %s", e.Offset, e.Msg)
}

var errShort = errors.New("truncated")

// cfiReader reads the primitive types of .eh_frame.
type cfiReader struct {
	b   []byte
	pos int
	end int
}

func (r *cfiReader) u8() (uint8, error) {
	if r.pos+1 > r.end {
		return 0, errShort
	}
	r.pos++
	return r.b[r.pos-1], nil
}

func (r *cfiReader) fixed(n int) (uint64, error) {
	if r.pos+n > r.end || n > 8 {
		return 0, errShort
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(r.b[r.pos+i])
	}
	r.pos += n
	return v, nil
}

func (r *cfiReader) uleb() (uint64, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c, err := r.u8()
		if err != nil {
			return 0, err
		}
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

func (r *cfiReader) sleb() (int64, error) {
	var v int64
	var shift uint
	for {
		c, err := r.u8()
		if err != nil {
			return 0, err
		}
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
}

func (r *cfiReader) cstring() (string, error) {
	for i := r.pos; i < r.end; i++ {
		if r.b[i] == 0 {
			s := string(r.b[r.pos:i])
			r.pos = i + 1
			return s, nil
		}
	}
	return "", errShort
}

// pointer reads a pointer in DW_EH_PE encoding enc; base is the virtual
// address of the section start, for pc-relative encodings.
func (r *cfiReader) pointer(enc uint8, base uint64) (uint64, error) {
	if enc == 0xff {
		return 0, nil
	}
	at := base + uint64(r.pos)
	var v uint64
	var err error
	switch enc & 0x0f {
	case 0x00:
		v, err = r.fixed(8)
	case 0x01:
		v, err = r.uleb()
	case 0x02:
		v, err = r.fixed(2)
	case 0x03:
		v, err = r.fixed(4)
	case 0x04:
		v, err = r.fixed(8)
	case 0x09:
		var s int64
		s, err = r.sleb()
		v = uint64(s)
	case 0x0a:
		v, err = r.fixed(2)
		v = uint64(int64(int16(v)))
	case 0x0b:
		v, err = r.fixed(4)
		v = uint64(int64(int32(v)))
	case 0x0c:
		v, err = r.fixed(8)
	default:
		return 0, fmt.Errorf("pointer encoding %#x not supported", enc)
	}
	if err != nil {
		return 0, err
	}
	switch enc & 0x70 {
	case 0x00:
	case 0x10:
		v += at
	default:
		return 0, fmt.Errorf("pointer application %#x not supported", enc&0x70)
	}
	return v, nil
}

type cfiExec struct {
	c     *cie
	regs  archRegs
	vaddr uint64
	loc   uint64
}

// run executes call frame instructions. With emit nil it runs the CIE's
// initial instructions (no rows); otherwise each location advance emits the
// row of the state before it.
func (x *cfiExec) run(r *cfiReader, st *cfiState, init *cfiState, loc uint64, emit func(uint64, *cfiState)) error {
	x.loc = loc
	var stack []cfiState
	setReg := func(reg uint64, rule regRule) {
		switch reg {
		case x.regs.fp:
			st.fp = rule
		case x.regs.ra:
			st.ra = rule
		}
	}
	restore := func(reg uint64) {
		if init == nil {
			setReg(reg, regRule{kind: fpSame})
			return
		}
		switch reg {
		case x.regs.fp:
			st.fp = init.fp
		case x.regs.ra:
			st.ra = init.ra
		}
	}
	advance := func(delta uint64) {
		if emit != nil && delta > 0 {
			emit(x.loc, st)
		}
		x.loc += delta * x.c.codeAlign
	}
	steps := 0
	for r.pos < r.end {
		if steps++; steps > 1<<20 {
			return errors.New("too many instructions")
		}
		op, _ := r.u8()
		switch op >> 6 {
		case 1:
			advance(uint64(op & 0x3f))
			continue
		case 2:
			off, err := r.uleb()
			if err != nil {
				return err
			}
			setReg(uint64(op&0x3f), regRule{kind: fpSaved, off: int64(off) * x.c.dataAlign})
			continue
		case 3:
			restore(uint64(op & 0x3f))
			continue
		}
		var err error
		switch op {
		case 0x00: // nop
		case 0x01: // set_loc
			var to uint64
			if to, err = r.pointer(x.c.fdeEnc, x.vaddr); err == nil {
				if to < x.loc {
					return errors.New("set_loc goes backwards")
				}
				if emit != nil {
					emit(x.loc, st)
				}
				x.loc = to
			}
		case 0x02, 0x03, 0x04:
			var d uint64
			if d, err = r.fixed([]int{1, 2, 4}[op-2]); err == nil {
				advance(d)
			}
		case 0x05, 0x14: // offset_extended, val_offset
			var reg, off uint64
			if reg, err = r.uleb(); err == nil {
				if off, err = r.uleb(); err == nil {
					kind := fpSaved
					if op == 0x14 {
						kind = fpOther
					}
					setReg(reg, regRule{kind: kind, off: int64(off) * x.c.dataAlign})
				}
			}
		case 0x11, 0x15: // offset_extended_sf, val_offset_sf
			var reg uint64
			var off int64
			if reg, err = r.uleb(); err == nil {
				if off, err = r.sleb(); err == nil {
					kind := fpSaved
					if op == 0x15 {
						kind = fpOther
					}
					setReg(reg, regRule{kind: kind, off: off * x.c.dataAlign})
				}
			}
		case 0x2f: // GNU_negative_offset_extended
			var reg, off uint64
			if reg, err = r.uleb(); err == nil {
				if off, err = r.uleb(); err == nil {
					setReg(reg, regRule{kind: fpSaved, off: -int64(off) * x.c.dataAlign})
				}
			}
		case 0x06: // restore_extended
			var reg uint64
			if reg, err = r.uleb(); err == nil {
				restore(reg)
			}
		case 0x07: // undefined
			var reg uint64
			if reg, err = r.uleb(); err == nil {
				setReg(reg, regRule{kind: raUndefined})
			}
		case 0x08: // same_value
			var reg uint64
			if reg, err = r.uleb(); err == nil {
				setReg(reg, regRule{kind: fpSame})
			}
		case 0x09: // register
			var reg uint64
			if reg, err = r.uleb(); err == nil {
				if _, err = r.uleb(); err == nil {
					setReg(reg, regRule{kind: fpOther})
				}
			}
		case 0x0a: // remember_state
			if len(stack) > 64 {
				return errors.New("remember_state nested too deep")
			}
			stack = append(stack, *st)
		case 0x0b: // restore_state
			if len(stack) == 0 {
				return errors.New("restore_state without remember_state")
			}
			// The whole row comes back, CFA included, as libgcc's
			// unwinder and readelf do (GCC's epilogues rely on it).
			*st = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		case 0x0c: // def_cfa
			var reg, off uint64
			if reg, err = r.uleb(); err == nil {
				if off, err = r.uleb(); err == nil {
					st.cfaReg, st.cfaOff, st.cfaOK = reg, int64(off), true
				}
			}
		case 0x12: // def_cfa_sf
			var reg uint64
			var off int64
			if reg, err = r.uleb(); err == nil {
				if off, err = r.sleb(); err == nil {
					st.cfaReg, st.cfaOff, st.cfaOK = reg, off*x.c.dataAlign, true
				}
			}
		case 0x0d: // def_cfa_register
			var reg uint64
			if reg, err = r.uleb(); err == nil {
				st.cfaReg = reg
			}
		case 0x0e: // def_cfa_offset
			var off uint64
			if off, err = r.uleb(); err == nil {
				st.cfaOff = int64(off)
			}
		case 0x13: // def_cfa_offset_sf
			var off int64
			if off, err = r.sleb(); err == nil {
				st.cfaOff = off * x.c.dataAlign
			}
		case 0x0f: // def_cfa_expression
			if err = r.skipBlock(); err == nil {
				st.cfaOK = false
			}
		case 0x10, 0x16: // expression, val_expression
			var reg uint64
			if reg, err = r.uleb(); err == nil {
				if err = r.skipBlock(); err == nil {
					setReg(reg, regRule{kind: fpOther})
				}
			}
		case 0x2e: // GNU_args_size
			_, err = r.uleb()
		default:
			return fmt.Errorf("call frame instruction %#x not supported", op)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *cfiReader) skipBlock() error {
	n, err := r.uleb()
	if err != nil {
		return err
	}
	if n > uint64(r.end-r.pos) {
		return errShort
	}
	r.pos += int(n)
	return nil
}
