// Package gobench holds Go benchmarks that the simulation instrument's tests
// measure: ordinary ones, sub-benchmarks, b.Loop, and one whose cost per
// iteration is known by construction (add10000, in assembly).
package gobench

// add10000 executes exactly 10000 ADDQ instructions and RET (known_amd64.s).
func add10000()

// Fib is the naive recursive Fibonacci function.
func Fib(n int) int {
	if n < 2 {
		return n
	}
	return Fib(n-1) + Fib(n-2)
}
