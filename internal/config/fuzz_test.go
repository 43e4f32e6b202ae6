package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the loader arbitrary bytes. Whatever the input, Parse must
// not panic or hang, must return either a config or an error, and what it
// returns must keep the loader's promises: every error part is an *Error
// naming the file; a loaded config has absolute paths, targets with exactly
// one command and a name, unique names, and options that pass Validate at
// the root and once merged into each target.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid", "testdata/example"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yml"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "---", "~", "[]", "{}", "a: &a [*a]", "options: {<<: {max-time: 1s}}",
		"benchmarks: [{exec: x, options: {env: {A: *x}}}]",
		"options:\n  <<: [*a]\n", "benchmarks:\n- {exec: a, name: a}\n- {entrypoint: a}\n",
		"container: {build: {context: ~, args: ~}}", "thresholds: {regression: '%'}",
	} {
		f.Add([]byte(s))
	}
	const name = "fuzz/codspeed.yml"
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(name, data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg != nil, err)
		}
		// The same bytes give the same answer (no map-order leaks into
		// which error or warning is reported).
		cfg2, err2 := Parse(name, data)
		if fmt.Sprint(err) != fmt.Sprint(err2) || dump(cfg) != dump(cfg2) {
			t.Fatalf("Parse is not deterministic:\n%v\n%s\nthen\n%v\n%s", err, dump(cfg), err2, dump(cfg2))
		}
		if err != nil {
			for _, part := range parts(err) {
				var e *Error
				if !errors.As(part, &e) {
					t.Fatalf("error part %T %q is not an *Error", part, part)
				}
				if e.File != name || e.Msg == "" {
					t.Fatalf("error %#v lacks its file or message", e)
				}
			}
			return
		}
		if !filepath.IsAbs(cfg.Path) || !filepath.IsAbs(cfg.Dir) {
			t.Fatalf("paths not absolute: %q %q", cfg.Path, cfg.Dir)
		}
		if err := cfg.Options.Validate(); err != nil {
			t.Fatalf("root options loaded but invalid: %v", err)
		}
		if wd := cfg.Options.WorkingDirectory; wd != "" && !filepath.IsAbs(wd) {
			t.Fatalf("working-directory %q not absolute", wd)
		}
		if cfg.Options.Thresholds != nil {
			t.Fatal("root options hold thresholds")
		}
		names := map[string]bool{}
		for _, tg := range cfg.Targets {
			if (tg.Exec == "") == (tg.Entrypoint == "") {
				t.Fatalf("target at line %d has exec %q and entrypoint %q", tg.Line, tg.Exec, tg.Entrypoint)
			}
			if tg.Name == "" || names[tg.Name] {
				t.Fatalf("target at line %d: empty or repeated name %q", tg.Line, tg.Name)
			}
			names[tg.Name] = true
			if tg.Line <= 0 {
				t.Fatalf("target %q has no line", tg.Name)
			}
			if err := tg.Options.Merge(cfg.Options).Validate(); err != nil {
				t.Fatalf("target %q loaded but its merged options are invalid: %v", tg.Name, err)
			}
		}
		if c := cfg.Container; c != nil {
			if (c.Image == "") == (c.Build == nil) {
				t.Fatalf("container has image %q and build %v", c.Image, c.Build)
			}
			if c.Build != nil && !filepath.IsAbs(c.Build.Context) {
				t.Fatalf("build context %q not absolute", c.Build.Context)
			}
		}
		if cfg.Thresholds != nil {
			if p := cfg.Thresholds.problems(); len(p) > 0 {
				t.Fatalf("thresholds loaded but invalid: %v", p)
			}
		}
		for _, w := range cfg.Warnings {
			if w.File != name || w.Line <= 0 {
				t.Fatalf("warning %q lacks its file or line", w)
			}
		}
	})
}
