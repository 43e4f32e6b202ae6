package upload

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzArchive builds a profile folder from the input (lines "path=content",
// "path->target" for a symbolic link) and checks the upload archive round
// trip: every regular file comes back with its content under its relative
// name, links stay links, nothing outside the folder is taken in, and the
// same folder gives the same bytes.
func FuzzArchive(f *testing.F) {
	f.Add([]byte("results/1.json={\"benchmarks\":[]}\nsim/1.out=events: Ir\n"), false)
	f.Add([]byte("a/b/c=x\nlink->../../etc/passwd\nempty=\n"), true)
	f.Add([]byte("dir with space/é.txt=\x00\xff\n"), true)
	f.Fuzz(func(t *testing.T, spec []byte, gzipped bool) {
		root := t.TempDir()
		files := map[string]string{}
		links := map[string]string{}
		for _, line := range strings.Split(string(spec), "\n") {
			name, content, isFile := strings.Cut(line, "=")
			target := ""
			if !isFile {
				var isLink bool
				if name, target, isLink = strings.Cut(line, "->"); !isLink || target == "" {
					continue
				}
			}
			name = filepath.Clean(name)
			if !filepath.IsLocal(name) || len(name) > 200 || strings.ContainsAny(name, "\x00\\") {
				continue
			}
			p := filepath.Join(root, name)
			if os.MkdirAll(filepath.Dir(p), 0o755) != nil {
				continue
			}
			if isFile {
				if os.WriteFile(p, []byte(content), 0o644) == nil {
					files[filepath.ToSlash(name)] = content
				}
			} else if os.Symlink(target, p) == nil {
				links[filepath.ToSlash(name)] = target
			}
		}
		b, err := Archive(root, gzipped)
		if err != nil {
			// A name that is both a file and a directory's parent cannot
			// be made above; what was made must archive.
			t.Fatalf("Archive: %v", err)
		}
		again, err := Archive(root, gzipped)
		if err != nil || !bytes.Equal(again.Data, b.Data) || again.MD5 != b.MD5 {
			t.Fatalf("the same folder gave another archive")
		}
		var r io.Reader = bytes.NewReader(b.Data)
		if gzipped {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		tr := tar.NewReader(r)
		gotFiles := map[string]string{}
		gotLinks := map[string]string{}
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !filepath.IsLocal(strings.TrimSuffix(h.Name, "/")) {
				t.Fatalf("entry %q is not inside the folder", h.Name)
			}
			switch h.Typeflag {
			case tar.TypeReg:
				body, _ := io.ReadAll(tr)
				gotFiles[h.Name] = string(body)
			case tar.TypeSymlink:
				gotLinks[h.Name] = h.Linkname
			}
		}
		// A later line may have replaced an earlier file by a link or the
		// reverse: compare with what is on disk now.
		for name, content := range files {
			if fi, err := os.Lstat(filepath.Join(root, name)); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			if got, ok := gotFiles[name]; !ok || got != content {
				t.Fatalf("file %q: archived %q (present %v), want %q", name, got, ok, content)
			}
		}
		for name, target := range links {
			if fi, err := os.Lstat(filepath.Join(root, name)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				continue
			}
			if gotLinks[name] != target {
				t.Fatalf("link %q: archived -> %q, want -> %q", name, gotLinks[name], target)
			}
		}
	})
}
