package config

import (
	"os"
	"path/filepath"
	"testing"
)

// tree makes files (and directories for names ending in /) under a fresh
// temporary directory and returns its path.
func tree(t *testing.T, paths ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if p[len(p)-1] == '/' {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDiscover(t *testing.T) {
	cases := []struct {
		name  string
		files []string
		start string // relative to the tree
		want  string // relative to the tree; "" for none
	}{
		{"in start dir", []string{"repo/.git/", "repo/codspeed.yml"}, "repo", "repo/codspeed.yml"},
		{"preference order", []string{"repo/.git/", "repo/.codspeed.yml", "repo/codspeed.yml", "repo/codspeed.yaml", "repo/.codspeed.yaml"}, "repo", "repo/codspeed.yaml"},
		{"yml before dot files", []string{"repo/.git/", "repo/.codspeed.yaml", "repo/codspeed.yml"}, "repo", "repo/codspeed.yml"},
		{"dot file", []string{"repo/.git/", "repo/.codspeed.yml"}, "repo", "repo/.codspeed.yml"},
		{"parent up to git root", []string{"repo/.git/", "repo/codspeed.yml", "repo/a/b/"}, "repo/a/b", "repo/codspeed.yml"},
		{"nearest wins", []string{"repo/.git/", "repo/codspeed.yml", "repo/a/codspeed.yml", "repo/a/b/"}, "repo/a/b", "repo/a/codspeed.yml"},
		{"stops at git root", []string{"codspeed.yml", "repo/.git/", "repo/a/"}, "repo/a", ""},
		{"git worktree (.git file)", []string{"codspeed.yml", "wt/.git", "wt/codspeed.yml", "wt/sub/"}, "wt/sub", "wt/codspeed.yml"},
		{"nested repo stops at the inner root", []string{".git/", "codspeed.yml", "inner/.git/", "inner/x/"}, "inner/x", ""},
		{"outside git: start dir only", []string{"codspeed.yml", "a/"}, "a", ""},
		{"outside git: start dir has it", []string{"a/codspeed.yml"}, "a", "a/codspeed.yml"},
		{"a directory named like a config is skipped", []string{"repo/.git/", "repo/codspeed.yaml/", "repo/codspeed.yml"}, "repo", "repo/codspeed.yml"},
		{"none", []string{"repo/.git/", "repo/a/"}, "repo/a", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := tree(t, c.files...)
			got, err := Discover(filepath.Join(root, c.start))
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if c.want != "" {
				want = filepath.Join(root, c.want)
			}
			if got != want {
				t.Errorf("Discover = %q, want %q", got, want)
			}
		})
	}
}

func TestDiscoverRelativeStart(t *testing.T) {
	root := tree(t, ".git/", "codspeed.yml", "sub/")
	t.Chdir(filepath.Join(root, "sub"))
	got, err := Discover(".")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "codspeed.yml"); got != want {
		t.Errorf("Discover(\".\") = %q, want %q (absolute)", got, want)
	}
}

func TestDiscoverErrors(t *testing.T) {
	root := tree(t, "file")
	if _, err := Discover(filepath.Join(root, "missing")); err == nil {
		t.Error("Discover on a missing directory succeeded")
	}
	if _, err := Discover(filepath.Join(root, "file")); err == nil {
		t.Error("Discover on a file succeeded")
	}
	// A config name that cannot be inspected (here a symlink loop) is an
	// error, not a reason to look further up and load another file.
	loop := tree(t, ".git/", "codspeed.yml", "sub/")
	if err := os.Symlink("codspeed.yaml", filepath.Join(loop, "sub", "codspeed.yaml")); err != nil {
		t.Fatal(err)
	}
	if got, err := Discover(filepath.Join(loop, "sub")); err == nil {
		t.Errorf("Discover past a symlink loop = %q, want an error", got)
	}
}
