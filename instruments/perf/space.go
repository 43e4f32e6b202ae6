package perf

import (
	"cmp"
	"slices"
)

// mapping is one executable mapping of a process.
type mapping struct {
	start, end, pgoff uint64
	name              string
	obj               *object // nil unless file-backed
}

type process struct {
	comm string
	maps []mapping // sorted by start, not overlapping
}

// find returns the mapping containing ip.
func (p *process) find(ip uint64) *mapping {
	i, found := slices.BinarySearchFunc(p.maps, ip, func(m mapping, ip uint64) int { return cmp.Compare(m.start, ip) })
	if !found {
		i--
	}
	if i < 0 || ip >= p.maps[i].end {
		return nil
	}
	return &p.maps[i]
}

// add maps m over whatever it overlaps, as mmap(2) does.
func (p *process) add(m mapping) {
	out := p.maps[:0:0]
	for _, old := range p.maps {
		if old.end <= m.start || old.start >= m.end {
			out = append(out, old)
			continue
		}
		if old.start < m.start {
			left := old
			left.end = m.start
			out = append(out, left)
		}
		if old.end > m.end {
			right := old
			right.pgoff += m.end - old.start
			right.start = m.end
			out = append(out, right)
		}
	}
	out = append(out, m)
	slices.SortFunc(out, func(a, b mapping) int { return cmp.Compare(a.start, b.start) })
	p.maps = out
}

// spaces replays mmap, comm, fork and exit records to know, at each sample,
// what every process had mapped.
type spaces struct {
	procs map[uint32]*process
	objs  *objectCache
}

func newSpaces(objs *objectCache) *spaces {
	return &spaces{procs: map[uint32]*process{}, objs: objs}
}

func (s *spaces) proc(pid uint32) *process {
	p := s.procs[pid]
	if p == nil {
		p = &process{}
		s.procs[pid] = p
	}
	return p
}

func (s *spaces) apply(r *Record) {
	switch r.Kind {
	case KindMmap:
		if r.Len == 0 || r.Start+r.Len < r.Start {
			return
		}
		m := mapping{start: r.Start, end: r.Start + r.Len, pgoff: r.PgOff, name: r.Name}
		if fileBacked(r.Name) {
			m.obj = s.objs.get(r.Name)
		}
		s.proc(r.Pid).add(m)
	case KindComm:
		p := s.proc(r.Pid)
		if r.Exec {
			p.maps = nil
		}
		p.comm = r.Name
	case KindFork:
		parent := s.procs[r.Ppid]
		child := &process{}
		if parent != nil {
			child.comm = parent.comm
			child.maps = slices.Clone(parent.maps)
		}
		s.procs[r.Pid] = child
	case KindExit:
		// The process's last thread exited (the session counts them):
		// no sample of it can follow.
		delete(s.procs, r.Pid)
	}
}
