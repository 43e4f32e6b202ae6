package perf

import (
	"slices"
	"testing"
)

// TestKeepLaunchedFollowsPIDsFromForkToExit: records of a PID before the
// launch that reused it, and after the exit of a descendant whose PID a
// process of the runner's own then got, are dropped; a launched process with
// no recorded fork is kept whole; marks always stay.
func TestKeepLaunchedFollowsPIDsFromForkToExit(t *testing.T) {
	const runner = 10
	all := []Record{
		{Kind: KindFork, Pid: 100, Ppid: runner, Time: 1}, // the runner's own child (go list, say)
		{Kind: KindSample, Pid: 100, Time: 2},
		{Kind: KindFork, Pid: 300, Ppid: runner, Time: 2}, // another own child, PID later launched
		{Kind: KindExit, Pid: 100, Time: 3},
		{Kind: KindExit, Pid: 300, Time: 3},
		{Kind: KindBenchStart, Name: "b", Time: 4},
		{Kind: KindFork, Pid: 100, Ppid: runner, Time: 5}, // the launch, PID 100 again
		{Kind: KindSample, Pid: 100, Time: 6},
		{Kind: KindFork, Pid: 101, Ppid: 100, Time: 7}, // its child
		{Kind: KindSample, Pid: 101, Time: 8},
		{Kind: KindExit, Pid: 101, Time: 9},
		{Kind: KindExit, Pid: 100, Time: 10},
		{Kind: KindFork, Pid: 101, Ppid: runner, Time: 11}, // PID 101 reused outside the tree
		{Kind: KindSample, Pid: 101, Time: 12},
		{Kind: KindSample, Pid: 200, Time: 13}, // launched, fork not recorded
		{Kind: KindSample, Pid: 300, Time: 13}, // launched, fork not recorded, PID used before
		{Kind: KindBenchStop, Time: 14},
		{Kind: KindFork, Pid: 100, Ppid: runner, Time: 20}, // the second launch of PID 100
		{Kind: KindSample, Pid: 100, Time: 21},
	}
	got := keepLaunched(slices.Clone(all), []launch{{pid: 100, after: 4}, {pid: 200, after: 4}, {pid: 300, after: 4}, {pid: 100, after: 19}})
	var times []uint64
	for _, r := range got {
		times = append(times, r.Time)
	}
	if want := []uint64{4, 5, 6, 7, 8, 9, 10, 13, 13, 14, 20, 21}; !slices.Equal(times, want) {
		t.Errorf("kept records at times %v, want %v", times, want)
	}
}

// TestLateMarkPutBackInPlace: a benchmark mark handed to the poller late
// (after records with later times were processed) still opens its region
// before them.
func TestLateMarkPutBackInPlace(t *testing.T) {
	done := []Record{
		{Kind: KindFork, Pid: 100, Ppid: 10, Time: 1},
		{Kind: KindSample, Pid: 100, Time: 5},
		{Kind: KindSample, Pid: 100, Time: 6},
		{Kind: KindBenchStart, Name: "late", Time: 4}, // processed after the samples
		{Kind: KindBenchStop, Time: 7},
	}
	got := finalRecords(done, []launch{{pid: 100, after: 0}})
	var kinds []Kind
	for _, r := range got {
		kinds = append(kinds, r.Kind)
	}
	if want := []Kind{KindFork, KindBenchStart, KindSample, KindSample, KindBenchStop}; !slices.Equal(kinds, want) {
		t.Errorf("kinds in order %v, want %v", kinds, want)
	}
}

// TestProcessEndsWithLastThread: the leader's exit does not end a process
// whose other threads go on; the last thread's exit does, once, and its
// address space is forgotten then.
func TestProcessEndsWithLastThread(t *testing.T) {
	s := &Session{spaces: newSpaces(newObjectCache()), threads: map[uint32]int{}}
	s.pending = []Record{
		{Kind: KindFork, Pid: 5, Ppid: 1, Time: 1},
		{Kind: KindMmap, Pid: 5, Start: 0x1000, Len: 0x1000, Name: "//anon", Time: 2},
		{Kind: kindThreadStart, Pid: 5, Time: 3},
		{Kind: kindThreadExit, Pid: 5, Time: 4}, // the leader (main called pthread_exit)
		{Kind: KindSample, Pid: 5, Time: 5},
		{Kind: kindThreadExit, Pid: 7, Time: 6}, // a process never seen forked: ignored
		{Kind: kindThreadExit, Pid: 5, Time: 7}, // the last thread
	}
	s.process(6)
	if _, ok := s.spaces.procs[5]; !ok {
		t.Fatal("address space forgotten at the leader's exit, before the other thread's samples")
	}
	s.process(^uint64(0))
	var kinds []Kind
	for _, r := range s.done {
		kinds = append(kinds, r.Kind)
	}
	if want := []Kind{KindFork, KindMmap, KindSample, KindExit}; !slices.Equal(kinds, want) {
		t.Errorf("processed kinds %v, want %v (thread records consumed, one process exit)", kinds, want)
	}
	if _, ok := s.spaces.procs[5]; ok || len(s.threads) != 0 {
		t.Errorf("after the last thread: space kept %v, threads %v", ok, s.threads)
	}
}
