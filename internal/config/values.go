package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

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
