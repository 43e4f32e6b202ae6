// Package flamegraph holds call-stack profiles as folded stacks and draws
// them as self-contained SVG flame graphs. Every instrument produces one:
// callgrind's instruction counts, perf's samples, the memory instrument's
// allocated bytes. The folded format is Brendan Gregg's ("main;parse;lex 42"
// per line), so profiles also work with his flamegraph.pl, speedscope and
// inferno; the SVG needs nothing but a browser and can be inlined in an HTML
// report.
package flamegraph

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Profile is a set of call stacks, each with a value (samples, instructions,
// bytes). Frames are root first, as in the folded format. Identical stacks
// are merged by adding their values. The zero Profile is empty and ready to
// use; a Profile is not safe for concurrent use.
type Profile struct {
	// stacks maps the stack's frames joined by stackSep to its entry, so
	// adding a sample costs one map lookup.
	stacks map[string]*Stack
	total  float64
}

// Stack is one distinct call stack of a Profile and its summed value.
type Stack struct {
	Frames []string // root first
	Value  float64
}

// stackSep joins frames into map keys; frame names cannot contain it
// because Add replaces control characters.
const stackSep = "\x00"

// unknownFrame replaces empty frame names, which the folded format cannot
// tell apart from a stray separator.
const unknownFrame = "[unknown]"

// Add adds value to the stack given root first. It copies stack, so the
// caller may reuse it. Stacks without frames and values that are not
// positive finite numbers are ignored: a flame graph has no place for them.
// Frame names are made representable in the folded format: ';' becomes ':',
// control characters (newlines, tabs) become spaces, and a name that is empty
// or only white space becomes "[unknown]".
func (p *Profile) Add(stack []string, value float64) {
	if len(stack) == 0 || !(value > 0) || math.IsInf(value, 1) {
		return
	}
	frames := make([]string, len(stack))
	for i, f := range stack {
		frames[i] = cleanFrame(f)
	}
	key := strings.Join(frames, stackSep)
	if p.stacks == nil {
		p.stacks = make(map[string]*Stack)
	}
	if s, ok := p.stacks[key]; ok {
		s.Value += value
	} else {
		p.stacks[key] = &Stack{Frames: frames, Value: value}
	}
	p.total += value
}

func cleanFrame(f string) string {
	if strings.ContainsFunc(f, needsCleaning) {
		f = strings.Map(func(r rune) rune {
			switch {
			case r == ';':
				return ':'
			case r < 0x20 || r == 0x7f:
				return ' '
			}
			return r
		}, f)
	}
	if strings.TrimSpace(f) == "" {
		return unknownFrame
	}
	return f
}

func needsCleaning(r rune) bool { return r == ';' || r < 0x20 || r == 0x7f }

// Total is the sum of every stack's value: the width of the whole graph.
func (p *Profile) Total() float64 { return p.total }

// Len is the number of distinct stacks.
func (p *Profile) Len() int { return len(p.stacks) }

// Stacks returns the distinct stacks in a deterministic order (frame by
// frame, by name). The result and its frames are copies the caller owns.
func (p *Profile) Stacks() []Stack {
	out := make([]Stack, 0, len(p.stacks))
	for _, s := range p.stacks {
		out = append(out, Stack{Frames: slices.Clone(s.Frames), Value: s.Value})
	}
	slices.SortFunc(out, func(a, b Stack) int { return slices.Compare(a.Frames, b.Frames) })
	return out
}

// sortedStacks is Stacks without the copies, for this package's readers.
func (p *Profile) sortedStacks() []*Stack {
	out := make([]*Stack, 0, len(p.stacks))
	for _, s := range p.stacks {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Stack) int {
		return cmp.Or(slices.Compare(a.Frames, b.Frames), cmp.Compare(a.Value, b.Value))
	})
	return out
}
