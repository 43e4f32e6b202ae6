package changes

import "math"

// divergence holds the pairwise distances of one window of a series in a
// form that gives the E-divisive statistic of any split in constant time.
//
// For a window z[0:n], w[a][b] is the sum of |z[i]-z[j]| over a <= i < j < b
// (the within-sum of z[a:b]); the between-sum of z[s:t] and z[t:k] is then
// w[s][k] - w[s][t] - w[t][k]. Filling the table costs O(n²), after which
// Matteson and James' Q̂ of every (s, τ, κ) is a few arithmetic operations.
type divergence struct {
	n int
	w []float64 // (n+1)*(n+1), row-major: w[a*(n+1)+b]
}

// newDivergence fills the table of z in buf when it is large enough (the
// windows of one series share one buffer), else in a new slice.
func newDivergence(z []float64, buf []float64) *divergence {
	n := len(z)
	size := (n + 1) * (n + 1)
	if cap(buf) < size {
		buf = make([]float64, size)
	}
	buf = buf[:size]
	clear(buf)
	d := &divergence{n: n, w: buf}
	// For each end b, walk a down from b-1: col accumulates the distances of
	// z[b-1] to z[a:b-1], and w[a][b] = w[a][b-1] + col.
	for b := 2; b <= n; b++ {
		col := 0.0
		last := z[b-1]
		for a := b - 2; a >= 0; a-- {
			col += math.Abs(z[a] - last)
			d.w[a*(n+1)+b] = d.w[a*(n+1)+b-1] + col
		}
	}
	return d
}

func (d *divergence) within(a, b int) float64 { return d.w[a*(d.n+1)+b] }

// q is Q̂(z[s:t], z[t:k]) with α = 1: the energy distance of the two
// segments scaled by nm/(n+m), so that longer segments that differ weigh
// more than short ones.
func (d *divergence) q(s, t, k int) float64 {
	n, m := float64(t-s), float64(k-t)
	wx, wy := d.within(s, t), d.within(t, k)
	between := d.within(s, k) - wx - wy
	e := 2 * between / (n * m)
	if n > 1 {
		e -= wx / (n * (n - 1) / 2)
	}
	if m > 1 {
		e -= wy / (m * (m - 1) / 2)
	}
	return n * m / (n + m) * e
}

// bestSplit is the most divergent split of z[s:e]: the τ in (s, e) that
// maximizes Q̂(z[s:τ], z[τ:κ]) over every κ in (τ, e]. Letting the right
// segment stop before e (the κ of the method) keeps a later change from
// blurring an earlier one. ok is false when z[s:e] has fewer than two points.
func (d *divergence) bestSplit(s, e int) (tau int, qhat float64, ok bool) {
	if e-s < 2 {
		return 0, 0, false
	}
	qhat = math.Inf(-1)
	for t := s + 1; t < e; t++ {
		for k := t + 1; k <= e; k++ {
			if v := d.q(s, t, k); v > qhat {
				tau, qhat = t, v
			}
		}
	}
	return tau, qhat, true
}
