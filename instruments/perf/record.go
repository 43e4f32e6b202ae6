package perf

import ()

// Kind says what a Record holds.
type Kind uint8

const (
	// KindSample is one sample: Pid, Tid, Time, Period, Stack.
	KindSample Kind = iota + 1
	// KindMmap is an executable mapping: Pid, Start, Len, PgOff, Name (the
	// file, or "[vdso]", "//anon" for anonymous memory such as JIT code).
	KindMmap
	// KindComm is a process (re)naming: Pid, Name; Exec when caused by exec,
	// which also drops the process's previous mappings.
	KindComm
	// KindFork is a new process Pid, copy of Ppid.
	KindFork
	// KindExit is the end of process Pid.
	KindExit
	// KindBenchStart opens benchmark Name (its URI); KindBenchStop closes it.
	KindBenchStart
	KindBenchStop

	// Thread starts and exits, used while recording to tell when a
	// process's last thread exits; never in a Recording.
	kindThreadStart Kind = 100
	kindThreadExit  Kind = 101
)

// Record is one event of a Recording, in time order.
type Record struct {
	Kind      Kind
	Pid, Tid  uint32 // Tid is kept in raw files for samples only
	Ppid      uint32
	Time      uint64 // CLOCK_MONOTONIC, nanoseconds
	Period    uint64 // event units the sample stands for (ns for cpu-clock)
	Start     uint64
	Len       uint64
	PgOff     uint64
	Name      string
	Exec      bool
	Stack     []uint64 // instruction addresses, leaf first
	regs      []uint64 // DWARF mode, until unwound
	stackCopy []byte
}

// Recording is what a Session recorded: every process's mappings and
// names, and every sample with its call stack as addresses. It is
// self-contained apart from the mapped files themselves (and JIT maps), so
// it can be stored and symbolized later.
type Recording struct {
	Event     string
	Unwinding Unwinding
	Frequency int
	Lost      uint64 // samples the kernel dropped because a ring was full
	Records   []Record
	// Owners are the uids the launched processes ran as; JIT files in /tmp
	// owned by another user than these and root are not read (not kept in
	// raw files).
	Owners []uint32

	objs *objectCache // files opened while recording or unwinding
}

// Close releases the files the Session kept open for symbolization (the
// binaries of processes that may have been deleted since). The Recording
// still symbolizes afterwards, from the file system.
func (r *Recording) Close() {
	if r.objs != nil {
		r.objs.close()
		for _, o := range r.objs.objs {
			o.file = nil
		}
	}
}
