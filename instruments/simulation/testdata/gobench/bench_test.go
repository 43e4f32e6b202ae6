package gobench

import (
	"fmt"
	"slices"
	"testing"
)

var sink int

func BenchmarkFib20(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink += Fib(20)
	}
}

// BenchmarkKnown calls a function of 10000 ADDQ + RET per iteration: with
// the loop's own few instructions, about 10006 instructions per op.
func BenchmarkKnown(b *testing.B) {
	for i := 0; i < b.N; i++ {
		add10000()
	}
}

func BenchmarkSort(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for _, kind := range []string{"reversed", "sorted"} {
				b.Run(kind, func(b *testing.B) {
					v := make([]int, n)
					for i := 0; i < b.N; i++ {
						for j := range v {
							if kind == "reversed" {
								v[j] = n - j
							} else {
								v[j] = j
							}
						}
						slices.Sort(v)
					}
				})
			}
		})
	}
}

func BenchmarkLoopAlloc(b *testing.B) {
	for b.Loop() {
		s := make([]byte, 64)
		sink += len(fmt.Appendf(s[:0], "item %d", 12345))
	}
}
