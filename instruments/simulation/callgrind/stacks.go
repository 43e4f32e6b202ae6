package callgrind

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
)

// StackOptions bound the stack expansion of Stacks.
type StackOptions struct {
	// MaxDepth caps the number of frames of a stack (default 256).
	MaxDepth int
	// MinFraction stops expanding a path whose weight is below this
	// fraction of the part's total (default 1e-5); its weight stays with
	// the path's last frame, so totals are kept.
	MinFraction float64
	// MaxPaths bounds the number of paths expanded (default 200000), so
	// that a call graph with very many distinct paths (diamonds of
	// diamonds) cannot make folding take minutes; paths beyond it keep
	// their weight on their last frame.
	MaxPaths int
}

// Stacks derives folded call stacks ("root;caller;callee" -> weight) of one
// event column from a part's call graph.
//
// Callgrind records costs per function and per caller->callee arc, not per
// full stack, so stacks are an approximation: a path ending in f with weight
// w is split between f's self cost and f's outgoing calls in the proportions
// f has over all its callers (w*Self(f)/Out(f) stays on the path and
// w*Incl(f->g)/Out(f) goes to path;g, where Out(f) = Self(f) + the sum of
// f's outgoing inclusive costs). This is exact for a function called from a
// single context and an even spread otherwise. Roots are the functions whose
// cost is not covered by incoming calls (entry points, and functions already
// running when instrumentation started). Weight is conserved: the stacks sum
// to the part's self costs. A function already on the path (recursion that
// callgrind's 'N contexts do not separate) ends the path. Frames use
// DisplayName, so recursion levels merge.
func (p *Part) Stacks(event int, opt StackOptions) map[string]float64 {
	out := map[string]float64{}
	if event < 0 || event >= len(p.Events) {
		return out
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = 256
	}
	if opt.MinFraction <= 0 {
		opt.MinFraction = 1e-5
	}
	if opt.MaxPaths <= 0 {
		opt.MaxPaths = 200000
	}
	expanded := 0
	n := len(p.Funcs)
	self := make([]float64, n)
	outTotal := make([]float64, n)
	incoming := make([]float64, n)
	var total float64
	for i := range p.Funcs {
		f := &p.Funcs[i]
		self[i] = float64(f.Self[event])
		total += self[i]
		outTotal[i] = self[i]
		for _, c := range f.Calls {
			v := float64(c.Inclusive[event])
			outTotal[i] += v
			if c.Callee != i {
				incoming[c.Callee] += v
			}
		}
	}
	if total == 0 {
		return out
	}
	minW := total * opt.MinFraction
	names := make([]string, n)
	for i := range p.Funcs {
		names[i] = DisplayName(p.Funcs[i].Name)
	}

	onPath := make([]bool, n)
	path := make([]int, 0, 64)
	var key strings.Builder
	emit := func(w float64) {
		if w <= 0 {
			return
		}
		key.Reset()
		for k, fi := range path {
			if k > 0 {
				key.WriteByte(';')
			}
			key.WriteString(names[fi])
		}
		out[key.String()] += w
	}
	var walk func(fi int, w float64)
	walk = func(fi int, w float64) {
		path = append(path, fi)
		onPath[fi] = true
		defer func() {
			onPath[fi] = false
			path = path[:len(path)-1]
		}()
		expanded++
		if w < minW || len(path) >= opt.MaxDepth || outTotal[fi] == 0 || expanded > opt.MaxPaths {
			emit(w)
			return
		}
		scale := w / outTotal[fi]
		stay := self[fi] * scale
		for _, c := range p.Funcs[fi].Calls {
			cw := float64(c.Inclusive[event]) * scale
			if cw <= 0 {
				continue
			}
			if onPath[c.Callee] {
				stay += cw
				continue
			}
			walk(c.Callee, cw)
		}
		emit(stay)
	}
	// Roots in order of decreasing uncovered weight, for stable output.
	roots := make([]int, 0)
	for i := range p.Funcs {
		if outTotal[i]-incoming[i] > 0.5 {
			roots = append(roots, i)
		}
	}
	var rootSum float64
	for _, r := range roots {
		rootSum += outTotal[r] - incoming[r]
	}
	// Recursion through functions callgrind does not split makes incoming
	// arcs overlap, so uncovered weights need not add up to the total:
	// normalise so the stacks sum to the part's self cost.
	norm := 1.0
	if rootSum > 0 {
		norm = total / rootSum
	}
	for _, r := range roots {
		walk(r, (outTotal[r]-incoming[r])*norm)
	}
	if len(out) == 0 {
		// No root found (the whole graph is a cycle): fall back to flat
		// self costs so the weight is still shown.
		for i := range p.Funcs {
			if self[i] > 0 {
				out[names[i]] += self[i]
			}
		}
	}
	return out
}

// WriteFolded writes stacks in Brendan Gregg's folded format ("a;b;c 123"
// per line, sorted by stack), rounding weights to integers and dropping
// those that round to zero.
func WriteFolded(w io.Writer, stacks map[string]float64) error {
	bw := bufio.NewWriter(w)
	for _, k := range slices.Sorted(maps.Keys(stacks)) {
		v := math.Round(stacks[k])
		if v <= 0 {
			continue
		}
		if _, err := fmt.Fprintf(bw, "%s %d\n", k, int64(v)); err != nil {
			return err
		}
	}
	return bw.Flush()
}
