package upload

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestArchive(t *testing.T) {
	dir := profileFolder(t)
	if err := os.Symlink("results/4242.json", filepath.Join(dir, "latest.json")); err != nil {
		t.Fatal(err)
	}
	// A FIFO left behind by the hooks protocol must not block or break the archive.
	if err := syscall.Mkfifo(filepath.Join(dir, "runner.ctl.fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, gz := range []bool{false, true} {
		a, err := Archive(dir, gz)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Archive(dir, gz)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Data, b.Data) || a.MD5 != b.MD5 {
			t.Errorf("gzip=%v: archiving the same folder twice gave different bytes", gz)
		}
		if (a.Encoding == "gzip") != gz {
			t.Errorf("gzip=%v: encoding %q", gz, a.Encoding)
		}
		files := tarNames(t, a.Data, gz)
		want := map[string]string{
			"4242.out": "# callgrind format\nversion: 1\nevents: Ir\n", "latest.json": "-> results/4242.json",
			"perf/": "", "perf/4243.map": "7f00 10 main.hot\n", "results/": "",
			"results/4242.json": `{"creator":{"name":"codspeed-go","version":"1.2.3","pid":4242},"instrument":{"type":"simulation"},"benchmarks":[]}`,
		}
		if len(files) != len(want) {
			t.Errorf("gzip=%v: entries %v, want %d entries", gz, keys(files), len(want))
		}
		for k, v := range want {
			if files[k] != v {
				t.Errorf("gzip=%v: %s = %q, want %q", gz, k, files[k], v)
			}
		}
	}
	if _, err := Archive(filepath.Join(dir, "missing"), false); err == nil {
		t.Error("missing folder archived")
	}
	if _, err := Archive(filepath.Join(dir, "4242.out"), false); err == nil {
		t.Error("a file archived as a folder")
	}
}
