package results

import (
	"math"
	"strconv"
)

// Number formatting for people: three significant digits and a unit, so a
// column of figures reads at a glance and never pretends to more precision
// than a benchmark has. Every function renders NaN and infinities as "-"
// (a figure that could not be computed), and keeps the sign of negative
// values (deltas in comparisons).

// FormatNs renders a duration in nanoseconds with 3 significant digits and a
// unit: "812 ns", "1.23 µs", "45.6 ms", "2.01 s". Seconds are the largest unit
// (1234 s is "1230 s"), and durations below 1 ns stay in ns ("0.250 ns").
func FormatNs(ns float64) string {
	return formatScaled(ns, 1000, []string{"ns", "µs", "ms", "s"})
}

// FormatCount renders a count with 3 significant digits and a decimal
// multiplier: 812 -> "812", 1234567 -> "1.23 M", 12.5 -> "12.5". The
// multipliers are K, M, G, T.
func FormatCount(v float64) string {
	return formatScaled(v, 1000, []string{"", "K", "M", "G", "T"})
}

// FormatBytes renders a byte count with 3 significant digits and a binary
// unit: 812 -> "812 B", 1536 -> "1.50 KiB", 3<<20 -> "3.00 MiB".
func FormatBytes(v float64) string {
	return formatScaled(v, 1024, []string{"B", "KiB", "MiB", "GiB", "TiB"})
}

// formatPercent renders a percentage with 3 significant digits: "1.23%".
func formatPercent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return sig3(v) + "%"
}

func formatScaled(v, base float64, units []string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	i := 0
	// Round before choosing the unit so 999.7 ns becomes "1.00 µs", not
	// "1000 ns".
	for i < len(units)-1 && (v >= base || round3(v) >= base) {
		v /= base
		i++
	}
	s := sign + sig3(v)
	if i == 0 && v == math.Trunc(v) && v < 1000 {
		// Whole numbers below the first multiplier print without a
		// decimal tail: "12", not "12.0".
		s = sign + strconv.FormatFloat(v, 'f', 0, 64)
	}
	if units[i] == "" {
		return s
	}
	return s + " " + units[i]
}

// round3 rounds v to 3 significant digits.
func round3(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return r
}

// sig3 formats a non-negative v with 3 significant digits in fixed notation
// (never an exponent): 0.523, 1.23, 12.3, 123, 1234.
func sig3(v float64) string {
	v = round3(math.Abs(v))
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	// Below 1: as many decimals as it takes to show 3 significant digits.
	decimals := 2 - int(math.Floor(math.Log10(v)))
	return strconv.FormatFloat(v, 'f', decimals, 64)
}
