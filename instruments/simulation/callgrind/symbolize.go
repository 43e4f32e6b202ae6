package callgrind

import (
	"strconv"
	"strings"
)

// UnknownObject is the object callgrind gives code outside every mapped
// file: anonymous executable memory, where JIT compilers put their code.
const UnknownObject = "???"

// AddressName parses the name callgrind gives a function it found no symbol
// for: "0x" and the hexadecimal address of its first basic block (relative
// to the object's load address in a file, absolute in UnknownObject),
// optionally followed by a recursion level ("'2"). ok is false for other
// names.
func AddressName(name string) (addr uint64, level string, ok bool) {
	hex, ok := strings.CutPrefix(name, "0x")
	if !ok {
		return 0, "", false
	}
	if i := strings.IndexByte(hex, '\''); i >= 0 {
		hex, level = hex[:i], hex[i:]
	}
	addr, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, "", false
	}
	return addr, level, true
}

// Symbolize names the functions of UnknownObject that callgrind could only
// name by address, with resolve (typically a JIT's perf map: see
// instruments/perfmap), keeping their recursion level; it returns how many
// it renamed. Callgrind makes a function of every basic block it cannot
// place, so the blocks of one JIT function become one function again:
// functions left with the same object and name are merged (costs and calls
// added), and the calls between blocks merged into one function are dropped,
// their cost being the merged function's own. Totals are unchanged.
func (p *Part) Symbolize(resolve func(addr uint64) (string, bool)) int {
	renamed := 0
	for i := range p.Funcs {
		f := &p.Funcs[i]
		if f.Object != UnknownObject {
			continue
		}
		addr, level, ok := AddressName(f.Name)
		if !ok {
			continue
		}
		if name, ok := resolve(addr); ok {
			f.Name = name + level
			renamed++
		}
	}
	if renamed > 0 {
		p.mergeSameName()
	}
	return renamed
}

// mergeSameName merges functions of equal object and name.
func (p *Part) mergeSameName() {
	type key struct{ ob, fn string }
	index := make(map[key]int, len(p.Funcs))
	to := make([]int, len(p.Funcs))
	var out []Func
	for i, f := range p.Funcs {
		k := key{f.Object, f.Name}
		j, ok := index[k]
		if !ok {
			j = len(out)
			index[k] = j
			out = append(out, Func{Object: f.Object, Name: f.Name, Self: append([]int64(nil), f.Self...)})
		} else {
			for e, v := range f.Self {
				out[j].Self[e] += v
			}
		}
		to[i] = j
	}
	if len(out) == len(p.Funcs) {
		return
	}
	n := len(p.Events)
	for i, f := range p.Funcs {
		j := to[i]
		for _, c := range f.Calls {
			if c.Callee != i && to[c.Callee] == j {
				continue // between blocks of one function: already in its self cost
			}
			c.Callee = to[c.Callee]
			c.Inclusive = append([]int64(nil), c.Inclusive...)
			out[j].Calls = append(out[j].Calls, c)
		}
	}
	for j := range out {
		out[j].Self = fitCosts(out[j].Self, n)
		if len(out[j].Calls) > 1 {
			out[j].Calls = mergeCalls(out[j].Calls, n)
		}
	}
	p.Funcs = out
}
