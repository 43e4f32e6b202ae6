package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

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
