package main

import (
	"fmt"

	"github.com/codspeed-go/codspeed-go/sandbox"
)

// storeVolumeWarning returns a warning when this runner is in a container
// and the results store is on the container's own file system, where
// `docker run --rm` throws the results away (docs/docker.md).
func storeVolumeWarning(root string) string {
	in, _ := sandbox.InContainer()
	if !in {
		return ""
	}
	onRoot, err := sandbox.OnContainerRoot(root)
	if err != nil || !onRoot {
		return ""
	}
	return fmt.Sprintf("results go to %s, inside the container, and vanish with it: mount a volume there (e.g. `-v codspeed-runs:%s`) or set CODSPEED_STORE to a folder on a mounted volume (e.g. CODSPEED_STORE=/src/.codspeed/runs with -v \"$PWD:/src\")", root, root)
}
