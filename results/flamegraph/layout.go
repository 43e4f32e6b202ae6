package flamegraph

import (
	"fmt"
	"slices"
	"strings"
)

// node is one frame of the call tree: a frame name reached by one path from
// the root, with the inclusive value of every stack through it.
type node struct {
	name     string
	value    float64
	children []*node // by name once sorted
	byName   map[string]*node
}

// rootName labels the frame under everything, as in Gregg's graphs; clicking
// it resets the zoom.
const rootName = "all"

// buildTree merges the profile's stacks into a call tree. Stacks are added
// in sorted order so the floating-point sums, and thus the SVG, are the same
// on every run.
func buildTree(p *Profile) *node {
	root := &node{name: rootName}
	for _, s := range p.sortedStacks() {
		n := root
		n.value += s.Value
		for _, f := range s.Frames {
			n = n.child(f)
			n.value += s.Value
		}
	}
	root.sort()
	return root
}

func (n *node) child(name string) *node {
	if c, ok := n.byName[name]; ok {
		return c
	}
	if n.byName == nil {
		n.byName = make(map[string]*node)
	}
	c := &node{name: name}
	n.byName[name] = c
	n.children = append(n.children, c)
	return c
}

func (n *node) sort() {
	slices.SortFunc(n.children, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	for _, c := range n.children {
		c.sort()
	}
}

// box is one drawn rectangle of the graph.
type box struct {
	name   string
	depth  int     // 0 is the root frame
	x, w   float64 // pixels
	value  float64 // inclusive, in the profile's unit
	base   float64 // the same path's inclusive value in the base profile (diff graphs)
	merged int     // > 0: this box stands for that many frames too narrow to draw
}

// layout places the tree's frames: children left to right in name order
// inside their parent, each as wide as its inclusive value. Frames narrower
// than minW pixels are not drawn; the narrow children of one parent are
// drawn as a single merged box when together they are wide enough, so the
// graph keeps its proportions without thousands of invisible rectangles.
// base, when not nil, is the call tree of a differential graph's base.
func layout(root *node, base *node, x0, width, minW float64) []box {
	var boxes []box
	// Widths are width*(value/total), not value*(width/total): the
	// latter overflows for totals near the smallest float64.
	px := func(v float64) float64 { return width * (v / root.value) }
	var walk func(n, b *node, x float64, depth int)
	walk = func(n, b *node, x float64, depth int) {
		boxes = append(boxes, box{name: n.name, depth: depth, x: x, w: px(n.value), value: n.value, base: valueOf(b)})
		var small, smallBase float64
		count := 0
		for _, c := range n.children {
			bc := b.lookup(c.name)
			w := px(c.value)
			if w < minW {
				small += c.value
				smallBase += valueOf(bc)
				count++
				continue
			}
			walk(c, bc, x, depth+1)
			x += w
		}
		if count > 0 && px(small) >= minW {
			boxes = append(boxes, box{
				name:  fmt.Sprintf("[%d small frames]", count),
				depth: depth + 1, x: x, w: px(small), value: small, base: smallBase, merged: count,
			})
		}
	}
	walk(root, base, x0, 0)
	return boxes
}

func (n *node) lookup(name string) *node {
	if n == nil {
		return nil
	}
	return n.byName[name]
}

func valueOf(n *node) float64 {
	if n == nil {
		return 0
	}
	return n.value
}
