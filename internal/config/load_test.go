package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the .golden files under testdata/ from the current output")

// TestGoldenValid loads every file under testdata/valid and compares a dump of
// the Config (paths shown relative to the file's directory as $DIR) and its
// warnings with the .golden file beside it.
func TestGoldenValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yml")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cfg, err := Load(file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			golden(t, strings.TrimSuffix(file, ".yml")+".golden", dump(cfg))
		})
	}
}

// TestGoldenInvalid loads every file under testdata/invalid and compares the
// error with the .golden file beside it. Every part of the error must be an
// *Error naming the file, and every part but those with no single place (a
// read failure) must carry a line.
func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yml")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cfg, err := Load(file)
			if err == nil {
				t.Fatalf("Load succeeded, want an error; config: %s", dump(cfg))
			}
			if cfg != nil {
				t.Errorf("Load returned a config with its error")
			}
			for _, part := range parts(err) {
				var e *Error
				if !errors.As(part, &e) {
					t.Errorf("error part %T %q is not an *Error", part, part)
					continue
				}
				if e.File != file {
					t.Errorf("error %q names file %q, want %q", e, e.File, file)
				}
				if e.Line <= 0 {
					t.Errorf("error %q has no line", e)
				}
			}
			golden(t, strings.TrimSuffix(file, ".yml")+".golden", err.Error()+"\n")
		})
	}
}

// parts splits an errors.Join into its errors.
func parts(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// dump renders a Config as stable text for golden files.
func dump(cfg *Config) string {
	if cfg == nil {
		return "<nil>\n"
	}
	var b strings.Builder
	rel := func(p string) string {
		switch p {
		case cfg.Dir:
			return "$DIR"
		case filepath.Dir(cfg.Dir):
			return "$DIR/.."
		}
		if r, err := filepath.Rel(cfg.Dir, p); err == nil && !strings.HasPrefix(r, "..") {
			return "$DIR/" + r
		}
		if r, err := filepath.Rel(filepath.Dir(cfg.Dir), p); err == nil && !strings.HasPrefix(r, "..") {
			return "$DIR/../" + r
		}
		return p
	}
	fmt.Fprintf(&b, "path: %s\n", rel(cfg.Path))
	dumpOptions(&b, "options", cfg.Options, rel)
	for _, t := range cfg.Targets {
		fmt.Fprintf(&b, "target line %d: name=%q exec=%q entrypoint=%q\n", t.Line, t.Name, t.Exec, t.Entrypoint)
		dumpOptions(&b, "  options", t.Options, rel)
	}
	if c := cfg.Container; c != nil {
		fmt.Fprintf(&b, "container line %d: image=%q network=%v\n", c.Line, c.Image, c.Network)
		if c.Build != nil {
			fmt.Fprintf(&b, "  build: context=%s dockerfile=%q target=%q args=%s\n",
				rel(c.Build.Context), c.Build.Dockerfile, c.Build.Target, dumpMap(c.Build.Args))
		}
	}
	if cfg.Thresholds != nil {
		fmt.Fprintf(&b, "thresholds: %s\n", dumpThresholds(*cfg.Thresholds))
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

func dumpOptions(b *strings.Builder, label string, o Options, rel func(string) string) {
	var fs []string
	if o.WorkingDirectory != "" {
		fs = append(fs, "working-directory="+rel(o.WorkingDirectory))
	}
	for _, d := range []struct {
		k string
		v *time.Duration
	}{{"warmup-time", o.WarmupTime}, {"max-time", o.MaxTime}, {"min-time", o.MinTime}} {
		if d.v != nil {
			fs = append(fs, d.k+"="+d.v.String())
		}
	}
	for _, r := range []struct {
		k string
		v *int64
	}{{"max-rounds", o.MaxRounds}, {"min-rounds", o.MinRounds}, {"memory-limit", o.MemoryLimit}} {
		if r.v != nil {
			fs = append(fs, fmt.Sprintf("%s=%d", r.k, *r.v))
		}
	}
	if o.CPUs != "" {
		fs = append(fs, "cpus="+o.CPUs)
	}
	if o.Env != nil {
		fs = append(fs, "env="+dumpMap(o.Env))
	}
	if o.Thresholds != nil {
		fs = append(fs, "thresholds="+dumpThresholds(*o.Thresholds))
	}
	if len(fs) > 0 {
		fmt.Fprintf(b, "%s: %s\n", label, strings.Join(fs, " "))
	}
}

func dumpMap(m map[string]string) string {
	if m == nil {
		return "nil"
	}
	var kv []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		kv = append(kv, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return "{" + strings.Join(kv, " ") + "}"
}

func dumpThresholds(t Thresholds) string {
	var fs []string
	for _, f := range t.fields() {
		if f.v != nil {
			fs = append(fs, fmt.Sprintf("%s=%g", f.key, *f.v))
		}
	}
	return "{" + strings.Join(fs, " ") + "}"
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "codspeed.yml"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
	if !strings.Contains(err.Error(), "codspeed.yml: cannot read config: no such file or directory") {
		t.Errorf("message %q", err)
	}

	dir := t.TempDir()
	_, err = Load(dir)
	if !errors.As(err, &e) || e.File != dir || !strings.Contains(e.Msg, "is a directory") {
		t.Errorf("Load(a directory) = %v", err)
	}
}

// TestLoadPaths checks that Path and Dir are absolute and that relative paths
// resolve against the file's directory, not the process's.
func TestLoadPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sub", "codspeed.yml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	data := "options:\n  working-directory: ../bench\ncontainer:\n  build: {dockerfile: d/Dockerfile}\n" +
		"benchmarks:\n  - exec: ./x\n    options: {working-directory: /abs/./w}\n"
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"Path", cfg.Path, file},
		{"Dir", cfg.Dir, filepath.Join(dir, "sub")},
		{"root working-directory", cfg.Options.WorkingDirectory, filepath.Join(dir, "bench")},
		{"target working-directory", cfg.Targets[0].Options.WorkingDirectory, "/abs/w"},
		{"build context", cfg.Container.Build.Context, filepath.Join(dir, "sub")},
		{"dockerfile", cfg.Container.Build.Dockerfile, "d/Dockerfile"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

// TestErrorFields checks the structured fields behind the message of issue 2's
// example, which callers (the CLI, editors) may use directly.
func TestErrorFields(t *testing.T) {
	_, err := Parse("codspeed.yml", []byte("options:\n  max-time: 3s\n\n\n\n\n  max-rounds: abc\n"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	want := Error{File: "codspeed.yml", Line: 7, Key: "max-rounds", Msg: `expected an integer, got "abc"`}
	if *e != want {
		t.Errorf("got %+v, want %+v", *e, want)
	}
	if got := e.Error(); got != `codspeed.yml:7: max-rounds: expected an integer, got "abc"` {
		t.Errorf("Error() = %q", got)
	}
}

// TestParseValues checks how each kind of value is read, one key at a time.
func TestParseValues(t *testing.T) {
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	cases := []struct {
		yaml string
		get  func(o Options) any
		want any
	}{
		{"max-time: 3", func(o Options) any { return *o.MaxTime }, 3 * time.Second},
		{"max-time: 1.5", func(o Options) any { return *o.MaxTime }, sec(1.5)},
		{"max-time: 1m30s", func(o Options) any { return *o.MaxTime }, 90 * time.Second},
		{"warmup-time: 0", func(o Options) any { return *o.WarmupTime }, time.Duration(0)},
		{"max-rounds: 0x10", func(o Options) any { return *o.MaxRounds }, int64(16)},
		{`max-rounds: "12"`, func(o Options) any { return *o.MaxRounds }, int64(12)},
		{"max-rounds: ~", func(o Options) any { return o.MaxRounds == nil }, true},
		{"max-rounds:", func(o Options) any { return o.MaxRounds == nil }, true},
		{"cpus: 3", func(o Options) any { return o.CPUs }, "3"},
		{"memory-limit: 1048576", func(o Options) any { return *o.MemoryLimit }, int64(1 << 20)},
		{"memory-limit: 2G", func(o Options) any { return *o.MemoryLimit }, int64(2 << 30)},
		{"env: {N: 1, B: true, F: 1.50}", func(o Options) any { return dumpMap(o.Env) }, `{B="true" F="1.50" N="1"}`},
		{"env: {}", func(o Options) any { return o.Env != nil && len(o.Env) == 0 }, true},
	}
	for _, c := range cases {
		cfg, err := Parse("c.yml", []byte("options:\n  "+c.yaml+"\n"))
		if err != nil {
			t.Errorf("%s: %v", c.yaml, err)
			continue
		}
		if got := c.get(cfg.Options); got != c.want {
			t.Errorf("%s: got %v, want %v", c.yaml, got, c.want)
		}
	}
}

func TestParseThresholds(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		err  string
	}{
		{"5%", 0.05, ""},
		{"0.05", 0.05, ""},
		{"150%", 1.5, ""},
		{"1", 1, ""},
		{"0", 0, ""},
		{"'2.5 %'", 0.025, ""},
		{"5", 0, "a bare number is a fraction (0.05 is 5%); write 5% if you mean 5 percent"},
		{"five", 0, `expected a percentage such as 5% or a fraction such as 0.05, got "five"`},
		{".nan", 0, "expected a percentage such as 5% or a fraction such as 0.05, got .nan"},
		{"inf%", 0, `expected a percentage such as 5% or a fraction such as 0.05, got "inf%"`},
		{"true", 0, "expected a percentage such as 5% or a fraction such as 0.05, got true"},
	}
	for _, c := range cases {
		cfg, err := Parse("c.yml", []byte("thresholds:\n  regression: "+c.in+"\n"))
		if c.err != "" {
			if err == nil || !strings.HasSuffix(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want ...%s", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := *cfg.Thresholds.Regression; got < c.want-1e-12 || got > c.want+1e-12 {
			t.Errorf("%s: got %v, want %v", c.in, got, c.want)
		}
	}
}

// TestSuggest checks the did-you-mean table directly, including the cases
// where no suggestion must be made.
func TestSuggest(t *testing.T) {
	cases := []struct{ key, want string }{
		{"max-round", "max-rounds"},
		{"max_rounds", "max-rounds"},
		{"maxRounds", "max-rounds"},
		{"MaxRounds", "max-rounds"},
		{"warmuptime", "warmup-time"},
		{"min-tme", "min-time"},
		{"cpu", "cpus"},
		{"memory-limits", "memory-limit"},
		{"workdir", ""},
		{"turbo", ""},
		{"x", ""},
		{strings.Repeat("a", 200), ""},
	}
	for _, c := range cases {
		if got := suggest(c.key, optionKeys); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"max-round", "max-rounds", 1}, {"flaw", "lawn", 2}, {"same", "same", 0},
	}
	for _, c := range cases {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := editDistance(c.b, c.a); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d (not symmetric)", c.b, c.a, got, c.want)
		}
	}
}

// BenchmarkParse measures loading a config that uses every section, the cost
// a `codspeed run` pays once before anything is measured.
func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/valid/full.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("codspeed.yml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLongValuesAreCut checks that a huge bad value is shown shortened, so
// one mistake cannot flood the terminal.
func TestLongValuesAreCut(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, key := range []string{"max-rounds", "max-time", "memory-limit", "cpus"} {
		_, err := Parse("c.yml", []byte("options:\n  "+key+": "+long+"\n"))
		if err == nil {
			t.Fatalf("%s: no error", key)
		}
		if n := len(err.Error()); n > 250 || !strings.Contains(err.Error(), `xxx"...`) {
			t.Errorf("%s: message of %d bytes: %.300s", key, n, err)
		}
	}
}

func TestBuildStep(t *testing.T) {
	cfg, err := Parse("codspeed.yml", []byte("build: make bench\nbenchmarks:\n  - exec: ./bench\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Build != "make bench" || cfg.BuildLine != 1 {
		t.Errorf("build %q at line %d", cfg.Build, cfg.BuildLine)
	}
	if _, err := Parse("codspeed.yml", []byte("build: [make]\n")); err == nil || !strings.Contains(err.Error(), "codspeed.yml:1") {
		t.Errorf("a list as build: %v", err)
	}
}
