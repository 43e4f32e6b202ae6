//go:build !unix

package upload

import (
	"errors"
	"os"
)

func lockFile(*os.File) error {
	return errors.New("file locking is only implemented on unix systems")
}

func unlockFile(*os.File) {}
