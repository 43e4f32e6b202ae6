// Package gobench reads `go test -bench` output and names Go benchmarks the
// way CodSpeed does. The walltime and simulation instruments both use it to
// turn the testing package's own harness into codspeed benchmarks.
package gobench

import (
	"io"
	"path/filepath"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Result is one benchmark line of `go test -bench` output.
type Result struct {
	Pkg string // import path, from the "pkg:" line before it
	// Name is the full name, without the GOMAXPROCS suffix:
	// "BenchmarkSort/n=100".
	Name        string
	Iters       int
	NsPerOp     float64
	BytesPerOp  float64
	AllocsPerOp float64
	HasMem      bool // -benchmem figures were printed
	Line        int
}

// Parse reads Go benchmark output (from `go test -bench`, possibly with other
// test output mixed in) and returns every benchmark line in order. Lines that
// are not benchmark results are ignored; a malformed benchmark line is
// returned in errs with its line number and does not stop the parse.
func Parse(r io.Reader, fileName string) (res []Result, errs []error) {
	rd := benchfmt.NewReader(r, fileName)
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			errs = append(errs, rec)
		case *benchfmt.Result:
			_, line := rec.Pos()
			x := Result{
				Pkg:   rec.GetConfig("pkg"),
				Name:  "Benchmark" + trimProcs(rec.Name.Full()),
				Iters: rec.Iters,
				Line:  line,
			}
			for _, v := range rec.Values {
				// OrigUnit is empty when the reader kept the unit as written.
				unit, val := v.Unit, v.Value
				if v.OrigUnit != "" {
					unit, val = v.OrigUnit, v.OrigValue
				}
				switch unit {
				case "ns/op":
					x.NsPerOp = val
				case "B/op":
					x.BytesPerOp, x.HasMem = val, true
				case "allocs/op":
					x.AllocsPerOp, x.HasMem = val, true
				}
			}
			res = append(res, x)
		}
	}
	if err := rd.Err(); err != nil {
		errs = append(errs, err)
	}
	return res, errs
}

// trimProcs removes the "-8" GOMAXPROCS suffix the testing package appends.
func trimProcs(name []byte) string {
	i := len(name) - 1
	for i >= 0 && name[i] >= '0' && name[i] <= '9' {
		i--
	}
	if i > 0 && i < len(name)-1 && name[i] == '-' {
		name = name[:i]
	}
	return string(name)
}

// URI forms CodSpeed's URI for a Go benchmark: the file declaring the
// top-level Benchmark function, relative to the git root, then the name's
// levels joined by "::" ("pkg/sort_test.go::BenchmarkSort::n=100").
func URI(file, name string) string {
	if file == "" {
		return strings.ReplaceAll(name, "/", "::")
	}
	return file + "::" + strings.ReplaceAll(name, "/", "::")
}

// TopLevel is the top-level Benchmark function of a (sub-)benchmark name.
func TopLevel(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return name
}

// IsGoTest reports whether argv is a `go test` command that runs
// benchmarks (it has a -bench flag before any -args): such commands are
// measured per benchmark rather than as one process. `go test` without
// -bench runs no benchmark and is not matched.
func IsGoTest(args []string) bool {
	if len(args) < 2 || filepath.Base(args[0]) != "go" || args[1] != "test" {
		return false
	}
	for _, a := range args[2:] {
		if a == "-args" || a == "--args" {
			break
		}
		n := strings.TrimLeft(a, "-")
		if len(n) < len(a) && (n == "bench" || strings.HasPrefix(n, "bench=") || n == "test.bench" || strings.HasPrefix(n, "test.bench=")) {
			return true
		}
	}
	return false
}

// HasFlag reports whether a `go test` argv sets the given flag (as -name,
// --name, -name=v, or -test.name).
func HasFlag(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		a = strings.TrimPrefix(a, "test.")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// FlagValue is the value a `go test` argv gives the flag (as -name=v,
// -name v, --name, -test.name), the last one winning; "" when unset.
func FlagValue(args []string, name string) string {
	v := ""
	for i, a := range args {
		if a == "-args" || a == "--args" {
			break
		}
		t := strings.TrimPrefix(strings.TrimLeft(a, "-"), "test.")
		if len(t) == len(a) {
			continue
		}
		if val, ok := strings.CutPrefix(t, name+"="); ok {
			v = val
		} else if t == name && i+1 < len(args) {
			v = args[i+1]
		}
	}
	return v
}
