package results

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFileModesFollowUmask(t *testing.T) {
	dir := t.TempDir()
	nested := filepath.Join(dir, "a", "b")
	if err := MkdirAll(nested); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(nested, "run.json")
	if err := WriteFileAtomic(path, []byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o666 &^ Umask(), nested: 0o777 &^ Umask(), filepath.Dir(nested): 0o777 &^ Umask()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o (umask %o)", p, fi.Mode().Perm(), want, Umask())
		}
	}
	if Umask()&0o044 == 0 {
		// The usual umasks (022, 002, 027 for group) let others or the
		// group read: a private file would be a regression.
		fi, _ := os.Stat(path)
		if fi.Mode().Perm()&0o044 == 0 {
			t.Errorf("results file is private: %o", fi.Mode().Perm())
		}
	}
}
