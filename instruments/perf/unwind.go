package perf

import "encoding/binary"

// maxDepth bounds stack walks: deeper stacks are cut at the root end.
const maxDepth = 512

// unwindSample replaces a DWARF sample's registers and stack copy by its
// unwound stack, with the mappings sp knows at the sample's time.
func unwindSample(sp *spaces, r *Record) {
	if len(r.regs) == 3 {
		p := sp.procs[r.Pid]
		if p == nil {
			p = &process{}
		}
		r.Stack = unwindStack(p, r.regs[regIP], r.regs[regSP], r.regs[regBP], r.stackCopy)
	}
	r.regs, r.stackCopy = nil, nil
}

// unwindStack walks a sampled user stack (stack holds the bytes from sp up)
// with the unwind tables of the objects mapped in p, falling back to the
// frame-pointer chain where an object has no table (Go code, JIT code).
func unwindStack(p *process, ip, sp, fp uint64, stack []byte) []uint64 {
	base := sp
	read := func(addr uint64) (uint64, bool) {
		if addr < base || addr-base > uint64(len(stack)) || addr-base+8 > uint64(len(stack)) {
			return 0, false
		}
		return binary.LittleEndian.Uint64(stack[addr-base:]), true
	}
	out := []uint64{ip}
	for len(out) < maxDepth {
		pc := ip
		if len(out) > 1 {
			pc-- // a return address points after the call
		}
		var row unwindRow
		haveRow := false
		if m := p.find(ip); m != nil && m.obj != nil {
			if t := m.obj.unwindTable(); t != nil {
				if v, ok := m.obj.vaddr(m, pc); ok {
					row, haveRow = t.lookup(v)
				}
			}
		}
		var cfa, ra uint64
		var ok bool
		if haveRow {
			switch row.CFA {
			case cfaSP:
				cfa = sp + uint64(int64(row.CFAOff))
			case cfaFP:
				cfa = fp + uint64(int64(row.CFAOff))
			default:
				return out
			}
			if ra, ok = read(cfa + uint64(int64(row.RAOff))); !ok {
				return out
			}
			switch row.FP {
			case fpSaved:
				if fp, ok = read(cfa + uint64(int64(row.FPOff))); !ok {
					fp = 0
				}
			case fpOther:
				fp = 0
			}
		} else {
			if fp == 0 {
				return out
			}
			if ra, ok = read(fp + 8); !ok {
				return out
			}
			cfa = fp + 16
			if fp, ok = read(fp); !ok {
				fp = 0
			}
		}
		if ra == 0 || cfa <= sp {
			return out
		}
		sp, ip = cfa, ra
		out = append(out, ip)
	}
	return out
}
