package gobench

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
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

// scanBenchmarks maps the Benchmark functions of dir's test files to the
// file declaring each; files that do not parse are skipped.
func scanBenchmarks(dir string) map[string]string {
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	fns := map[string]string{}
	for _, f := range files {
		decls, err := BenchmarkDecls([]string{f})
		if err != nil {
			continue
		}
		for k, v := range decls {
			fns[k] = v
		}
	}
	return fns
}

// BenchmarkDecls maps each Benchmark function declared in files to the file
// that declares it, by the go tool's rule: a top-level func named
// "Benchmark" or "BenchmarkX" (X not a lower-case letter) with one parameter.
func BenchmarkDecls(files []string) (map[string]string, error) {
	decls := map[string]string{}
	fset := token.NewFileSet()
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !isBenchmarkName(fd.Name.Name) || fd.Type.Params.NumFields() != 1 {
				continue
			}
			decls[fd.Name.Name] = path
		}
	}
	return decls, nil
}

func isBenchmarkName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Benchmark")
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return !unicode.IsLower(r)
}
