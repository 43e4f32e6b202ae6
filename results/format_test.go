package results

import (
	"math"
	"testing"
)

func TestFormatNs(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0 ns"},
		{0.25, "0.250 ns"},
		{0.0123456, "0.0123 ns"},
		{5, "5 ns"},
		{12.345, "12.3 ns"},
		{812, "812 ns"},
		{999.4, "999 ns"},
		{999.7, "1.00 µs"}, // rounding decides the unit
		{1234, "1.23 µs"},
		{45.6e6, "45.6 ms"},
		{2.014e9, "2.01 s"},
		{999.5e9, "1000 s"},
		{1234e9, "1230 s"},
		{-1500, "-1.50 µs"},
		{math.NaN(), "-"},
		{math.Inf(1), "-"},
	}
	for _, tt := range tests {
		if got := FormatNs(tt.in); got != tt.want {
			t.Errorf("FormatNs(%g) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{12, "12"},
		{12.5, "12.5"},
		{812, "812"},
		{1000, "1.00 K"},
		{1234567, "1.23 M"},
		{9.996e8, "1.00 G"},
		{4.2e12, "4.20 T"},
		{4.2e15, "4200 T"},
	}
	for _, tt := range tests {
		if got := FormatCount(tt.in); got != tt.want {
			t.Errorf("FormatCount(%g) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0 B"},
		{812, "812 B"},
		{1000, "1000 B"},
		{1023.9, "1020 B"}, // below 1 KiB: 3 significant digits, no unit change
		{1023.99, "1020 B"},
		{1024, "1.00 KiB"},
		{1536, "1.50 KiB"},
		{3 << 20, "3.00 MiB"},
		{5.5 * (1 << 30), "5.50 GiB"},
		{24.5, "24.5 B"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%g) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
