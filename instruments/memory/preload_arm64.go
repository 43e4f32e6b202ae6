package memory

import _ "embed"

//go:embed preload/memtrack_preload_arm64.so
var preloadLibrary []byte
