package cpulist

import (
	"errors"
	"slices"
	"testing"
)

// TestParse: the kernel's format as cgroupfs, sysfs and the --cpus flag
// give it, one set of rules for all.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  bool
	}{
		{"0", []int{0}, false},
		{"0-3", []int{0, 1, 2, 3}, false},
		{"0-1,4,6-7", []int{0, 1, 4, 6, 7}, false},
		{"0-3,6\n", []int{0, 1, 2, 3, 6}, false}, // /sys/devices/system/cpu/online
		{" 2 , 1 ", []int{1, 2}, false},
		{"1,1-2", []int{1, 2}, false},
		{"", []int{}, false},
		{"\n", []int{}, false},
		{"3-1", nil, true},
		{"a", nil, true},
		{"1,,2", nil, true},
		{"1-", nil, true},
		{"1024", nil, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.err || !tc.err && !slices.Equal(got, tc.want) {
			t.Errorf("Parse(%q) = %v, %v", tc.in, got, err)
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Errorf("Parse(%q): %T, want *Error", tc.in, err)
		}
	}
	if got := Format([]int{0, 1, 2, 5, 7, 8}); got != "0-2,5,7-8" {
		t.Errorf("Format = %q", got)
	}
}
