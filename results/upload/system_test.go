package upload

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestReadSystem(t *testing.T) {
	for _, root := range []string{"amd64-debian", "arm64-ubuntu"} {
		t.Run(root, func(t *testing.T) {
			s := ReadSystem(filepath.Join("testdata/system", root))
			if s.Host == "" || s.User == "" {
				t.Errorf("host %q user %q: want this process's names", s.Host, s.User)
			}
			// Host, user and arch are this process's; blank them for the golden.
			s.Host, s.User, s.Arch = "", "", ""
			got, _ := json.MarshalIndent(s, "", "  ")
			golden(t, "system-"+root+".golden.json", append(got, '\n'))
		})
	}
	// This machine, for real: every figure is filled.
	s := ReadSystem("/")
	if s.OS == "" || s.CPUCores <= 0 || s.TotalMemoryGb <= 0 || s.Arch == "" {
		t.Errorf("this machine: %+v", s)
	}
	r := RunnerMetadata("codspeed-go", "1.2.3", ExecutorWalltime, nil)
	if r.Instruments == nil || r.Executor != "walltime" || r.System.OS != s.OS {
		t.Errorf("RunnerMetadata = %+v", r)
	}
}

func TestParseOSRelease(t *testing.T) {
	got := ParseOSRelease([]byte("# c\nID=ubuntu\nVERSION_ID=\"24.04\"\nNAME='Single Quoted'\nPRETTY=\"say \\\"hi\\\" \\$x\"\nbroken line\n=novalue\n"))
	want := map[string]string{"ID": "ubuntu", "VERSION_ID": "24.04", "NAME": "Single Quoted", "PRETTY": `say "hi" $x`}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func FuzzParseCPUInfo(f *testing.F) {
	for _, root := range []string{"amd64-debian", "arm64-ubuntu"} {
		data, err := os.ReadFile(filepath.Join("testdata/system", root, "proc/cpuinfo"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("processor: 0\nCPU implementer: 0xzz\nCPU part: \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := ParseCPUInfo(data)
		if c.Cores < 0 || c.Logical < 0 || (c.Logical > 0 && c.Cores == 0) {
			t.Errorf("%+v", c)
		}
	})
}

func FuzzParseOSRelease(f *testing.F) {
	for _, root := range []string{"amd64-debian", "arm64-ubuntu"} {
		data, err := os.ReadFile(filepath.Join("testdata/system", root, "etc/os-release"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("A=\"\\\nB='"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k := range ParseOSRelease(data) {
			if k == "" {
				t.Error("empty key")
			}
		}
	})
}
