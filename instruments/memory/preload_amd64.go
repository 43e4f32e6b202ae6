package memory

import _ "embed"

//go:embed preload/memtrack_preload_amd64.so
var preloadLibrary []byte
