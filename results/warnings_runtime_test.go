package results

import (
	"strings"
	"testing"
)

// A benchmark with no allocator call: static linking is suggested only
// when no managed runtime ran; under one, its heap is named.
func TestMemoryWarningRuntime(t *testing.T) {
	plain := Benchmark{Name: "b", Memory: &MemoryStats{}}
	if ws := Warnings(Memory, plain); len(ws) != 1 || !strings.Contains(ws[0], "statically linked") {
		t.Errorf("native benchmark: %q", ws)
	}
	for rt, heap := range map[string]string{"v8": "V8's", "jvm": "JVM's", "pymalloc": "PYTHONMALLOC=malloc"} {
		b := Benchmark{Name: "b", Memory: &MemoryStats{Runtime: rt}}
		ws := Warnings(Memory, b)
		if len(ws) != 1 || strings.Contains(ws[0], "statically") || !strings.Contains(ws[0], heap) {
			t.Errorf("%s: %q", rt, ws)
		}
	}
	if ws := Warnings(Memory, Benchmark{Name: "b", Memory: &MemoryStats{AllocCalls: 3, Runtime: "v8"}}); len(ws) != 0 {
		t.Errorf("with allocations: %q", ws)
	}
}
