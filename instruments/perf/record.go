package perf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

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

// The raw sample file ("samples.cspf") is this package's own compact format,
// not perf.data. All integers are unsigned LEB128 varints ("u") or zigzag
// varints ("s"), strings are a u length then bytes:
//
//	file    = "CSPERF1\n" event:str unwinding:str frequency:u lost:u record*
//	record  = kind:byte body
//	sample  = pid:u tid:u dtime:s period:u n:u ip0:u (ip[i]-ip[i-1]):s ...
//	mmap    = pid:u dtime:s start:u len:u pgoff:u name:str
//	comm    = pid:u dtime:s exec:byte name:str
//	fork    = pid:u ppid:u dtime:s
//	exit    = pid:u dtime:s
//	bstart  = dtime:s uri:str
//	bstop   = dtime:s
//
// dtime is the difference to the previous record's time; stacks are leaf
// first, each address stored as a difference to the previous one because
// neighbouring frames are usually in the same object. A frame-pointer sample
// takes 15-40 bytes where perf.data takes about 80.
const rawMagic = "CSPERF1\n"

// Limits on what a raw file may declare, so a corrupt file cannot make the
// reader allocate without bound.
const (
	maxFrames    = 4096
	maxStringLen = 1 << 16
)

// WriteRaw writes r in the raw sample file format.
func (r *Recording) WriteRaw(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	buf = append(buf, rawMagic...)
	buf = appendString(buf, r.Event)
	buf = appendString(buf, string(r.Unwinding))
	buf = binary.AppendUvarint(buf, uint64(max(r.Frequency, 0)))
	buf = binary.AppendUvarint(buf, r.Lost)
	var prev uint64
	for i := range r.Records {
		rec := &r.Records[i]
		buf = append(buf, byte(rec.Kind))
		dt := int64(rec.Time - prev)
		prev = rec.Time
		switch rec.Kind {
		case KindSample:
			buf = binary.AppendUvarint(buf, uint64(rec.Pid))
			buf = binary.AppendUvarint(buf, uint64(rec.Tid))
			buf = binary.AppendVarint(buf, dt)
			buf = binary.AppendUvarint(buf, rec.Period)
			buf = binary.AppendUvarint(buf, uint64(len(rec.Stack)))
			var last uint64
			for j, ip := range rec.Stack {
				if j == 0 {
					buf = binary.AppendUvarint(buf, ip)
				} else {
					buf = binary.AppendVarint(buf, int64(ip-last))
				}
				last = ip
			}
		case KindMmap:
			buf = binary.AppendUvarint(buf, uint64(rec.Pid))
			buf = binary.AppendVarint(buf, dt)
			buf = binary.AppendUvarint(buf, rec.Start)
			buf = binary.AppendUvarint(buf, rec.Len)
			buf = binary.AppendUvarint(buf, rec.PgOff)
			buf = appendString(buf, rec.Name)
		case KindComm:
			buf = binary.AppendUvarint(buf, uint64(rec.Pid))
			buf = binary.AppendVarint(buf, dt)
			if rec.Exec {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
			}
			buf = appendString(buf, rec.Name)
		case KindFork:
			buf = binary.AppendUvarint(buf, uint64(rec.Pid))
			buf = binary.AppendUvarint(buf, uint64(rec.Ppid))
			buf = binary.AppendVarint(buf, dt)
		case KindExit:
			buf = binary.AppendUvarint(buf, uint64(rec.Pid))
			buf = binary.AppendVarint(buf, dt)
		case KindBenchStart:
			buf = binary.AppendVarint(buf, dt)
			buf = appendString(buf, rec.Name)
		case KindBenchStop:
			buf = binary.AppendVarint(buf, dt)
		default:
			return fmt.Errorf("perf: write raw samples: record %d has unknown kind %d", i, rec.Kind)
		}
		if len(buf) > 32<<10 {
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	return bw.Flush()
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// FormatError is a malformed raw sample file; Offset is the byte where the
// bad value starts.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("perf raw samples: offset %d: %s", e.Offset, e.Msg)
}

// rawReader decodes the raw format, counting its offset for errors.
type rawReader struct {
	r   *bufio.Reader
	off int64
}

func (d *rawReader) ReadByte() (byte, error) {
	b, err := d.r.ReadByte()
	if err == nil {
		d.off++
	}
	return b, err
}

func (d *rawReader) fail(at int64, format string, args ...any) error {
	return &FormatError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (d *rawReader) uvarint(what string) (uint64, error) {
	at := d.off
	v, err := binary.ReadUvarint(d)
	if err != nil {
		return 0, d.fail(at, "%s: %v", what, eofIsUnexpected(err))
	}
	return v, nil
}

func (d *rawReader) varint(what string) (int64, error) {
	at := d.off
	v, err := binary.ReadVarint(d)
	if err != nil {
		return 0, d.fail(at, "%s: %v", what, eofIsUnexpected(err))
	}
	return v, nil
}

func (d *rawReader) u32(what string) (uint32, error) {
	at := d.off
	v, err := d.uvarint(what)
	if err == nil && v > 1<<32-1 {
		return 0, d.fail(at, "%s %d does not fit 32 bits", what, v)
	}
	return uint32(v), err
}

func (d *rawReader) str(what string) (string, error) {
	at := d.off
	n, err := d.uvarint(what + " length")
	if err != nil {
		return "", err
	}
	if n > maxStringLen {
		return "", d.fail(at, "%s length %d exceeds %d", what, n, maxStringLen)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return "", d.fail(d.off, "%s: %v", what, eofIsUnexpected(err))
	}
	d.off += int64(n)
	return string(b), nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadRaw reads a raw sample file written by WriteRaw. Errors are
// *FormatError for malformed input, or the reader's own errors.
func ReadRaw(r io.Reader) (*Recording, error) {
	d := &rawReader{r: bufio.NewReaderSize(r, 64<<10)}
	magic := make([]byte, len(rawMagic))
	if _, err := io.ReadFull(d.r, magic); err != nil || string(magic) != rawMagic {
		return nil, d.fail(0, "not a codspeed raw sample file (no %q header)", rawMagic[:7])
	}
	d.off = int64(len(rawMagic))
	rec := &Recording{}
	var err error
	if rec.Event, err = d.str("event"); err != nil {
		return nil, err
	}
	unw, err := d.str("unwinding")
	if err != nil {
		return nil, err
	}
	rec.Unwinding = Unwinding(unw)
	freq, err := d.u32("frequency")
	if err != nil {
		return nil, err
	}
	rec.Frequency = int(freq)
	if rec.Lost, err = d.uvarint("lost"); err != nil {
		return nil, err
	}
	var t uint64
	for {
		at := d.off
		k, err := d.ReadByte()
		if err == io.EOF {
			return rec, nil
		}
		if err != nil {
			return nil, err
		}
		r := Record{Kind: Kind(k)}
		if err := d.body(&r, &t); err != nil {
			return nil, err
		}
		if r.Kind < KindSample || r.Kind > KindBenchStop {
			return nil, d.fail(at, "unknown record kind %d", k)
		}
		rec.Records = append(rec.Records, r)
	}
}

func (d *rawReader) body(r *Record, t *uint64) error {
	var err error
	dtime := func() error {
		dt, err := d.varint("time")
		*t += uint64(dt)
		r.Time = *t
		return err
	}
	switch r.Kind {
	case KindSample:
		if r.Pid, err = d.u32("pid"); err != nil {
			return err
		}
		if r.Tid, err = d.u32("tid"); err != nil {
			return err
		}
		if err = dtime(); err != nil {
			return err
		}
		if r.Period, err = d.uvarint("period"); err != nil {
			return err
		}
		at := d.off
		n, err := d.uvarint("stack depth")
		if err != nil {
			return err
		}
		if n > maxFrames {
			return d.fail(at, "stack depth %d exceeds %d", n, maxFrames)
		}
		r.Stack = make([]uint64, n)
		for i := range r.Stack {
			if i == 0 {
				if r.Stack[0], err = d.uvarint("address"); err != nil {
					return err
				}
				continue
			}
			delta, err := d.varint("address")
			if err != nil {
				return err
			}
			r.Stack[i] = r.Stack[i-1] + uint64(delta)
		}
	case KindMmap:
		if r.Pid, err = d.u32("pid"); err != nil {
			return err
		}
		if err = dtime(); err != nil {
			return err
		}
		if r.Start, err = d.uvarint("start"); err != nil {
			return err
		}
		if r.Len, err = d.uvarint("length"); err != nil {
			return err
		}
		if r.PgOff, err = d.uvarint("page offset"); err != nil {
			return err
		}
		r.Name, err = d.str("file name")
	case KindComm:
		if r.Pid, err = d.u32("pid"); err != nil {
			return err
		}
		if err = dtime(); err != nil {
			return err
		}
		at := d.off
		b, err := d.ReadByte()
		if err != nil {
			return d.fail(at, "exec flag: %v", eofIsUnexpected(err))
		}
		if b > 1 {
			return d.fail(at, "exec flag %d is not 0 or 1", b)
		}
		r.Exec = b == 1
		r.Name, err = d.str("command name")
		return err
	case KindFork:
		if r.Pid, err = d.u32("pid"); err != nil {
			return err
		}
		if r.Ppid, err = d.u32("parent pid"); err != nil {
			return err
		}
		err = dtime()
	case KindExit:
		if r.Pid, err = d.u32("pid"); err != nil {
			return err
		}
		err = dtime()
	case KindBenchStart:
		if err = dtime(); err != nil {
			return err
		}
		r.Name, err = d.str("benchmark URI")
	case KindBenchStop:
		err = dtime()
	}
	return err
}
