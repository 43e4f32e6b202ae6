package results

import (
	"math"
	"slices"
)

// ComputeStats computes the walltime Stats of docs/protocol.md §3 over per-iteration
// times in ns: one value per measured round, the round's time divided by its
// iterations. It copies samples before sorting, so the caller keeps ownership
// of perIterNs and its order (the order of measurement, which compare needs).
//
// The figures match pytest-codspeed's, which are Python's statistics module:
// sample standard deviation (n-1, 0 below two rounds), quartiles of
// statistics.quantiles(n=4, method='exclusive') (see Quantile), IQR outliers
// outside [q1-1.5*IQR, q3+1.5*IQR] and stdev outliers farther than 3*stdev
// from the mean. TotalTime is the sum of the measured rounds' times in
// seconds, each round being perIter*iterPerRound. An iterPerRound below 1 is
// treated as 1, because a round always runs the benchmark at least once.
// Inputs must be finite; with no samples every figure is zero.
func ComputeStats(perIterNs []float64, iterPerRound int, warmupIters int) Stats {
	if iterPerRound < 1 {
		iterPerRound = 1
	}
	s := Stats{
		Rounds:       len(perIterNs),
		IterPerRound: iterPerRound,
		WarmupIters:  warmupIters,
	}
	n := len(perIterNs)
	if n == 0 {
		return s
	}
	sorted := slices.Clone(perIterNs)
	slices.Sort(sorted)

	var sum, total float64
	for _, t := range perIterNs {
		sum += t
		total += t * float64(iterPerRound)
	}
	s.TotalTime = total / 1e9
	s.MeanNs = sum / float64(n)
	s.MinNs = sorted[0]
	s.MaxNs = sorted[n-1]
	if n >= 2 {
		// Two passes: the textbook one-pass formula loses every digit when
		// the spread is tiny against the mean, which is the usual case for
		// benchmark rounds.
		var ss float64
		for _, t := range sorted {
			d := t - s.MeanNs
			ss += d * d
		}
		s.StdevNs = math.Sqrt(ss / float64(n-1))
	}
	s.Q1Ns = Quantile(sorted, 0.25)
	s.MedianNs = Quantile(sorted, 0.5)
	s.Q3Ns = Quantile(sorted, 0.75)

	iqr := s.Q3Ns - s.Q1Ns
	lo, hi := s.Q1Ns-1.5*iqr, s.Q3Ns+1.5*iqr
	for _, t := range sorted {
		if t < lo || t > hi {
			s.IQROutlierRounds++
		}
		if math.Abs(t-s.MeanNs) > 3*s.StdevNs {
			s.StdevOutlierRounds++
		}
	}
	return s
}

// Quantile returns the p-quantile (0 <= p <= 1) of sorted, which must be in
// ascending order, with the semantics of Python's
// statistics.quantiles(method='exclusive'): the position is p*(n+1)-1
// (zero-based) and the value is interpolated linearly between its two
// neighbours, whose index is clamped to the ends of the data. As in Python,
// the clamp keeps the interpolation line of the first (or last) pair, so a
// position before the first value extrapolates: for n=2 the first quartile is
// below the minimum ([1, 2] gives q1 = 0.75). With one value it returns that
// value; with none, NaN.
func Quantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	switch n {
	case 0:
		return math.NaN()
	case 1:
		return sorted[0]
	}
	pos := p * float64(n+1) // one-based position
	j := int(math.Floor(pos))
	if j < 1 {
		j = 1
	} else if j > n-1 {
		j = n - 1
	}
	delta := pos - float64(j)
	if delta == 0 {
		return sorted[j-1]
	}
	return sorted[j-1]*(1-delta) + sorted[j]*delta
}
