package client

import "runtime"

// Valgrind client request codes. RUNNING_ON_VALGRIND is 0x1001 in
// valgrind.h; callgrind's requests start at VG_USERREQ_TOOL_BASE('C','T') =
// 'C'<<24 | 'T'<<16 and count up in callgrind.h's enum order.
const (
	reqRunningOnValgrind = 0x1001

	callgrindBase           = 'C'<<24 | 'T'<<16 // 0x43540000
	reqDumpStats            = callgrindBase + 0
	reqZeroStats            = callgrindBase + 1
	reqToggleCollect        = callgrindBase + 2
	reqDumpStatsAt          = callgrindBase + 3
	reqStartInstrumentation = callgrindBase + 4
	reqStopInstrumentation  = callgrindBase + 5
)

// request issues a valgrind client request. Outside valgrind the magic
// sequence is a handful of register rotations that change nothing, and the
// result is def.
func request(def uintptr, code uintptr, a1, a2, a3, a4, a5 uintptr) uintptr {
	args := [6]uintptr{code, a1, a2, a3, a4, a5}
	return clientRequest(&args, def)
}

// RunningOnValgrind reports how many valgrinds the program runs under: 0
// natively, 1 under valgrind.
func RunningOnValgrind() uintptr {
	return request(0, reqRunningOnValgrind, 0, 0, 0, 0, 0)
}

// ZeroStats resets callgrind's event counters (CALLGRIND_ZERO_STATS).
func ZeroStats() uintptr { return request(0, reqZeroStats, 0, 0, 0, 0, 0) }

// StartInstrumentation switches callgrind's instrumentation on
// (CALLGRIND_START_INSTRUMENTATION); CodSpeed runs callgrind with
// --instr-atstart=no, so nothing is counted before this.
func StartInstrumentation() uintptr { return request(0, reqStartInstrumentation, 0, 0, 0, 0, 0) }

// StopInstrumentation switches it off again (CALLGRIND_STOP_INSTRUMENTATION).
func StopInstrumentation() uintptr { return request(0, reqStopInstrumentation, 0, 0, 0, 0, 0) }

// DumpStats writes the counters gathered so far to a new dump file
// (CALLGRIND_DUMP_STATS).
func DumpStats() uintptr { return request(0, reqDumpStats, 0, 0, 0, 0, 0) }

// DumpStatsAt writes a dump whose description ("desc: Trigger: Client
// Request: <pos>") is pos; CodSpeed names benchmarks this way
// (CALLGRIND_DUMP_STATS_AT). pos is copied into a NUL-terminated buffer
// that stays alive for the call.
func DumpStatsAt(pos string) uintptr {
	buf := make([]byte, len(pos)+1)
	copy(buf, pos)
	r := request(0, reqDumpStatsAt, uintptrOf(&buf[0]), 0, 0, 0, 0)
	runtime.KeepAlive(buf)
	return r
}
