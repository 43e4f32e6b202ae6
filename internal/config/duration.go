package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a duration as CodSpeed's exec flags take it: a Go
// duration ("500ms", "2s", "1m", "1m30s") or a bare number of seconds ("1.5",
// "3"). Negative durations are refused: every duration the runner takes is a
// time budget, and a negative budget is always a mistake.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("negative duration %s", quote(s))
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP_") {
		return secondsToDuration(secs, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %s (use a unit such as 500ms, 2s or 1m, or a bare number of seconds)", quote(s))
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %s", quote(s))
	}
	return d, nil
}

// secondsToDuration converts a bare number of seconds, refusing NaN, infinity
// and values beyond what time.Duration holds (about 292 years) instead of
// letting the conversion wrap.
func secondsToDuration(secs float64, orig string) (time.Duration, error) {
	if math.IsNaN(secs) || math.IsInf(secs, 0) {
		return 0, fmt.Errorf("invalid duration %s", quote(orig))
	}
	if secs < 0 {
		return 0, fmt.Errorf("negative duration %s", quote(orig))
	}
	ns := secs * float64(time.Second)
	if ns >= math.MaxInt64 {
		return 0, fmt.Errorf("duration %s is too large", quote(orig))
	}
	return time.Duration(math.Round(ns)), nil
}

// ParseBytes parses a memory size: a bare number of bytes ("1048576") or a
// number with a unit K, M, G, T or P, optionally followed by "i" and/or "B"
// ("512M", "512m", "2G", "1Gi", "1.5GiB"). Every unit is binary (M = 2^20):
// that is what `docker run --memory 512m` means, and memory limits set here
// end up as container and cgroup limits, so a value copied from a Docker or
// compose file must mean the same thing.
//
// It accepts what docker/go-units' RAMInBytes accepts, but is not built on
// it: RAMInBytes goes through float64 and converts without a range check,
// so "9223372036854775807" and "8192P" both come back as
// -9223372036854775808 with no error (go-units v0.5.0). A limit that
// silently becomes another number is worse than a few lines of parsing
// (TestParseBytes has those cases).
func ParseBytes(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty size")
	}
	// Split the numeric part from the unit.
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		end++
	}
	num, unit := s[:end], strings.TrimSpace(s[end:])
	if num == "" {
		if strings.HasPrefix(s, "-") {
			return 0, fmt.Errorf("negative size %s", quote(orig))
		}
		return 0, fmt.Errorf("invalid size %s (use bytes, or a unit such as 512M or 2G)", quote(orig))
	}
	shift, ok := byteUnit(unit)
	if !ok {
		return 0, fmt.Errorf("invalid size %s: unknown unit %s (use K, M, G, T or P)", quote(orig), quote(unit))
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 63)
		if err != nil {
			return 0, fmt.Errorf("size %s is too large", quote(orig))
		}
		if shift > 0 && n > math.MaxInt64>>shift {
			return 0, fmt.Errorf("size %s is too large", quote(orig))
		}
		return int64(n << shift), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %s", quote(orig))
	}
	v := math.Floor(f * float64(uint64(1)<<shift))
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %s is too large", quote(orig))
	}
	return int64(v), nil
}

// byteUnit maps a unit suffix to its power of two.
func byteUnit(u string) (uint, bool) {
	if u == "" || strings.EqualFold(u, "b") {
		return 0, true
	}
	var shift uint
	switch u[0] {
	case 'k', 'K':
		shift = 10
	case 'm', 'M':
		shift = 20
	case 'g', 'G':
		shift = 30
	case 't', 'T':
		shift = 40
	case 'p', 'P':
		shift = 50
	default:
		return 0, false
	}
	switch strings.ToLower(u[1:]) {
	case "", "i", "b", "ib":
		return shift, true
	}
	return 0, false
}
