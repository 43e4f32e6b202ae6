// Package pidbench is a Go benchmark that records, in $PIDBENCH_FILE, the pid
// of every test binary that ran it, so that a test can tell the timed run's
// process from the profiling pass's.
package pidbench

import (
	"fmt"
	"os"
	"testing"
)

var sink uint64

func spin(n int) uint64 {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func BenchmarkSpin(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += spin(100000)
	}
}

func TestMain(m *testing.M) {
	if path := os.Getenv("PIDBENCH_FILE"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			panic(err)
		}
		fmt.Fprintln(f, os.Getpid())
		f.Close()
	}
	os.Exit(m.Run())
}
