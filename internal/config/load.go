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
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

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
// YAML aliases and merge keys can make a short file describe an exponentially
// large tree ("billion laughs"); no real config comes near this.
const maxEntries = 100_000

// decodeYAML parses data into its single document's root node; nil for an
// empty file. yaml.v3 reports its own errors by panicking and recovering; a
// panic it does not recover is a bug in it, turned here into an error so that
// a malformed file can never crash the runner.
func decodeYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	// Empty documents after the first (a trailing "---") are harmless; a
	// second document with content would be silently ignored, so refuse it.
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if documentRoot(&next) != nil {
			return nil, &multiDocError{line: next.Line}
		}
	}
	return documentRoot(&doc), nil
}

// documentRoot returns a document's content, nil when it has none.
func documentRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode {
		return doc
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) && doc.Content[0].Value == "" {
		return nil
	}
	return doc.Content[0]
}

// lineOf returns the 1-based line of the first occurrence of s in data, or 0.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// nthLine returns the 1-based line n of data, or "".
func nthLine(data []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return ""
		}
		data = data[j+1:]
	}
	if j := bytes.IndexByte(data, '\n'); j >= 0 {
		data = data[:j]
	}
	return string(data)
}

type multiDocError struct{ line int }

func (e *multiDocError) Error() string { return "more than one YAML document" }

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
	selfAnchor    = regexp.MustCompile(`^yaml: anchor '(.*)' value contains itself$`)
)

func (l *loader) syntaxError(err error) error {
	var md *multiDocError
	if errors.As(err, &md) {
		return &Error{File: l.file, Line: md.line, Msg: "a config holds one YAML document; remove the second (after ---)"}
	}
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		// yaml.v3 gives no line for anchor errors; the first use (or
		// definition) of the name is where to look.
		if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
			line = lineOf(l.data, "*"+m[1])
		} else if m := selfAnchor.FindStringSubmatch(msg); m != nil {
			line = lineOf(l.data, "&"+m[1])
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if line > 0 && strings.HasPrefix(nthLine(l.data, line), "\t") || line == 0 && bytes.HasPrefix(l.data, []byte("\t")) {
		msg += " (YAML indents with spaces, not tabs)"
	}
	return &Error{File: l.file, Line: line, Msg: "invalid YAML: " + msg, err: err}
}

// loader walks the YAML tree against the schema, collecting every error and
// warning instead of stopping at the first.
type loader struct {
	file   string
	dir    string
	data   []byte
	errs   []*Error
	warns  []Warning
	budget int
	broke  bool // the budget ran out; reported once
}

func (l *loader) errorf(line int, key, format string, args ...any) {
	l.errs = append(l.errs, errorf(l.file, line, key, format, args...))
}

func (l *loader) warnf(line int, key, format string, args ...any) {
	l.warns = append(l.warns, Warning{File: l.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// spend charges n visited nodes to the budget and says whether to go on.
func (l *loader) spend(n int, line int) bool {
	if l.broke {
		return false
	}
	l.budget -= n
	if l.budget < 0 {
		l.broke = true
		l.errorf(line, "", "the document expands to more than %d entries (through aliases or merge keys); a config is not that large", maxEntries)
		return false
	}
	return true
}

// entry is one key and its value in a mapping, aliases resolved.
type entry struct {
	key string
	k   *yaml.Node
	v   *yaml.Node
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	// yaml.v3 refuses an anchor that contains itself, so chains end; the
	// bound only guards against a parser that would not.
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 1000; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// isNull says whether n is absent or an explicit null (`key:`, `key: ~`),
// which every key treats as unset.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName names a node's kind for "expected X, got Y" messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return describeScalar(n.Tag, n.Value)
	}
	return "an unexpected YAML node"
}

// mapping returns n's entries, with merge keys (`<<: *defaults`) expanded
// under the explicit ones, duplicates reported, and null treated as empty. ok
// is false (and an error recorded) when n is not a mapping.
func (l *loader) mapping(key string, n *yaml.Node) (entries []entry, ok bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n.Line, key, "expected a mapping, got %s", kindName(n))
		return nil, false
	}
	seen := map[string]int{}
	var merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !l.spend(1, n.Line) {
			return entries, false
		}
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			l.errorf(k.Line, key, "keys must be plain names, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			merged = append(merged, l.mergeSource(key, v)...)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.errorf(k.Line, k.Value, "key repeated (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		entries = append(entries, entry{key: k.Value, k: k, v: v})
	}
	for _, e := range merged {
		if _, dup := seen[e.key]; !dup {
			seen[e.key] = e.k.Line
			entries = append(entries, e)
		}
	}
	return entries, true
}

// mergeSource expands the value of a `<<` key: a mapping or a list of them.
func (l *loader) mergeSource(key string, v *yaml.Node) []entry {
	v = resolve(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		es, _ := l.mapping(key, v)
		return es
	case yaml.SequenceNode:
		if !l.spend(len(v.Content), v.Line) {
			return nil
		}
		var out []entry
		seen := map[string]bool{}
		for _, item := range v.Content {
			item = resolve(item)
			if item == nil || item.Kind != yaml.MappingNode {
				line := v.Line
				if item != nil {
					line = item.Line
				}
				l.errorf(line, "<<", "a merge key takes a mapping or a list of mappings")
				continue
			}
			es, _ := l.mapping(key, item)
			// Earlier mappings in the list win, as in YAML 1.1.
			for _, e := range es {
				if !seen[e.key] {
					seen[e.key] = true
					out = append(out, e)
				}
			}
		}
		return out
	}
	l.errorf(v.Line, "<<", "a merge key takes a mapping or a list of mappings")
	return nil
}

// unknown warns about a key that is not in known, suggesting the closest
// known key, or the place the key belongs (elsewhere) when it is valid there.
func (l *loader) unknown(e entry, known []string, elsewhere map[string]string) {
	if s := suggest(e.key, known); s != "" {
		l.warnf(e.k.Line, e.key, "unknown key (did you mean %q?)", s)
		return
	}
	for _, where := range slices.Sorted(maps.Keys(elsewhere)) {
		keys := strings.Split(elsewhere[where], ",")
		if s := suggest(e.key, keys); s != "" {
			l.warnf(e.k.Line, e.key, "unknown key here (%q belongs under %s)", s, where)
			return
		}
	}
	l.warnf(e.k.Line, e.key, "unknown key (known keys: %s)", strings.Join(known, ", "))
}

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

// str reads a scalar as a string. Numbers and booleans are accepted as their
// text (`name: 1.0` is the name "1.0"); mappings and lists are errors.
func (l *loader) str(e entry, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		l.errorf(v.Line, e.key, "expected a string, got %s", kindName(v))
		return "", false
	}
	return v.Value, true
}

func (l *loader) duration(e entry, v *yaml.Node) *time.Duration {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!bool" {
		l.errorf(v.Line, e.key, "expected a duration such as 500ms, 2s or 1m, got %s", kindName(v))
		return nil
	}
	d, err := ParseDuration(v.Value)
	if err != nil {
		l.errorf(v.Line, e.key, "%v", err)
		return nil
	}
	return &d
}

func (l *loader) integer(e entry, v *yaml.Node) *int64 {
	if v.Kind == yaml.ScalarNode {
		var n int64
		var err error
		switch v.Tag {
		case "!!int":
			err = v.Decode(&n)
		case "!!str":
			n, err = strconv.ParseInt(strings.TrimSpace(v.Value), 10, 64)
		default:
			err = errors.New("not an integer")
		}
		if err == nil {
			return &n
		}
		if digits := strings.TrimLeft(strings.TrimSpace(v.Value), "+-"); digits != "" && strings.Trim(digits, "0123456789_") == "" {
			l.errorf(v.Line, e.key, "%s is too large", v.Value)
			return nil
		}
	}
	l.errorf(v.Line, e.key, "expected an integer, got %s", kindName(v))
	return nil
}

func (l *loader) boolean(e entry, v *yaml.Node) (bool, bool) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
		var b bool
		if err := v.Decode(&b); err == nil {
			return b, true
		}
	}
	l.errorf(v.Line, e.key, "expected true or false, got %s", kindName(v))
	return false, false
}

// stringMap reads a mapping of names to scalar values (`env:`, build
// `args:`); a null value is the empty string.
func (l *loader) stringMap(e entry) map[string]string {
	entries, ok := l.mapping(e.key, e.v)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(entries))
	for _, me := range entries {
		if me.key == "" || strings.ContainsAny(me.key, "=\x00") {
			l.errorf(me.k.Line, e.key, "invalid name %q (names cannot be empty or contain '=')", me.key)
			continue
		}
		v := resolve(me.v)
		switch {
		case isNull(v):
			out[me.key] = ""
		case v.Kind == yaml.ScalarNode:
			if strings.ContainsRune(v.Value, 0) {
				l.errorf(v.Line, e.key, "value of %s contains a NUL byte", me.key)
				continue
			}
			out[me.key] = v.Value
		default:
			l.errorf(v.Line, e.key, "value of %s: expected a string, got %s", me.key, kindName(v))
		}
	}
	return out
}

// thresholds parses a thresholds mapping; nil when it is empty or invalid.
func (l *loader) thresholds(e entry) (*Thresholds, keyLines) {
	lines := keyLines{}
	entries, ok := l.mapping(e.key, e.v)
	if !ok || len(entries) == 0 {
		return nil, lines
	}
	t := &Thresholds{}
	for _, te := range entries {
		v := resolve(te.v)
		if isNull(v) {
			continue
		}
		var dst **float64
		switch te.key {
		case "regression":
			dst = &t.Regression
		case "improvement":
			dst = &t.Improvement
		case "walltime":
			dst = &t.Walltime
		case "simulation":
			dst = &t.Simulation
		case "memory":
			dst = &t.Memory
		default:
			l.unknown(te, thresholdKeys, nil)
			continue
		}
		lines[te.key] = te.k.Line
		f, err := parseFraction(v)
		if err != nil {
			l.errorf(v.Line, te.key, "%v", err)
			continue
		}
		*dst = &f
	}
	return t, lines
}

// parseFraction reads "5%" or 0.05 as 0.05. A bare number above 1 is refused
// rather than guessed at: "5" could mean 5% or 500%.
func parseFraction(v *yaml.Node) (float64, error) {
	bad := fmt.Errorf("expected a percentage such as 5%% or a fraction such as 0.05, got %s", kindName(v))
	if v.Kind != yaml.ScalarNode || v.Tag == "!!bool" {
		return 0, bad
	}
	s := strings.TrimSpace(v.Value)
	pct := strings.HasSuffix(s, "%")
	s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 1e300 || f < -1e300 || strings.ContainsAny(s, "xXpP_") {
		return 0, bad
	}
	if pct {
		return f / 100, nil
	}
	if f > 1 {
		return 0, fmt.Errorf("a bare number is a fraction (0.05 is 5%%); write %s%% if you mean %s percent", s, s)
	}
	return f, nil
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
