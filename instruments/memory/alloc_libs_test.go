package memory

import (
	"os"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// TestAllocatorLibraries runs programs linked against jemalloc and mimalloc
// (Debian's libjemalloc-dev, libmimalloc-dev), which replace malloc and add
// their own APIs. Two round counts cancel start-up allocations; what is left
// is exactly the programs' pattern.
func TestAllocatorLibraries(t *testing.T) {
	requireBPF(t)
	for _, tt := range []struct {
		name, src, header, lib       string
		allocs, frees, bytesPerRound float64
	}{
		{"jemalloc", "jemalloc_api.c", "/usr/include/jemalloc/jemalloc.h", "-ljemalloc", 4, 4, 100 + 200 + 50 + 60},
		{"mimalloc", "mimalloc_api.c", "/usr/include/mimalloc.h", "-lmimalloc", 4, 4, 100 + 300 + 100 + 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.header); err != nil {
				testenv.Missing(t, "%s not installed (apt-get install lib%s-dev)", tt.header, tt.name)
			}
			bin := build(t, tt.name, tt.src, tt.lib)
			for _, mode := range modes {
				t.Run(mode.name, func(t *testing.T) {
					lo := measure(t, mode.opts, bin, "100")
					hi := measure(t, mode.opts, bin, "300")
					if got := hi.Stats.AllocCalls - lo.Stats.AllocCalls; got != 200*tt.allocs {
						t.Errorf("alloc calls for 200 rounds = %v, want %v", got, 200*tt.allocs)
					}
					if got := hi.Stats.FreeCalls - lo.Stats.FreeCalls; got != 200*tt.frees {
						t.Errorf("free calls for 200 rounds = %v, want %v", got, 200*tt.frees)
					}
					if got := hi.Stats.TotalAllocatedBytes - lo.Stats.TotalAllocatedBytes; got != 200*tt.bytesPerRound {
						t.Errorf("bytes for 200 rounds = %v, want %v", got, 200*tt.bytesPerRound)
					}
				})
			}
		})
	}
}
