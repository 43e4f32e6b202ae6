package gobench_test

import (
	"testing"

	"example.com/gobench"
)

// BenchmarkExternal lives in the external test package, in another file.
func BenchmarkExternal(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = gobench.Fib(10)
	}
}
