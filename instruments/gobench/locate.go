package gobench

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Locator finds the file that declares each Benchmark function, so URIs can
// name it. It asks the go command where packages are, once per package.
type Locator struct {
	// Dir is where `go list` runs (the target's directory).
	Dir string
	// Root is the git root that file paths are made relative to; when empty
	// they are relative to Dir.
	Root string

	dirs  map[string]string            // import path -> directory
	funcs map[string]map[string]string // directory -> func name -> file
}

// File returns the file (relative to Root) declaring the top-level benchmark
// function of name in package pkg, or "" when it cannot be found.
func (l *Locator) File(ctx context.Context, pkg, name string) string {
	dir := l.pkgDir(ctx, pkg)
	if dir == "" {
		return ""
	}
	if l.funcs == nil {
		l.funcs = map[string]map[string]string{}
	}
	fns, ok := l.funcs[dir]
	if !ok {
		fns = scanBenchmarks(dir)
		l.funcs[dir] = fns
	}
	file := fns[TopLevel(name)]
	if file == "" {
		return ""
	}
	root := l.Root
	if root == "" {
		root = l.Dir
	}
	if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(file)
}

func (l *Locator) pkgDir(ctx context.Context, pkg string) string {
	if l.dirs == nil {
		l.dirs = map[string]string{}
	}
	if d, ok := l.dirs[pkg]; ok {
		return d
	}
	d, err := listDir(ctx, l.Dir, pkg)
	if err != nil {
		d = ""
	}
	l.dirs[pkg] = d
	return d
}

func listDir(ctx context.Context, dir, pkg string) (string, error) {
	if pkg == "" {
		return "", fmt.Errorf("no package")
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", "--", pkg)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

// scanBenchmarks parses the _test.go files of dir for Benchmark functions.
func scanBenchmarks(dir string) map[string]string {
	fns := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	fset := token.NewFileSet()
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		af, err := parser.ParseFile(fset, f, src, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Benchmark") {
				fns[fd.Name.Name] = f
			}
		}
	}
	return fns
}
