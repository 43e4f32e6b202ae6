package callgrind

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
)

// maxCompressedID bounds "(id)" name ids so that hostile input cannot make
// the parser allocate huge tables; callgrind numbers names densely from 1.
const maxCompressedID = 1 << 26

// ParseFile reads and parses the callgrind file at path. Errors carry the
// path and the line.
func ParseFile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read callgrind file: %w", err)
	}
	p, err := ParseBytes(data)
	if se, ok := err.(*SyntaxError); ok {
		se.File = path
	}
	return p, err
}

// Parse reads all of r and parses it.
func Parse(r io.Reader) (*Profile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read callgrind data: %w", err)
	}
	return ParseBytes(data)
}

// ParseBytes parses a callgrind file held in memory. The returned Profile
// does not refer to data. A malformed line is a *SyntaxError.
func ParseBytes(data []byte) (*Profile, error) {
	ps := parser{prof: &Profile{}, npos: 1}
	if err := ps.run(data); err != nil {
		return nil, err
	}
	return ps.prof, nil
}

type funcKey struct{ ob, fn int32 }

type parser struct {
	prof *Profile
	line int

	// Name interning and the "(id)" compression tables: objects, files and
	// functions have separate id spaces.
	names               map[string]int32
	nameList            []string
	obIDs, flIDs, fnIDs map[int64]int32

	npos   int      // position columns per cost line
	thread int      // current "thread:"
	events []string // current event names

	part  *Part
	funcs map[funcKey]int // index in part.Funcs

	curOb          int32
	curIdx         int // current function in part.Funcs
	haveFn         bool
	callOb, callFn int32
	haveCallOb     bool
	haveCallFn     bool
	callCount      int64
	inCall         bool // the next cost line is a call's inclusive cost
	explicitParts  bool
	totalsSeen     bool
	totalsOverflow bool
}

func (ps *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Line: ps.line, Msg: fmt.Sprintf(format, args...)}
}

func (ps *parser) intern(b []byte) int32 {
	if id, ok := ps.names[string(b)]; ok {
		return id
	}
	s := string(b)
	id := int32(len(ps.nameList))
	ps.nameList = append(ps.nameList, s)
	ps.names[s] = id
	return id
}

func (ps *parser) run(data []byte) error {
	ps.names = make(map[string]int32, 1024)
	ps.obIDs = map[int64]int32{}
	ps.flIDs = map[int64]int32{}
	ps.fnIDs = map[int64]int32{}
	ps.curOb = ps.intern(nil)

	for len(data) > 0 {
		ps.line++
		var ln []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			ln, data = data[:i], data[i+1:]
		} else {
			ln, data = data, nil
		}
		if len(ln) > 0 && ln[len(ln)-1] == '\r' {
			ln = ln[:len(ln)-1]
		}
		if len(ln) == 0 {
			continue
		}
		var err error
		switch c := ln[0]; {
		case c >= '0' && c <= '9', c == '+', c == '-', c == '*':
			err = ps.costLine(ln)
		case c == '#':
		default:
			err = ps.specLine(ln)
		}
		if err != nil {
			return err
		}
	}
	if ps.inCall {
		return ps.errorf("calls= line without a following cost line at end of file")
	}
	ps.finishPart()
	return nil
}

// startPart begins a new part; header values seen so far (events,
// positions) carry over, as callgrind repeats them per part anyway.
func (ps *parser) startPart(number int) {
	ps.finishPart()
	if number == 0 {
		number = len(ps.prof.Parts) + 1
	}
	ps.part = &Part{Number: number, Events: ps.events, Thread: ps.thread}
	ps.funcs = make(map[funcKey]int, 256)
	ps.haveFn = false
	ps.totalsSeen = false
	ps.totalsOverflow = false
}

func (ps *parser) curPart() *Part {
	if ps.part == nil {
		ps.startPart(0)
	}
	return ps.part
}

func (ps *parser) finishPart() {
	p := ps.part
	if p == nil {
		return
	}
	ps.part = nil
	n := len(p.Events)
	for i := range p.Funcs {
		f := &p.Funcs[i]
		f.Self = fitCosts(f.Self, n)
		if len(f.Calls) > 1 {
			f.Calls = mergeCalls(f.Calls, n)
		} else if len(f.Calls) == 1 {
			f.Calls[0].Inclusive = fitCosts(f.Calls[0].Inclusive, n)
		}
	}
	if !ps.totalsSeen {
		p.Totals = make([]int64, n)
		for i := range p.Funcs {
			for j, v := range p.Funcs[i].Self {
				p.Totals[j] += v
			}
		}
	} else {
		p.Totals = fitCosts(p.Totals, n)
	}
	if p.Summary != nil {
		p.Summary = fitCosts(p.Summary, n)
	}
	ps.prof.Parts = append(ps.prof.Parts, p)
}

func fitCosts(c []int64, n int) []int64 {
	if len(c) == n {
		return c
	}
	out := make([]int64, n)
	copy(out, c)
	return out
}

// mergeCalls merges the call sites of one caller per callee (callgrind
// writes one entry per call site), keeping first-appearance order.
func mergeCalls(calls []Call, n int) []Call {
	slices.SortStableFunc(calls, func(a, b Call) int { return a.Callee - b.Callee })
	out := calls[:0]
	for _, c := range calls {
		c.Inclusive = fitCosts(c.Inclusive, n)
		if k := len(out) - 1; k >= 0 && out[k].Callee == c.Callee {
			out[k].Count += c.Count
			for j, v := range c.Inclusive {
				out[k].Inclusive[j] += v
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// funcIndex returns the index in the current part of function (ob, fn),
// adding it on first use.
func (ps *parser) funcIndex(ob, fn int32) int {
	p := ps.curPart()
	k := funcKey{ob, fn}
	if i, ok := ps.funcs[k]; ok {
		return i
	}
	i := len(p.Funcs)
	p.Funcs = append(p.Funcs, Func{Object: ps.nameList[ob], Name: ps.nameList[fn]})
	ps.funcs[k] = i
	return i
}

// name resolves a name field with callgrind's compression: "(id) name"
// defines id, "(id)" refers to it; anything else (including names such as
// "(below main)") is a plain name.
func (ps *parser) name(v []byte, table map[int64]int32) (int32, error) {
	if len(v) >= 3 && v[0] == '(' {
		j := 1
		var id int64
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			id = id*10 + int64(v[j]-'0')
			if id > maxCompressedID {
				return 0, ps.errorf("compressed name id too large")
			}
			j++
		}
		if j > 1 && j < len(v) && v[j] == ')' {
			rest := v[j+1:]
			if len(rest) == 0 {
				n, ok := table[id]
				if !ok {
					return 0, ps.errorf("compressed name (%d) used before its definition", id)
				}
				return n, nil
			}
			if rest[0] == ' ' {
				n := ps.intern(rest[1:])
				table[id] = n
				return n, nil
			}
		}
	}
	return ps.intern(v), nil
}

func (ps *parser) specLine(ln []byte) error {
	if ps.inCall && !bytes.HasPrefix(ln, []byte("calls=")) {
		// Tolerate nothing between calls= and its cost line except
		// comments; anything else would silently misattribute costs.
		return ps.errorf("expected the cost line of the preceding calls=, found %q", clip(ln))
	}
	eq := bytes.IndexByte(ln, '=')
	colon := bytes.IndexByte(ln, ':')
	if eq > 0 && (colon < 0 || eq < colon) {
		key, v := ln[:eq], ln[eq+1:]
		switch string(key) {
		case "ob":
			id, err := ps.name(v, ps.obIDs)
			if err != nil {
				return err
			}
			ps.curOb = id
		case "fl", "fi", "fe", "cfi", "cfl", "jfi":
			// Files only locate costs within a function (fi/fe mark inlined
			// code): costs stay with the current function.
			_, err := ps.name(v, ps.flIDs)
			return err
		case "fn":
			id, err := ps.name(v, ps.fnIDs)
			if err != nil {
				return err
			}
			ps.curIdx, ps.haveFn = ps.funcIndex(ps.curOb, id), true
		case "cob":
			id, err := ps.name(v, ps.obIDs)
			if err != nil {
				return err
			}
			ps.callOb, ps.haveCallOb = id, true
		case "cfn":
			id, err := ps.name(v, ps.fnIDs)
			if err != nil {
				return err
			}
			ps.callFn, ps.haveCallFn = id, true
		case "calls":
			if !ps.haveFn {
				return ps.errorf("calls= outside a function")
			}
			if ps.inCall {
				return ps.errorf("calls= follows calls= without a cost line")
			}
			if !ps.haveCallFn {
				return ps.errorf("calls= without a preceding cfn=")
			}
			n, _, ok := parseUint(v)
			if !ok {
				return ps.errorf("bad call count in %q", clip(ln))
			}
			ps.callCount = n
			ps.inCall = true
		case "jfn":
			// Jump targets (--collect-jumps) are not used, but may define
			// a compressed name used later.
			_, err := ps.name(v, ps.fnIDs)
			return err
		case "jump", "jcnd":
			// Jump arcs (--collect-jumps) are not used.
		default:
			return ps.errorf("unknown specification %q", clip(key))
		}
		return nil
	}
	if colon <= 0 {
		return ps.errorf("unrecognised line %q", clip(ln))
	}
	key, v := ln[:colon], bytes.TrimLeft(ln[colon+1:], " \t")
	switch string(key) {
	case "events":
		ps.events = fieldsString(v)
		if ps.part != nil && len(ps.part.Funcs) == 0 && !ps.totalsSeen {
			ps.part.Events = ps.events
		} else if ps.part != nil {
			return ps.errorf("events: redefined within a part")
		}
	case "positions":
		f := fieldsString(v)
		if len(f) == 0 {
			return ps.errorf("empty positions:")
		}
		for _, x := range f {
			if x != "line" && x != "instr" {
				return ps.errorf("unknown position kind %q", x)
			}
		}
		ps.npos = len(f)
	case "part":
		n, _, ok := parseUint(v)
		if !ok || n > 1<<31 {
			return ps.errorf("bad part number %q", clip(v))
		}
		if !ps.explicitParts && ps.part != nil && len(ps.part.Funcs) == 0 && !ps.totalsSeen {
			// Headers before the first "part:" only set defaults.
			ps.part = nil
		}
		ps.explicitParts = true
		ps.startPart(int(n))
	case "desc":
		if t, ok := bytes.CutPrefix(v, []byte("Trigger:")); ok {
			ps.curPart().Trigger = string(bytes.TrimLeft(t, " "))
		}
	case "totals", "summary":
		p := ps.curPart()
		c := make([]int64, 0, len(p.Events))
		rest := v
		for len(rest) > 0 {
			n, r, ok := parseUint(rest)
			if !ok {
				return ps.errorf("bad number in %s: %q", key, clip(v))
			}
			c = append(c, n)
			rest = skipSpaces(r)
		}
		if len(c) > len(p.Events) {
			return ps.errorf("%s: has %d values for %d events", key, len(c), len(p.Events))
		}
		if key[0] == 't' {
			p.Totals, ps.totalsSeen = c, true
		} else {
			p.Summary = c
		}
	case "pid", "thread":
		n, _, ok := parseUint(v)
		if !ok || n > 1<<31 {
			return ps.errorf("bad %s: %q", key, clip(v))
		}
		if key[0] == 'p' {
			ps.prof.Pid = int(n)
		} else {
			ps.prof.Thread, ps.thread = int(n), int(n)
			if ps.part != nil {
				ps.part.Thread = int(n)
			}
		}
	case "cmd":
		ps.prof.Cmd = string(v)
	case "creator":
		ps.prof.Creator = string(v)
	case "version":
		if string(v) != "1" {
			return ps.errorf("unsupported callgrind format version %q", clip(v))
		}
	default:
		// Other headers (event:, desc-like extensions) carry no costs.
	}
	return nil
}

// costLine parses "<positions> <costs>" and adds the costs to the current
// function or, right after calls=, to that call's inclusive cost.
func (ps *parser) costLine(ln []byte) error {
	if !ps.haveFn {
		return ps.errorf("cost line outside a function")
	}
	rest := ln
	for i := 0; i < ps.npos; i++ {
		var ok bool
		if rest, ok = skipPosition(rest); !ok {
			return ps.errorf("bad position in %q", clip(ln))
		}
		rest = skipSpaces(rest)
	}
	p := ps.part
	fi := ps.curIdx
	var dst *[]int64
	if ps.inCall {
		ob := ps.curOb
		if ps.haveCallOb {
			ob = ps.callOb
		}
		ci := ps.funcIndex(ob, ps.callFn)
		f := &p.Funcs[fi]
		f.Calls = append(f.Calls, Call{Callee: ci, Count: ps.callCount})
		dst = &f.Calls[len(f.Calls)-1].Inclusive
		ps.inCall, ps.haveCallOb, ps.haveCallFn = false, false, false
	} else {
		dst = &p.Funcs[fi].Self
	}
	n := len(p.Events)
	for j := 0; len(rest) > 0; j++ {
		v, r, ok := parseUint(rest)
		if !ok {
			return ps.errorf("bad cost in %q", clip(ln))
		}
		if j >= n {
			return ps.errorf("more costs than the %d events in %q", n, clip(ln))
		}
		if v != 0 {
			if len(*dst) <= j {
				*dst = fitCosts(*dst, n)
			}
			(*dst)[j] += v
		}
		rest = skipSpaces(r)
	}
	return nil
}

// skipPosition skips one position field: a number (decimal or 0x hex), a
// relative one (+N, -N) or "*" (same as before).
func skipPosition(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return b, false
	}
	i := 0
	switch b[0] {
	case '*':
		return b[1:], true
	case '+', '-':
		i = 1
	}
	if len(b) > i+1 && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') {
		j := i + 2
		for j < len(b) && isHex(b[j]) {
			j++
		}
		if j == i+2 {
			return b, false
		}
		return b[j:], true
	}
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == i {
		return b, false
	}
	return b[j:], true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// parseUint parses a decimal number at the start of b; it must be followed
// by the end, a space or a tab.
func parseUint(b []byte) (int64, []byte, bool) {
	var n uint64
	i := 0
	for i < len(b) {
		c := b[i]
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<62 {
			return 0, b, false
		}
		i++
	}
	if i == 0 || (i < len(b) && b[i] != ' ' && b[i] != '\t') {
		return 0, b, false
	}
	return int64(n), b[i:], true
}

func skipSpaces(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func fieldsString(b []byte) []string {
	f := bytes.Fields(b)
	out := make([]string, len(f))
	for i, x := range f {
		out[i] = string(x)
	}
	return out
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}
