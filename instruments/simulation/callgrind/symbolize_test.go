package callgrind

import (
	"strings"
	"testing"
)

// Three basic blocks of one JIT function (two of them at recursion level
// 2), called from the interpreter, calling memcpy: after symbolization they
// are one function per level, with the calls between them gone and every
// cost kept.
func TestSymbolize(t *testing.T) {
	in := `events: Ir
fl=???
ob=/usr/bin/node
fn=Builtins_InterpreterEntryTrampoline
0 10
cob=???
cfn=0x0000000000401000
calls=1 0
0 135
ob=???
fn=0x0000000000401000
0 20
cfn=0x0000000000401010
calls=1 0
0 115
fn=0x0000000000401010
0 40
cfn=0x0000000000401010'2
calls=1 0
0 75
fn=0x0000000000401010'2
0 30
cfn=0x0000000000401020'2
calls=1 0
0 45
fn=0x0000000000401020'2
0 25
cob=/usr/lib/libc.so.6
cfn=memcpy
calls=1 0
0 20
fn=0x0000000000999999
0 7
ob=/usr/lib/libc.so.6
fn=memcpy
0 20
fn=0x00000000000a5ac0
0 3
`
	prof, err := ParseBytes([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	p := prof.Parts[0]
	before := p.Stacks(0, StackOptions{})
	resolve := func(addr uint64) (string, bool) {
		if addr >= 0x401000 && addr < 0x401100 {
			return "JS:*fib /b.js:1:1", true
		}
		if addr == 0xa5ac0 {
			t.Error("an address inside a file was resolved")
		}
		return "", false
	}
	if n := p.Symbolize(resolve); n != 4 {
		t.Errorf("renamed %d functions, want 4", n)
	}
	var names []string
	var total int64
	for _, f := range p.Funcs {
		names = append(names, f.Name)
		total += f.Self[0]
	}
	if got := strings.Join(names, ","); got != "Builtins_InterpreterEntryTrampoline,JS:*fib /b.js:1:1,JS:*fib /b.js:1:1'2,memcpy,0x0000000000999999,0x00000000000a5ac0" {
		t.Errorf("functions: %s", got)
	}
	if total != 155 || p.Totals[0] != 155 {
		t.Errorf("self costs add to %d, totals %d; want 155", total, p.Totals[0])
	}
	st := p.Stacks(0, StackOptions{})
	want := map[string]float64{
		"Builtins_InterpreterEntryTrampoline":                                            10,
		"Builtins_InterpreterEntryTrampoline;JS:*fib /b.js:1:1":                          60,
		"Builtins_InterpreterEntryTrampoline;JS:*fib /b.js:1:1;JS:*fib /b.js:1:1":        55,
		"Builtins_InterpreterEntryTrampoline;JS:*fib /b.js:1:1;JS:*fib /b.js:1:1;memcpy": 20,
		"0x0000000000999999": 7,
		"0x00000000000a5ac0": 3,
	}
	for k, v := range want {
		if st[k] < v-0.01 || st[k] > v+0.01 {
			t.Errorf("stack %q = %g, want %g\nall: %v", k, st[k], v, st)
		}
	}
	var sb, sa float64
	for _, v := range before {
		sb += v
	}
	for _, v := range st {
		sa += v
	}
	if sb < sa-1e-6 || sb > sa+1e-6 {
		t.Errorf("stack weight %g before, %g after", sb, sa)
	}
}

func TestAddressName(t *testing.T) {
	for _, c := range []struct {
		in    string
		addr  uint64
		level string
		ok    bool
	}{
		{"0x000000000d064994'2", 0xd064994, "'2", true},
		{"0x10", 0x10, "", true},
		{"0xzz", 0, "", false},
		{"main", 0, "", false},
	} {
		a, l, ok := AddressName(c.in)
		if a != c.addr || l != c.level || ok != c.ok {
			t.Errorf("AddressName(%q) = %#x %q %v", c.in, a, l, ok)
		}
	}
}
