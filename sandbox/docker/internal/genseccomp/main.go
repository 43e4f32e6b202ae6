// Command genseccomp writes the seccomp profile of benchmark containers
// (see package perfseccomp) to a file. The file is committed because the same
// JSON is what compose.yaml and the README hand to
// `docker run --security-opt seccomp=...`; a test checks it still equals what
// the pinned moby/profiles version generates.
//
// Usage: go run ./internal/genseccomp OUTPUT.json
package main

import (
	"fmt"
	"os"

	"github.com/codspeed-go/codspeed-go/sandbox/docker/internal/perfseccomp"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genseccomp OUTPUT.json")
		os.Exit(2)
	}
	b, err := perfseccomp.Generate()
	if err == nil {
		err = os.WriteFile(os.Args[1], b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genseccomp:", err)
		os.Exit(1)
	}
}
