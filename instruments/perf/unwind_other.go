//go:build !amd64

package perf

// DWARF unwinding of sampled stacks is implemented for x86-64 only; other
// architectures use frame pointers.
const (
	userRegsMask = 0
	regBP        = 0
	regSP        = 0
	regIP        = 0
	dwarfArch    = false
)
