package memory

import (
	"embed"
	"runtime"
)

// The LD_PRELOAD counter is compiled from preload/memtrack_preload.c by
// `make preload` (part of `make build`) and embedded here when present. A
// plain `go build` without it still works: every allocator is then probed
// with eBPF, exactly but more slowly, and Measure says so.
//
//go:embed preload
var preloadDir embed.FS

var preloadLibrary, _ = preloadDir.ReadFile("preload/memtrack_preload_" + runtime.GOARCH + ".so")
