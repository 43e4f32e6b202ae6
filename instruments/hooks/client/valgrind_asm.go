//go:build amd64 || arm64

package client

import "unsafe"

// clientRequest runs valgrind's magic instruction sequence with args (six
// words: request code and five arguments) and returns the answer, or def
// when not running under valgrind. Implemented in valgrind_$GOARCH.s.
//
//go:noescape
func clientRequest(args *[6]uintptr, def uintptr) uintptr

func uintptrOf(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }
