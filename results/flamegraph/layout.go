package flamegraph

import (
	"fmt"
	"sort"
)

// rootName labels the frame under everything, as in Gregg's graphs; clicking
// it resets the zoom.
const rootName = "all"

// box is one drawn rectangle of the graph.
type box struct {
	name   string
	depth  int     // 0 is the root frame
	x, w   float64 // pixels
	value  float64 // inclusive, in the profile's unit
	base   float64 // the same path's inclusive value in the base profile (diff graphs)
	merged int     // > 0: this box stands for that many frames too narrow to draw
}

// layout places the frames of head's stacks, which must be sorted frame by
// frame (sortedStacks): children left to right in name order inside their
// parent, each as wide as its inclusive value. In that order the stacks
// through one frame form a contiguous run, so the call tree is walked as
// nested runs of the sorted slice, without building it: a frame costs no
// allocation, and the callees of a frame too narrow to draw are never
// visited. Frames narrower than minW pixels are not drawn; the narrow
// children of one parent are drawn as a single merged box when together they
// are wide enough, so the graph keeps its proportions without thousands of
// invisible rectangles.
//
// base, when not nil, holds a differential graph's base stacks, sorted the
// same way; each box gets the inclusive value of the same path in base.
func layout(head, base []*Stack, x0, width, minW float64) []box {
	total, baseTotal := sum(head), sum(base)
	if !(total > 0) {
		return nil
	}
	// width*(v/total), not v*(width/total): the latter overflows for
	// totals near the smallest float64.
	px := func(v float64) float64 { return width * (v / total) }
	boxes := []box{{name: rootName, x: x0, w: width, value: total, base: baseTotal}}

	// children lays out the callees of the frame whose stacks are
	// head[lo:hi] (and base[blo:bhi]), all sharing their first d frames.
	var children func(lo, hi, blo, bhi, d int, x float64)
	children = func(lo, hi, blo, bhi, d int, x float64) {
		i := lo
		for i < hi && len(head[i].Frames) == d {
			i++ // the frame's own value: no callee
		}
		var small, smallBase float64
		count := 0
		for i < hi {
			name := head[i].Frames[d]
			j := i
			for j < hi && head[j].Frames[d] == name {
				j++
			}
			v := sum(head[i:j])
			bl, bh := calleeRange(base, blo, bhi, d, name)
			bv := sum(base[bl:bh])
			if w := px(v); w >= minW {
				boxes = append(boxes, box{name: name, depth: d + 1, x: x, w: w, value: v, base: bv})
				children(i, j, bl, bh, d+1, x)
				x += w
			} else {
				small += v
				smallBase += bv
				count++
			}
			i = j
		}
		if count > 0 && px(small) >= minW {
			boxes = append(boxes, box{
				name:  fmt.Sprintf("[%d small frames]", count),
				depth: d + 1, x: x, w: px(small), value: small, base: smallBase, merged: count,
			})
		}
	}
	children(0, len(head), 0, len(base), 0, x0)
	return boxes
}

// calleeRange narrows stacks[lo:hi], which share their first d frames and
// are sorted, to those whose frame d is name.
func calleeRange(stacks []*Stack, lo, hi, d int, name string) (int, int) {
	if lo >= hi {
		return lo, lo
	}
	// Stacks that end at depth d sort first, then by frame d.
	from := lo + sort.Search(hi-lo, func(k int) bool {
		s := stacks[lo+k]
		return len(s.Frames) > d && s.Frames[d] >= name
	})
	to := from + sort.Search(hi-from, func(k int) bool {
		return stacks[from+k].Frames[d] > name
	})
	return from, to
}

// sum adds values in slice order, so the same stacks always give the same
// float64.
func sum(stacks []*Stack) float64 {
	var t float64
	for _, s := range stacks {
		t += s.Value
	}
	return t
}
