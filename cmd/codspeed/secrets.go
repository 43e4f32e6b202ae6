package main

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/codspeed-go/codspeed-go/internal/ci"
)

// protectSecrets makes this process undumpable when it holds a secret (an
// upload token, or a CI credential in its environment): /proc/<pid>/environ
// and /proc/<pid>/mem then belong to root and the process cannot be traced,
// so a benchmark running as the same user cannot read what was removed
// from its own environment. Children are dumpable again once they exec.
func protectSecrets(token string) error {
	_, removed := ci.WithoutCredentials(os.Environ())
	if token == "" && len(removed) == 0 {
		return nil
	}
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
