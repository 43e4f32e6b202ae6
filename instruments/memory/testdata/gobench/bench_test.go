package gobench

import (
	"strconv"
	"strings"
	"testing"
)

var sink any

// BenchmarkMixed allocates a known mix per op: a map, a slice grown by
// append, a string built with a Builder, a boxed value and a closure.
func BenchmarkMixed(b *testing.B) {
	for i := 0; i < b.N; i++ {
		m := make(map[int]string, 8)
		var s []int
		for j := 0; j < 20; j++ {
			s = append(s, j)
		}
		var sb strings.Builder
		for j := 0; j < 5; j++ {
			// Past 99, Itoa allocates every time (smaller values come
			// from a static table), so every op allocates the same.
			sb.WriteString(strconv.Itoa(i + j + 1000))
		}
		m[i] = sb.String()
		sink = m
		sink = s
		sink = &struct{ a, b int64 }{int64(i), 2}
	}
}

var bufSink []byte

// BenchmarkKnown allocates exactly n blocks of 4096 bytes per op (4096 is
// a size class, so -benchmem's B/op is exact too). The sink is typed: a
// slice stored in an interface would allocate its header as well.
func BenchmarkKnown(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run("allocs="+strconv.Itoa(n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for j := 0; j < n; j++ {
					bufSink = make([]byte, 4096)
				}
			}
		})
	}
}
