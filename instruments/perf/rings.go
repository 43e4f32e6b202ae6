package perf

import (
	"cmp"
	"context"
	"encoding/binary"
	"os"
	"slices"
	"time"

	goperf "github.com/elastic/go-perf"
)

// pollInterval is how often the rings are read. No reader waits on the
// kernel: a wakeup per record of the side band measurably slowed a 40 ms
// benchmark (1% CPU, 2% wall time on the 2-core CI machine), while a timer
// costs the benchmark nothing. The rings hold far more than an interval of
// records (frame pointers: seconds; DWARF: a quarter of a second). The
// interval also bounds how soon a mapped file is opened after its process
// maps it: a binary deleted sooner than this (not `go test`'s, which lives
// as long as its benchmarks) is symbolized from the file system only.
const pollInterval = 20 * time.Millisecond

// processLag is how far behind the time of a drain records are processed:
// a record with an earlier timestamp may still be on its way to a ring on
// another CPU.
const processLag = uint64(2 * time.Millisecond)

// poll drains every ring each pollInterval and processes, in time order,
// the records old enough that no earlier one can still arrive; when the
// session stops it drains and processes everything.
func (s *Session) poll() {
	defer close(s.polled)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var raw goperf.RawRecord
	for {
		stop := false
		select {
		case <-s.ctx.Done():
			stop = true
		case <-t.C:
		}
		horizon := monotonicNow()
		for i, ev := range s.events {
			for ev.HasRecord() {
				if err := ev.ReadRawRecord(context.Background(), &raw); err != nil {
					break
				}
				s.keep(i, ev, &raw)
			}
		}
		s.mu.Lock()
		s.pending = append(s.pending, s.marks...)
		s.marks = s.marks[:0]
		s.mu.Unlock()
		if stop {
			s.process(^uint64(0))
			return
		}
		s.process(horizon - processLag)
	}
}

// process moves the pending records older than limit, in time order, to
// the processed ones, replaying side-band records and unwinding DWARF
// samples on the way.
func (s *Session) process(limit uint64) {
	slices.SortStableFunc(s.pending, byTime)
	n, _ := slices.BinarySearchFunc(s.pending, limit, func(r Record, limit uint64) int {
		if r.Time < limit {
			return -1
		}
		return 1
	})
	for i := range s.pending[:n] {
		r := &s.pending[i]
		switch r.Kind {
		case kindThreadStart:
			if _, ok := s.threads[r.Pid]; ok {
				s.threads[r.Pid]++
			}
			continue
		case kindThreadExit:
			left, ok := s.threads[r.Pid]
			if !ok {
				continue // a process not seen forked (the runner's own)
			}
			if left > 1 {
				s.threads[r.Pid] = left - 1
				continue
			}
			delete(s.threads, r.Pid)
			r.Kind = KindExit
		case KindFork:
			s.threads[r.Pid] = 1
		}
		if r.Kind == KindSample {
			unwindSample(s.spaces, r)
		} else {
			s.spaces.apply(r)
		}
		s.done = append(s.done, *r)
	}
	rest := copy(s.pending, s.pending[n:])
	clear(s.pending[rest:])
	s.pending = s.pending[:rest]
}

func byTime(a, b Record) int { return cmp.Compare(a.Time, b.Time) }

// perfContextMax is PERF_CONTEXT_MAX: callchain entries at or above it are
// context markers (user, kernel), not addresses.
const perfContextMax = ^uint64(4095 - 1)

// trailerTime is the time of a side-band record's sample_id trailer. With
// the sample format used here (TID, TIME) the trailer is pid, tid, time, so
// the time is the record's last 8 bytes. go-perf misplaces the trailer after
// the padded file name of mmap records, so it is read here.
func trailerTime(raw *goperf.RawRecord) uint64 {
	if len(raw.Data) < 16 {
		return 0
	}
	return binary.LittleEndian.Uint64(raw.Data[len(raw.Data)-8:])
}

func (s *Session) keep(i int, ev *goperf.Event, raw *goperf.RawRecord) {
	var r Record
	switch raw.Header.Type {
	case goperf.RecordTypeSample:
		var rec goperf.SampleRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		r = Record{Kind: KindSample, Pid: rec.Pid, Tid: rec.Tid, Time: rec.Time, Period: rec.Period}
		if s.cfg.Unwinding == DWARF {
			r.regs = slices.Clone(rec.UserRegisters)
			n := min(uint64(len(rec.UserStack)), rec.UserStackDynamicSize)
			r.stackCopy = slices.Clone(rec.UserStack[:n])
			r.Stack = []uint64{rec.IP}
		} else {
			r.Stack = make([]uint64, 0, len(rec.Callchain))
			for _, ip := range rec.Callchain {
				if ip < perfContextMax {
					r.Stack = append(r.Stack, ip)
				}
			}
			if len(r.Stack) == 0 {
				r.Stack = append(r.Stack, rec.IP)
			}
		}
	case goperf.RecordTypeMmap2:
		var rec goperf.Mmap2Record
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		s.pin(rec.Filename)
		r = Record{Kind: KindMmap, Pid: rec.Pid, Tid: rec.Tid, Time: trailerTime(raw),
			Start: rec.Addr, Len: rec.Len, PgOff: rec.PageOffset, Name: rec.Filename}
	case goperf.RecordTypeMmap:
		var rec goperf.MmapRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		r = Record{Kind: KindMmap, Pid: rec.Pid, Tid: rec.Tid, Time: trailerTime(raw),
			Start: rec.Addr, Len: rec.Len, PgOff: rec.PageOffset, Name: rec.Filename}
	case goperf.RecordTypeComm:
		var rec goperf.CommRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		r = Record{Kind: KindComm, Pid: rec.Pid, Tid: rec.Tid, Time: trailerTime(raw), Name: rec.NewName, Exec: rec.WasExec()}
	case goperf.RecordTypeFork:
		var rec goperf.ForkRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		if rec.Pid == rec.Ppid {
			// A new thread shares its process's address space; it is
			// only counted (see process).
			r = Record{Kind: kindThreadStart, Pid: rec.Pid, Time: rec.Time}
			break
		}
		r = Record{Kind: KindFork, Pid: rec.Pid, Ppid: rec.Ppid, Time: rec.Time}
	case goperf.RecordTypeExit:
		var rec goperf.ExitRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		// Every thread's exit; process turns the last one into the
		// process's KindExit.
		r = Record{Kind: kindThreadExit, Pid: rec.Pid, Time: rec.Time}
	case goperf.RecordTypeLost:
		var rec goperf.LostRecord
		if err := rec.DecodeFrom(raw, ev); err != nil {
			return
		}
		s.lost.Add(rec.Lost)
		return
	default:
		return
	}
	s.pending = append(s.pending, r)
}

// pin opens a mapped file while its process still runs (the poller calls
// it, at most once per file).
func (s *Session) pin(path string) {
	if !fileBacked(path) {
		return
	}
	if _, ok := s.objs.pinned[path]; ok {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		f = nil
	}
	s.objs.pinned[path] = f
}
