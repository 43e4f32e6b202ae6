package config

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string // substring of the error; "" for success
	}{
		{"500ms", 500 * time.Millisecond, ""},
		{"2s", 2 * time.Second, ""},
		{"1m", time.Minute, ""},
		{"1m30s", 90 * time.Second, ""},
		{"1h", time.Hour, ""},
		{"250us", 250 * time.Microsecond, ""},
		{"1.5", 1500 * time.Millisecond, ""},
		{"3", 3 * time.Second, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{".5", 500 * time.Millisecond, ""},
		{" 2s ", 2 * time.Second, ""},
		{"1e-3", time.Millisecond, ""},
		{"0.0000000001", 0, ""}, // rounds to the nanosecond
		{"", 0, "empty duration"},
		{"   ", 0, "empty duration"},
		{"-1s", 0, "negative"},
		{"-1", 0, "negative"},
		{"-0.5", 0, "negative"},
		{"abc", 0, "invalid duration"},
		{"1 parsec", 0, "invalid duration"},
		{"s", 0, "invalid duration"},
		{"1x", 0, "invalid duration"},
		{"NaN", 0, "invalid duration"},
		{"inf", 0, "invalid duration"},
		{"+Inf", 0, "invalid duration"},
		{"0x10", 0, "invalid duration"},
		{"1e300", 0, "too large"},
		{"9223372037", 0, "too large"},
		{"9223372036", 9223372036 * time.Second, ""},
		{"3000000h", 0, "invalid duration"}, // beyond time.Duration: time.ParseDuration refuses
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  string
	}{
		{"1048576", 1 << 20, ""},
		{"0", 0, ""},
		{"512M", 512 << 20, ""},
		{"512m", 512 << 20, ""},
		{"512MB", 512 << 20, ""},
		{"512MiB", 512 << 20, ""},
		{"512 Mi", 512 << 20, ""},
		{"2G", 2 << 30, ""},
		{"1Gi", 1 << 30, ""},
		{"1.5G", 3 << 29, ""},
		{"1k", 1024, ""},
		{"1T", 1 << 40, ""},
		{"8P", 8 << 50, ""},
		{"100B", 100, ""},
		{"100b", 100, ""},
		{"0.5", 0, ""}, // half a byte floors to zero; Validate refuses a zero limit
		{"", 0, "empty size"},
		{"-1", 0, "negative"},
		{"-1G", 0, "negative"},
		{"G", 0, "invalid size"},
		{"lots", 0, "invalid size"},
		{"5X", 0, "unknown unit"},
		{"5GG", 0, "unknown unit"},
		{"5Gx", 0, "unknown unit"},
		{"1.2.3M", 0, "invalid size"},
		{".", 0, "invalid size"},
		{"8E", 0, "unknown unit"},
		{"8192P", 0, "too large"},
		{"8191P", 8191 << 50, ""},
		{"9223372036854775807", math.MaxInt64, ""},
		{"9223372036854775808", 0, "too large"},
		{"99999999999999999999999", 0, "too large"},
		{"9300000000000000000.5", 0, "too large"},
		{"1.5P", 3 << 49, ""},
	}
	for _, c := range cases {
		got, err := ParseBytes(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseBytes(%q) = %v, %v; want error containing %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseBytes(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// FuzzParseDuration checks that ParseDuration never panics, never returns a
// negative duration, and agrees with time.ParseDuration where both accept.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"500ms", "1.5", "1m30s", "-1s", "NaN", "1e300", "0x1p3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		if std, err := time.ParseDuration(strings.TrimSpace(s)); err == nil && std != d {
			t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration says %v", s, d, std)
		}
	})
}

// FuzzParseBytes checks that ParseBytes never panics nor returns a negative
// size.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"512M", "1.5GiB", "-1", "8191P", "9223372036854775808", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseBytes(s); err == nil && n < 0 {
			t.Fatalf("ParseBytes(%q) = %d, negative", s, n)
		}
	})
}

// TestParseOptions: `codspeed exec -` JSON options go through codspeed.yml's
// option parser: numbers are seconds for durations, strings keep their
// units, and a wrong type, a bad value or an unknown key is an error naming
// the entry and the key.
func TestParseOptions(t *testing.T) {
	dir := t.TempDir()
	o, err := ParseOptions("stdin: entry 1", dir, map[string]any{"max-rounds": 4.0, "warmup-time": 0.5, "max-time": "2s", "cpus": "1", "memory-limit": "512M", "working-directory": "sub"})
	if err != nil {
		t.Fatal(err)
	}
	if *o.MaxRounds != 4 || *o.WarmupTime != 500*time.Millisecond || *o.MaxTime != 2*time.Second || o.CPUs != "1" || *o.MemoryLimit != 512<<20 || o.WorkingDirectory != filepath.Join(dir, "sub") {
		t.Fatalf("options %+v", o)
	}
	for m, want := range map[string]map[string]any{
		"stdin: entry 2: max-rounds":  {"max-rounds": "many"},
		"stdin: entry 2: maxrounds":   {"maxrounds": 3.0},
		"stdin: entry 2: cpus":        {"cpus": "x"},
		"stdin: entry 2: warmup-time": {"warmup-time": true},
	} {
		_, err := ParseOptions("stdin: entry 2", dir, want)
		if err == nil || !strings.Contains(err.Error(), m) {
			t.Errorf("%v: %v, want an error containing %q", want, err, m)
		}
	}
	if o, err := ParseOptions("x", dir, nil); err != nil || o.MaxRounds != nil {
		t.Errorf("no options: %+v %v", o, err)
	}
}
