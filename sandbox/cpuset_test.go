package sandbox

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseCPUSet(t *testing.T) {
	tests := []struct {
		in      string
		want    CPUSet
		str     string
		errOff  int // -1: no error
		errPart string
	}{
		{"", CPUSet{}, "", -1, ""},
		{"0\n", CPUSet{0}, "0", -1, ""},
		{"1-3,5", CPUSet{1, 2, 3, 5}, "1-3,5", -1, ""},
		{"5,1-3,2", CPUSet{1, 2, 3, 5}, "1-3,5", -1, ""},
		{" 0-1 , 4 ", CPUSet{0, 1, 4}, "0-1,4", -1, ""},
		{"7-7", CPUSet{7}, "7", -1, ""},
		{"1,,2", nil, "", 2, "empty element"},
		{"1-x", nil, "", 2, "not a CPU number"},
		{"3-1", nil, "", 0, "backwards"},
		{"-1", nil, "", 0, "missing CPU number"},
		{"1,2048", nil, "", 2, "above the largest"},
		{"0-1,99999999999999999999", nil, "", 4, "above the largest"},
	}
	for _, tt := range tests {
		got, err := ParseCPUSet(tt.in)
		if tt.errOff >= 0 {
			var le *CPUListError
			if !errors.As(err, &le) || le.Offset != tt.errOff || !strings.Contains(le.Msg, tt.errPart) {
				t.Errorf("ParseCPUSet(%q) err = %v, want offset %d with %q", tt.in, err, tt.errOff, tt.errPart)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) || got.String() != tt.str {
			t.Errorf("ParseCPUSet(%q) = %v %q, %v; want %v %q", tt.in, got, got.String(), err, tt.want, tt.str)
		}
	}
}

func TestDefaultCPUs(t *testing.T) {
	for _, tt := range []struct{ allowed, want string }{
		{"0", "0"}, {"0-1", "1"}, {"0-3", "3"}, {"2,5", "5"}, {"", ""},
	} {
		a, _ := ParseCPUSet(tt.allowed)
		if got := DefaultCPUs(a).String(); got != tt.want {
			t.Errorf("DefaultCPUs(%s) = %s, want %s", tt.allowed, got, tt.want)
		}
	}
}

func TestCPUSetMaskRoundTrip(t *testing.T) {
	s, _ := ParseCPUSet("0,3-5,1023")
	m := s.Mask()
	if got := cpuSetFromMask(&m); !reflect.DeepEqual(got, s) {
		t.Errorf("mask round trip = %v, want %v", got, s)
	}
	if !s.Contains(CPUSet{3, 1023}) || s.Contains(CPUSet{2}) {
		t.Error("Contains wrong")
	}
}

func FuzzParseCPUSet(f *testing.F) {
	for _, s := range []string{"", "0", "1-3,5", "0-1023", "3-1", "1,,2", "a", " 4 ,\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseCPUSet(s)
		if err != nil {
			var le *CPUListError
			if !errors.As(err, &le) || le.Offset < 0 || le.Offset > len(s) {
				t.Fatalf("error %v is not a CPUListError with an offset inside the input", err)
			}
			return
		}
		for i := 1; i < len(set); i++ {
			if set[i] <= set[i-1] {
				t.Fatalf("%v not sorted and unique", set)
			}
		}
		again, err := ParseCPUSet(set.String())
		if err != nil || !reflect.DeepEqual(again, set) {
			t.Fatalf("String round trip: %q -> %v -> %q -> %v, %v", s, set, set.String(), again, err)
		}
	})
}
