package perfmap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// The jitdump format, as tools/perf/Documentation/jitdump-specification.txt
// in the Linux sources describes it: a file header, then records, each with
// a 16-byte prefix (id, total size, timestamp). Integers are in the writer's
// byte order, which the magic number tells.
const (
	jitMagic      = 0x4A695444 // "JiTD" read in the writer's byte order
	jitHeaderSize = 40         // magic, version, total_size, elf_mach, pad1, pid: u32; timestamp, flags: u64
	jitPrefixSize = 16         // id, total_size: u32; timestamp: u64

	// Record ids.
	jitCodeLoad      = 0
	jitCodeMove      = 1
	jitCodeDebugInfo = 2
	jitCodeClose     = 3
	jitCodeUnwinding = 4

	// jitFlagArchTimestamp: timestamps are the CPU's cycle counter, not
	// CLOCK_MONOTONIC.
	jitFlagArchTimestamp = 1

	jitLoadFixed = 40 // pid, tid: u32; vma, code_addr, code_size, code_index: u64
	jitMoveFixed = 48 // pid, tid: u32; vma, old_code_addr, new_code_addr, code_size, code_index: u64

	// maxJITRecord bounds a record's declared size (a code load carries the
	// machine code, rarely more than a few hundred KiB) and maxJITName a
	// function name, so that a corrupt size cannot make the reader allocate
	// or skip gigabytes.
	maxJITRecord = 1 << 30
	maxJITName   = 1 << 16
)

// JITDump is what ReadJITDump understood of a jitdump.
type JITDump struct {
	// Pid is the writing process, ElfMach its ELF machine (62 for x86-64).
	Pid     uint32
	ElfMach uint32
	// Monotonic says the records' times are CLOCK_MONOTONIC nanoseconds
	// (false when the header's JITDUMP_FLAGS_ARCH_TIMESTAMP says they count
	// CPU cycles; the symbols then have time 0).
	Monotonic bool
	// Symbols are the code loads and moves, in file order; Time is the
	// record's time when Monotonic.
	Symbols []Symbol
	// Records counts the records read, by id (ids above 4 under 5).
	Records [6]int
}

// JITDumpError is a malformed jitdump: Offset is where in the file the
// header or record that could not be read starts.
type JITDumpError struct {
	File   string // may be empty
	Offset int64
	Msg    string
}

func (e *JITDumpError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Msg)
	}
	return fmt.Sprintf("jitdump offset %d: %s", e.Offset, e.Msg)
}

// ReadJITDump reads a jitdump from r, keeping code loads (JIT_CODE_LOAD:
// the function's name, address and size) and moves (JIT_CODE_MOVE: the code
// of an earlier load, by code index, at a new address); debug information,
// unwinding information and close records are skipped. A runtime that is
// killed leaves its last record cut short, so an error comes with every
// symbol read before it: the *JITDump is nil only when the header itself is
// unreadable. Errors are *JITDumpError, or the reader's.
func ReadJITDump(r io.Reader) (*JITDump, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [jitHeaderSize]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, &JITDumpError{Msg: "file header cut short: " + err.Error()}
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(hdr[0:]) == jitMagic:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[0:]) == jitMagic:
		bo = binary.BigEndian
	default:
		return nil, &JITDumpError{Msg: fmt.Sprintf("magic %#08x is not a jitdump's (\"JiTD\")", binary.LittleEndian.Uint32(hdr[0:]))}
	}
	if v := bo.Uint32(hdr[4:]); v != 1 {
		return nil, &JITDumpError{Msg: fmt.Sprintf("jitdump version %d; only version 1 is known", v)}
	}
	d := &JITDump{
		ElfMach:   bo.Uint32(hdr[12:]),
		Pid:       bo.Uint32(hdr[20:]),
		Monotonic: bo.Uint64(hdr[32:])&jitFlagArchTimestamp == 0,
	}
	off := int64(jitHeaderSize)
	if size := bo.Uint32(hdr[8:]); size > jitHeaderSize {
		// A newer header with more fields: skip them.
		if size > maxJITRecord {
			return nil, &JITDumpError{Msg: fmt.Sprintf("header size %d is implausible", size)}
		}
		n, err := br.Discard(int(size - jitHeaderSize))
		off += int64(n)
		if err != nil {
			return nil, &JITDumpError{Offset: off, Msg: "file header cut short: " + err.Error()}
		}
	}
	// Code moves name their code by index; remember each index's name.
	names := map[uint64]string{}
	var body []byte
	for {
		var pre [jitPrefixSize]byte
		n, err := io.ReadFull(br, pre[:])
		if err == io.EOF {
			return d, nil
		}
		if err != nil {
			return d, &JITDumpError{Offset: off, Msg: fmt.Sprintf("record cut short after %d bytes of its prefix", n)}
		}
		id, size, ts := bo.Uint32(pre[0:]), bo.Uint32(pre[4:]), bo.Uint64(pre[8:])
		if size < jitPrefixSize || size > maxJITRecord {
			return d, &JITDumpError{Offset: off, Msg: fmt.Sprintf("record %d has size %d", id, size)}
		}
		d.Records[min(id, 5)]++
		if !d.Monotonic {
			ts = 0
		}
		rest := int(size - jitPrefixSize)
		var fixed int
		switch id {
		case jitCodeLoad:
			fixed = jitLoadFixed
		case jitCodeMove:
			fixed = jitMoveFixed
		}
		if fixed > 0 {
			if rest < fixed {
				return d, &JITDumpError{Offset: off, Msg: fmt.Sprintf("record %d of size %d is shorter than its fields", id, size)}
			}
			// Read the fixed fields and, for a load, as much of the name
			// as there can be; the machine code is skipped.
			want := min(rest, fixed+maxJITName)
			if cap(body) < want {
				body = make([]byte, want)
			}
			body = body[:want]
			if _, err := io.ReadFull(br, body); err != nil {
				return d, &JITDumpError{Offset: off, Msg: fmt.Sprintf("record %d cut short: %v", id, err)}
			}
			if id == jitCodeLoad {
				vma, size, index := bo.Uint64(body[8:]), bo.Uint64(body[24:]), bo.Uint64(body[32:])
				name := body[fixed:]
				end := bytes.IndexByte(name, 0)
				if end < 0 {
					return d, &JITDumpError{Offset: off, Msg: "code load's function name is not terminated"}
				}
				if vma+size < vma {
					return d, &JITDumpError{Offset: off, Msg: fmt.Sprintf("code load at %#x of size %#x wraps around", vma, size)}
				}
				s := Symbol{Start: vma, Size: size, Name: string(name[:end]), Time: ts}
				if s.Name == "" {
					s.Name = "[unknown]"
				}
				names[index] = s.Name
				d.Symbols = append(d.Symbols, s)
			} else {
				// vma is where the code runs, as for a load (new_code_addr
				// is the same unless the runtime maps its code twice).
				newAddr, size, index := bo.Uint64(body[8:]), bo.Uint64(body[32:]), bo.Uint64(body[40:])
				name, ok := names[index]
				if !ok {
					name = "[unknown]"
				}
				if newAddr+size >= newAddr {
					d.Symbols = append(d.Symbols, Symbol{Start: newAddr, Size: size, Name: name, Time: ts})
				}
			}
			rest -= want
		}
		if rest > 0 {
			if _, err := br.Discard(rest); err != nil {
				return d, &JITDumpError{Offset: off, Msg: fmt.Sprintf("record %d cut short: %v", id, err)}
			}
		}
		off += int64(size)
	}
}
