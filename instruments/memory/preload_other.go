//go:build !amd64 && !arm64

package memory

// No interposer is built for this architecture: every allocator is probed
// with eBPF.
var preloadLibrary []byte
