// Package config reads the project config file, codspeed.yml: where it is
// (Discover), what it says (Load, Parse) and how its options combine with the
// command line (Options.Merge, Options.Validate).
//
// The schema is CodSpeed's (docs/protocol.md §2: root `options:`, `benchmarks:` with
// `exec:` or `entrypoint:` targets) plus this project's `container:` and
// `thresholds:` sections and the `cpus:`, `memory-limit:`, `env:` options.
// Unlike CodSpeed, every level is validated, and every problem names the file,
// line and key. Unknown keys are warnings (with a did-you-mean), so a config
// written for a newer version still loads; wrong types and contradictory
// options are errors, reported all at once, before anything runs.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is one loaded config file. Paths in it are absolute; the caller owns
// it and may change it.
type Config struct {
	// Path is the absolute path of the file.
	Path string
	// Dir is the file's directory. Relative paths in the file (working
	// directories, build contexts) are resolved against it, because the
	// runner never changes its own directory.
	Dir string
	// Options are the root `options:`, the defaults of every target.
	Options Options
	// Targets are the `benchmarks:` (older name: `targets:`), in file order.
	Targets []Target
	// Container is the `container:` section, nil when absent.
	Container *Container
	// Build is the top-level `build:` command: what `codspeed ab --base REF`
	// runs (with bash, in the tree's root) in each tree before measuring;
	// "" when absent. BuildLine is its line.
	Build     string
	BuildLine int
	// Thresholds is the top-level `thresholds:` section, nil when absent.
	Thresholds *Thresholds
	// Warnings are problems that did not stop the load, in file order.
	Warnings []Warning
}

// Target is one entry of `benchmarks:`.
type Target struct {
	// Name defaults to the command (Exec or Entrypoint) when unset.
	Name string
	// Exactly one of Exec and Entrypoint is set. Exec is a command measured
	// whole by the exec harness; Entrypoint is a command with its own
	// harness, run as `codspeed run CMD` would run it.
	Exec       string
	Entrypoint string
	// Options are the target's own options, not merged with the root's;
	// the caller merges (target.Options.Merge(cfg.Options)) so that it can
	// put CLI flags on top.
	Options Options
	// Line is the line of the list item, for messages about the target.
	Line int
}

// Container is the `container:` section: run every target in a container made
// from Image, or from an image built by Build.
type Container struct {
	Image string
	Build *Build
	// Network gives the containers a network; off unless asked for, so a
	// benchmark cannot depend on (or be slowed by) the outside world.
	Network bool
	// Line is the line of the `container:` key.
	Line int
}

// Build says how to build the benchmark image.
type Build struct {
	// Context is absolute (resolved against the config's directory).
	Context string
	// Dockerfile is as written, relative to Context as Docker takes it; ""
	// means Docker's default (Context/Dockerfile).
	Dockerfile string
	// Target is the build stage to stop at; "" for the last.
	Target string
	Args   map[string]string
}

// Load reads and validates the config file at path. Problems that stop the
// load are returned as an *Error, or as errors.Join of several *Error when
// there are several (all are reported, in file order); the Config is then nil.
// A file that cannot be read gives an *Error that wraps the cause, so
// errors.Is(err, fs.ErrNotExist) works. Warnings are in Config.Warnings.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read config: %v", unwrapPath(err)), err: err}
	}
	return Parse(path, data)
}

// unwrapPath drops the path from an *fs.PathError, which Error already shows.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse is Load on bytes already read; name is the path used in messages and
// to resolve relative paths. It never panics, whatever data holds.
func Parse(name string, data []byte) (*Config, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, &Error{File: name, Msg: fmt.Sprintf("cannot resolve path: %v", err), err: err}
	}
	l := &loader{file: name, dir: filepath.Dir(abs), data: data, budget: maxEntries}
	cfg := &Config{Path: abs, Dir: l.dir}
	root, err := decodeYAML(data)
	if err != nil {
		return nil, l.syntaxError(err)
	}
	if root != nil {
		l.root(cfg, root)
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
		// A mapping reached through several aliases is checked once per
		// alias; say each problem once.
		l.errs = dedupe(l.errs, func(e *Error) Warning { return Warning{e.File, e.Line, e.Key, e.Msg} })
		if len(l.errs) == 1 {
			return nil, l.errs[0]
		}
		errs := make([]error, len(l.errs))
		for i, e := range l.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(l.warns, func(i, j int) bool { return l.warns[i].Line < l.warns[j].Line })
	cfg.Warnings = dedupe(l.warns, func(w Warning) Warning { return w })
	return cfg, nil
}

// dedupe drops repeated items, keeping the first of each.
func dedupe[T any, K comparable](items []T, key func(T) K) []T {
	seen := make(map[K]bool, len(items))
	out := items[:0]
	for _, it := range items {
		if k := key(it); !seen[k] {
			seen[k] = true
			out = append(out, it)
		}
	}
	return out
}

// maxEntries bounds the mapping entries and list items the loader visits.
var (
	rootKeys      = []string{"options", "benchmarks", "targets", "container", "thresholds", "build"}
	optionKeys    = []string{"working-directory", "warmup-time", "max-time", "min-time", "max-rounds", "min-rounds", "cpus", "memory-limit", "env", "thresholds"}
	targetKeys    = []string{"name", "exec", "entrypoint", "options"}
	containerKeys = []string{"image", "build", "network"}
	buildKeys     = []string{"context", "dockerfile", "args", "target"}
	thresholdKeys = []string{"regression", "improvement", "walltime", "simulation", "memory"}
)

// keyLines records where each key of an options mapping was written, so that
// problems found on the parsed values can point back at the file.
type keyLines map[string]int

func (l *loader) root(cfg *Config, n *yaml.Node) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n.Line, "", "expected a mapping of sections (options:, benchmarks:, ...) at the top level, got %s", kindName(n))
		return
	}
	entries, _ := l.mapping("", n)
	var rootLines keyLines
	var targetsEntry *entry
	for i := range entries {
		e := entries[i]
		switch e.key {
		case "options":
			cfg.Options, rootLines = l.options(e, false)
		case "benchmarks", "targets":
			if targetsEntry != nil {
				l.errorf(e.k.Line, e.key, "cannot be used with %q (line %d): %q is the older name of \"benchmarks\"; keep one", targetsEntry.key, targetsEntry.k.Line, "targets")
				continue
			}
			targetsEntry = &entries[i]
		case "container":
			cfg.Container = l.container(e)
		case "build":
			if v := resolve(e.v); v != nil && !isNull(v) {
				if s, ok := l.str(e, v); ok {
					cfg.Build, cfg.BuildLine = s, e.k.Line
				}
			}
		case "thresholds":
			var lines keyLines
			cfg.Thresholds, lines = l.thresholds(e)
			if cfg.Thresholds != nil {
				l.report(cfg.Thresholds.problems(), lines, e.k.Line, nil)
			}
		default:
			if strings.HasPrefix(e.key, "x-") {
				// Extension keys, as in compose files: a place for
				// anchors that the schema does not read.
				continue
			}
			l.unknown(e, rootKeys, map[string]string{`"options:"`: strings.Join(optionKeys, ",")})
		}
	}
	l.report(cfg.Options.problems(), rootLines, 0, nil)
	if targetsEntry != nil {
		cfg.Targets = l.targets(*targetsEntry, cfg.Options, rootLines)
	}
}

// report turns problems into errors at the line of the key they concern (the
// later one when they concern two). Keys not in lines are taken from inherited
// (the root options, for a target) and named in the message.
func (l *loader) report(ps []problem, lines keyLines, fallback int, inherited keyLines) {
	for _, p := range ps {
		line, key := 0, p.keys[0]
		var from []string
		for _, k := range p.keys {
			if ln, ok := lines[k]; ok {
				if ln >= line {
					line, key = ln, k
				}
			} else if ln, ok := inherited[k]; ok {
				from = append(from, fmt.Sprintf("%s is set in the root options at line %d", k, ln))
			}
		}
		if line == 0 {
			line = fallback
		}
		msg := p.msg
		if len(from) > 0 {
			msg += " (" + strings.Join(from, "; ") + ")"
		}
		l.errorf(line, key, "%s", msg)
	}
}

// options parses an `options:` mapping. Only a target's options may hold
// thresholds.
func (l *loader) options(e entry, target bool) (Options, keyLines) {
	var o Options
	lines := keyLines{}
	entries, ok := l.mapping(e.key, e.v)
	if !ok {
		return o, lines
	}
	for _, oe := range entries {
		v := resolve(oe.v)
		line := oe.k.Line
		if isNull(v) {
			continue
		}
		lines[oe.key] = line
		switch oe.key {
		case "working-directory":
			if s, ok := l.str(oe, v); ok {
				if s == "" {
					l.errorf(v.Line, oe.key, "must not be empty (leave the key out to use the current directory)")
					continue
				}
				o.WorkingDirectory = l.path(s)
			}
		case "warmup-time":
			o.WarmupTime = l.duration(oe, v)
		case "max-time":
			o.MaxTime = l.duration(oe, v)
		case "min-time":
			o.MinTime = l.duration(oe, v)
		case "max-rounds":
			o.MaxRounds = l.integer(oe, v)
		case "min-rounds":
			o.MinRounds = l.integer(oe, v)
		case "cpus":
			if s, ok := l.str(oe, v); ok {
				if err := ValidateCPUs(s); err != nil {
					l.errorf(v.Line, oe.key, "%v", err)
					continue
				}
				o.CPUs = s
			}
		case "memory-limit":
			if s, ok := l.str(oe, v); ok {
				b, err := ParseBytes(s)
				if err != nil {
					l.errorf(v.Line, oe.key, "%v", err)
					continue
				}
				o.MemoryLimit = &b
			}
		case "env":
			o.Env = l.stringMap(oe)
		case "thresholds":
			if !target {
				l.errorf(line, oe.key, "only a benchmark's options can set thresholds; put project-wide ones in the top-level \"thresholds:\" section")
				continue
			}
			var tl keyLines
			o.Thresholds, tl = l.thresholds(oe)
			for k, ln := range tl {
				lines[k] = ln
			}
		default:
			var elsewhere map[string]string
			if !target {
				elsewhere = map[string]string{"the top level": strings.Join(rootKeys, ",")}
			}
			l.unknown(oe, optionKeys, elsewhere)
		}
	}
	return o, lines
}

// path resolves p against the config's directory.
func (l *loader) path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.dir, p)
}

// targets parses the `benchmarks:` list, validating each target's options
// alone and merged with the root's, so a conflict between the two levels is
// reported at the target's line before anything runs.
func (l *loader) targets(e entry, root Options, rootLines keyLines) []Target {
	list := resolve(e.v)
	if isNull(list) {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		l.errorf(list.Line, e.key, "expected a list of benchmarks, got %s", kindName(list))
		return nil
	}
	if !l.spend(len(list.Content), list.Line) {
		return nil
	}
	var out []Target
	names := map[string]int{}
	for _, item := range list.Content {
		item = resolve(item)
		if item == nil {
			continue
		}
		t, ok := l.target(e.key, item, root, rootLines)
		if !ok {
			continue
		}
		if first, dup := names[t.Name]; dup {
			l.errorf(t.Line, "name", "benchmark name %q is already used at line %d; names must be unique", t.Name, first)
			continue
		}
		names[t.Name] = t.Line
		out = append(out, t)
	}
	return out
}

func (l *loader) target(listKey string, n *yaml.Node, root Options, rootLines keyLines) (Target, bool) {
	t := Target{Line: n.Line}
	if n.Kind != yaml.MappingNode {
		l.errorf(n.Line, listKey, "expected a benchmark (a mapping with exec: or entrypoint:), got %s", kindName(n))
		return t, false
	}
	entries, _ := l.mapping(listKey, n)
	errsBefore := len(l.errs)
	var lines keyLines
	var cmdKey *entry
	for i := range entries {
		te := entries[i]
		v := resolve(te.v)
		switch te.key {
		case "name":
			if !isNull(v) {
				t.Name, _ = l.str(te, v)
			}
		case "exec", "entrypoint":
			if isNull(v) {
				continue
			}
			if cmdKey != nil {
				l.errorf(te.k.Line, te.key, "cannot be used with %q (line %d): a benchmark is either exec: (measured by the runner) or entrypoint: (its own harness)", cmdKey.key, cmdKey.k.Line)
				continue
			}
			s, ok := l.str(te, v)
			if !ok {
				continue
			}
			if strings.TrimSpace(s) == "" {
				l.errorf(v.Line, te.key, "the command is empty")
				continue
			}
			cmdKey = &entries[i]
			if te.key == "exec" {
				t.Exec = s
			} else {
				t.Entrypoint = s
			}
		case "options":
			t.Options, lines = l.options(te, true)
		default:
			l.unknown(te, targetKeys, map[string]string{`"options:"`: strings.Join(optionKeys, ",")})
		}
	}
	if cmdKey == nil && len(l.errs) == errsBefore {
		l.errorf(n.Line, listKey, "a benchmark needs a command: exec: (measured by the runner) or entrypoint: (its own harness)")
	}
	if t.Name == "" {
		t.Name = t.Exec + t.Entrypoint
	}
	own := t.Options.problems()
	l.report(own, lines, n.Line, nil)
	// Problems that appear only once the root's options are inherited.
	reported := map[string]bool{}
	for _, p := range own {
		reported[p.String()] = true
	}
	for _, p := range root.problems() {
		reported[p.String()] = true
	}
	var fresh []problem
	for _, p := range t.Options.Merge(root).problems() {
		if !reported[p.String()] {
			fresh = append(fresh, p)
		}
	}
	l.report(fresh, lines, n.Line, rootLines)
	return t, len(l.errs) == errsBefore
}

func (l *loader) container(e entry) *Container {
	entries, ok := l.mapping(e.key, e.v)
	if !ok {
		return nil
	}
	c := &Container{Line: e.k.Line}
	errsBefore := len(l.errs)
	var imageLine, buildLine int
	for _, ce := range entries {
		v := resolve(ce.v)
		if isNull(v) {
			continue
		}
		switch ce.key {
		case "image":
			if s, ok := l.str(ce, v); ok {
				if strings.TrimSpace(s) == "" {
					l.errorf(v.Line, ce.key, "the image name is empty")
					continue
				}
				c.Image, imageLine = s, ce.k.Line
			}
		case "build":
			c.Build = l.build(ce, v)
			if c.Build != nil {
				buildLine = ce.k.Line
			}
		case "network":
			c.Network, _ = l.boolean(ce, v)
		default:
			l.unknown(ce, containerKeys, nil)
		}
	}
	switch {
	case imageLine > 0 && buildLine > 0:
		key, line, other, otherLine := "build", buildLine, "image", imageLine
		if imageLine > buildLine {
			key, line, other, otherLine = "image", imageLine, "build", buildLine
		}
		l.errorf(line, key, "cannot be used with %q (line %d): the container comes from an image to pull or an image to build, not both", other, otherLine)
	case imageLine == 0 && buildLine == 0 && len(l.errs) == errsBefore:
		l.errorf(e.k.Line, e.key, "needs image: (an image to pull) or build: (a Dockerfile to build)")
	}
	return c
}

// build parses `build:`, either a context path (as in compose files) or a
// mapping.
func (l *loader) build(e entry, v *yaml.Node) *Build {
	b := &Build{}
	if v.Kind == yaml.ScalarNode {
		s, _ := l.str(e, v)
		b.Context = l.path(s)
		return b
	}
	entries, ok := l.mapping(e.key, v)
	if !ok {
		return nil
	}
	for _, be := range entries {
		bv := resolve(be.v)
		if isNull(bv) {
			continue
		}
		switch be.key {
		case "context":
			b.Context, _ = l.str(be, bv)
		case "dockerfile":
			b.Dockerfile, _ = l.str(be, bv)
		case "target":
			b.Target, _ = l.str(be, bv)
		case "args":
			b.Args = l.stringMap(be)
		default:
			l.unknown(be, buildKeys, nil)
		}
	}
	b.Context = l.path(b.Context)
	return b
}

// ParseOptions reads options given as a JSON object (an entry of `codspeed
// exec -`'s input: {"command": ..., "options": {...}}) with codspeed.yml's
// rules for its `options:` keys: the same parser, the same messages. Here an
// unknown key is an error, not a warning: the input comes from a program,
// not a file a newer runner may have written. Relative paths resolve
// against dir; source names the input in messages.
func ParseOptions(source, dir string, m map[string]any) (Options, error) {
	if len(m) == 0 {
		return Options{}, nil
	}
	var n yaml.Node
	if err := n.Encode(m); err != nil {
		return Options{}, &Error{File: source, Msg: err.Error(), err: err}
	}
	l := &loader{file: source, dir: dir, budget: maxEntries}
	o, _ := l.options(entry{key: "options", v: &n}, false)
	var errs []error
	for _, e := range l.errs {
		errs = append(errs, e)
	}
	for _, w := range l.warns {
		errs = append(errs, &Error{File: w.File, Key: w.Key, Msg: w.Msg})
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	return o, o.Validate()
}
