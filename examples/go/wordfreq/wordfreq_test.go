package wordfreq

import (
	"fmt"
	"strings"
	"testing"
)

const sample = "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs."

func TestCount(t *testing.T) {
	c := Count(sample)
	if c["the"] != 4 || c["fox"] != 2 || c["dog"] != 2 || c["runs"] != 1 {
		t.Fatalf("counts: %v", c)
	}
	if got := Top(c, 3); strings.Join(got, ",") != "the,dog,fox" {
		t.Fatalf("top: %v", got)
	}
}

func BenchmarkCount(b *testing.B) {
	text := strings.Repeat(sample+" ", 50)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Count(text)
	}
}

func BenchmarkTop(b *testing.B) {
	for _, size := range []int{10, 1000} {
		b.Run(fmt.Sprintf("words=%d", size), func(b *testing.B) {
			counts := make(map[string]int, size)
			for i := 0; i < size; i++ {
				counts[fmt.Sprintf("w%d", i)] = i % 17
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Top(counts, 5)
			}
		})
	}
}
