package sandbox

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseProcCgroup(t *testing.T) {
	const hybrid = "9:name=systemd:/\n4:memory:/process_api/0125\n3:cpuset:/\n2:cpu,cpuacct:/a b\n0::/\n"
	got, err := ParseProcCgroup("x", hybrid)
	if err != nil {
		t.Fatal(err)
	}
	want := []ProcCgroup{
		{9, []string{"name=systemd"}, "/"},
		{4, []string{"memory"}, "/process_api/0125"},
		{3, []string{"cpuset"}, "/"},
		{2, []string{"cpu", "cpuacct"}, "/a b"},
		{0, nil, "/"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	for ctrl, path := range map[string]string{"memory": "/process_api/0125", "cpuacct": "/a b", "": "/"} {
		if p, ok := cgroupPathOf(got, ctrl); !ok || p != path {
			t.Errorf("cgroupPathOf(%q) = %q %v, want %q", ctrl, p, ok, path)
		}
	}
	if _, ok := cgroupPathOf(got, "pids"); ok {
		t.Error("found pids")
	}
	for _, tt := range []struct {
		in   string
		line int
	}{
		{"0::/\nbad\n", 2},
		{"x:cpu:/\n", 1},
		{"1:cpu:relative\n", 1},
		{"-1:cpu:/\n", 1},
	} {
		_, err := ParseProcCgroup("f", tt.in)
		var se *StatusError
		if !errors.As(err, &se) || se.Line != tt.line {
			t.Errorf("ParseProcCgroup(%q) err = %v, want line %d", tt.in, err, tt.line)
		}
	}
}

func TestParseCapabilitySet(t *testing.T) {
	const status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\nCapBnd:\tzz\n"
	eff, err := parseCapabilitySet("s", status, "CapEff")
	if err != nil {
		t.Fatal(err)
	}
	if !eff.Has(CapPerfmon) || !eff.Has(CapBPF) || !eff.Has(CapSysAdmin) || eff.Has(24) || eff.Has(41) {
		t.Errorf("CapEff %x decoded wrong", uint64(eff))
	}
	names := eff.Names()
	if len(names) != 40 || names[0] != "CAP_CHOWN" || names[len(names)-1] != "CAP_CHECKPOINT_RESTORE" {
		t.Errorf("names = %v", names)
	}
	if got := CapabilitySet(1 << 45).Names(); !reflect.DeepEqual(got, []string{"CAP_45"}) {
		t.Errorf("unknown capability named %v", got)
	}
	var se *StatusError
	if _, err := parseCapabilitySet("s", status, "CapBnd"); !errors.As(err, &se) || se.Line != 4 {
		t.Errorf("bad CapBnd: err = %v, want line 4", err)
	}
	if _, err := parseCapabilitySet("s", status, "CapAmb"); !errors.As(err, &se) {
		t.Errorf("missing CapAmb: err = %v", err)
	}
}

func FuzzParseProcCgroup(f *testing.F) {
	for _, s := range []string{"0::/\n", "4:memory:/a\n3:cpuset:/\n", "1:cpu,cpuacct:/x", "bad", "1::", ":::/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines, err := ParseProcCgroup("fuzz", s)
		if err != nil {
			var se *StatusError
			if !errors.As(err, &se) && err.Error() == "" {
				t.Fatalf("untyped empty error")
			}
			return
		}
		for _, l := range lines {
			if l.ID < 0 || len(l.Path) == 0 || l.Path[0] != '/' {
				t.Fatalf("accepted bad line %+v", l)
			}
		}
	})
}

func FuzzParseCapabilitySet(f *testing.F) {
	f.Add("CapEff:\t000001fffeffffff\n")
	f.Add("CapEff: zz\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		set, err := parseCapabilitySet("fuzz", s, "CapEff")
		if err != nil {
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a StatusError", err)
			}
			return
		}
		if n := len(set.Names()); n > 64 {
			t.Fatalf("%d names", n)
		}
	})
}
