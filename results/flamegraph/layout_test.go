package flamegraph

import (
	"math"
	"slices"
	"testing"
)

// TestLayoutMatchesNaiveSums checks every box of a differential layout of
// two random profiles against sums computed the slow, obvious way: the
// inclusive value of a path is the sum of the stacks that start with it.
func TestLayoutMatchesNaiveSums(t *testing.T) {
	head := syntheticProfile(400)
	base := syntheticProfile(300)
	for _, s := range head.Stacks()[:50] { // shared stacks, so base values are not all zero
		base.Add(s.Frames, s.Value*2)
	}
	headStacks, baseStacks := head.Stacks(), base.Stacks()
	inclusive := func(stacks []Stack, path []string) float64 {
		var v float64
		for _, s := range stacks {
			if len(s.Frames) >= len(path) && slices.Equal(s.Frames[:len(path)], path) {
				v += s.Value
			}
		}
		return v
	}
	const width = 1000
	boxes := layout(head.sortedStacks(), base.sortedStacks(), 0, width, -1)
	var path []string
	nextX := map[int]float64{} // where the next box of each depth may start
	for i, b := range boxes {
		if b.merged > 0 {
			t.Fatalf("box %d merged with MinWidthPx < 0", i)
		}
		if b.depth == 0 {
			path = path[:0]
		} else {
			path = append(path[:b.depth-1], b.name)
		}
		want := inclusive(headStacks, path)
		if math.Abs(b.value-want) > 1e-9*want {
			t.Fatalf("%v: value %g, want %g", path, b.value, want)
		}
		if wantBase := inclusive(baseStacks, path); math.Abs(b.base-wantBase) > 1e-9*wantBase {
			t.Fatalf("%v: base %g, want %g", path, b.base, wantBase)
		}
		if math.Abs(b.w-width*want/head.Total()) > 1e-6 {
			t.Fatalf("%v: width %g, want %g", path, b.w, width*want/head.Total())
		}
		if b.x < nextX[b.depth]-1e-6 {
			t.Fatalf("%v at x=%g overlaps its left neighbour ending at %g", path, b.x, nextX[b.depth])
		}
		nextX[b.depth] = b.x + b.w
	}
	// Every distinct path of head is drawn exactly once.
	paths := map[string]bool{}
	for _, s := range headStacks {
		for d := 1; d <= len(s.Frames); d++ {
			paths[string(pathKey(s.Frames[:d]))] = true
		}
	}
	if len(boxes) != len(paths)+1 {
		t.Errorf("%d boxes for %d paths plus the root", len(boxes), len(paths))
	}
}

func pathKey(frames []string) []byte {
	var b []byte
	for _, f := range frames {
		b = append(b, f...)
		b = append(b, 0)
	}
	return b
}
