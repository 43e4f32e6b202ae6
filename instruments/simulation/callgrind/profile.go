// Package callgrind reads the output files of valgrind's callgrind tool (the
// "callgrind format", version 1) into per-dump cost totals and a call graph.
//
// A callgrind file holds one or more parts (one per dump: a client request
// such as CALLGRIND_DUMP_STATS_AT, a --dump-every-bb interval, or program
// termination). Each part carries its event names, its totals and, per
// function, the function's self cost and its outgoing calls with the callee's
// inclusive cost. Positions (source lines, instruction addresses) are read to
// keep the cost columns aligned but are not kept: the simulation instrument
// needs totals per dump and a function-level call graph, not per-line costs.
//
// The parser is written for throughput (it is run on files of hundreds of
// megabytes): it works on the file's bytes, allocates per function rather than
// per line, and interns names.
package callgrind

import (
	"fmt"
	"strings"
)

// Profile is one parsed callgrind output file.
type Profile struct {
	// Creator is the "creator:" header, e.g. "callgrind-3.19.0".
	Creator string
	// Cmd is the command line of the profiled process ("cmd:").
	Cmd string
	// Pid and Thread come from the "pid:" and "thread:" headers (0 if
	// absent); with --separate-threads=yes and --combine-dumps=yes one file
	// holds the parts of every thread, and Thread is the last one (see
	// Part.Thread).
	Pid    int
	Thread int
	// Parts are the dumps in file order. A file written without
	// --combine-dumps has exactly one.
	Parts []*Part
}

// Part is one dump: the costs collected since the previous dump (or since
// the last CALLGRIND_ZERO_STATS).
type Part struct {
	// Number is the "part:" header, or the position in the file (from 1)
	// when the file has no part headers.
	Number int
	// Thread is the thread the part's costs belong to (callgrind's
	// numbering from 1) when the file was written with
	// --separate-threads=yes; 0 otherwise. A dump writes one part per
	// thread, all with the same Number.
	Thread int
	// Trigger is the reason callgrind dumped, from "desc: Trigger: ...",
	// e.g. "Client Request: bench::fib" or "Program termination".
	Trigger string
	// Events names the cost columns of Totals, Summary, Func.Self and
	// Call.Inclusive.
	Events []string
	// Totals are the part's "totals:" line; when the file has none they are
	// the sum of every function's self cost.
	Totals []int64
	// Summary is the "summary:" line (callgrind writes it; it may count a
	// few events not attributed to any function), nil if absent.
	Summary []int64
	// Funcs are the functions that have cost or calls in this part, in order
	// of first appearance. Call.Callee indexes this slice.
	Funcs []Func
}

// Func is one function (a symbol in an ELF object) within a part. Callgrind
// splits a function into several entries for separate contexts: recursion
// levels get a "'N" suffix (see DisplayName).
type Func struct {
	Object string
	Name   string
	// Self is the cost spent in the function's own instructions.
	Self []int64
	// Calls are the function's call sites merged per callee.
	Calls []Call
}

// Call is a call arc from a function to Callee.
type Call struct {
	// Callee indexes Part.Funcs.
	Callee int
	// Count is the number of calls made.
	Count int64
	// Inclusive is the callee's inclusive cost spent on behalf of this
	// caller.
	Inclusive []int64
}

// EventIndex returns the column of the named event, or -1.
func (p *Part) EventIndex(name string) int {
	for i, e := range p.Events {
		if e == name {
			return i
		}
	}
	return -1
}

// Total returns the part's total for the named event (0 if the event was
// not collected).
func (p *Part) Total(name string) int64 {
	if i := p.EventIndex(name); i >= 0 && i < len(p.Totals) {
		return p.Totals[i]
	}
	return 0
}

// ClientRequestPrefix starts the trigger of a dump made by a
// CALLGRIND_DUMP_STATS_AT client request; the rest is the request's string.
const ClientRequestPrefix = "Client Request: "

// DumpName returns the string a CALLGRIND_DUMP_STATS_AT(name) client request
// gave this dump, and false for dumps with other triggers.
func (p *Part) DumpName() (string, bool) {
	return strings.CutPrefix(p.Trigger, ClientRequestPrefix)
}

// DisplayName returns a function name without callgrind's recursion-level
// suffix ("fib'2" -> "fib"), for reports that merge the levels.
func DisplayName(name string) string {
	i := strings.LastIndexByte(name, '\'')
	if i <= 0 || i == len(name)-1 {
		return name
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return name
		}
	}
	return name[:i]
}

// SyntaxError reports malformed input with its position.
type SyntaxError struct {
	File string // may be empty
	Line int    // 1-based
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}
