// Package version is the runner's name and version: the one source that
// every place naming the runner reads (`codspeed version`, the results
// files' creator, the run record, upload metadata and User-Agent, JSON
// events). It imports nothing of this module, so every floor may use it.
//
// The version is set at link time by the Makefile and the Dockerfile (the
// images' org.opencontainers.image.version label is the same value):
//
//	go build -ldflags "-X github.com/codspeed-go/codspeed-go/version.version=v1.2.3" ./cmd/codspeed
//
// A plain `go build` inside a git checkout still names the commit, from the
// VCS information the Go toolchain embeds (unless -buildvcs=false; Go 1.24+
// turns it into a pseudo-version such as v0.0.0-20261204230524-18ab0486237f).
package version

import (
	"runtime/debug"
	"sync"
)

// Name is the runner's name, as it appears in results files ("creator"),
// upload metadata ("runner.name") and the User-Agent.
const Name = "codspeed-go"

// version is set with -ldflags "-X"; empty means "ask the build info".
var version string

var fromBuild = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return FromBuildInfo(bi)
})

// String is the runner's version: the value set at link time, otherwise
// what the build information says (the module version, or the VCS commit
// with "-dirty" for a modified tree), otherwise "dev".
func String() string {
	if version != "" {
		return version
	}
	if v := fromBuild(); v != "" {
		return v
	}
	return "dev"
}

// UserAgent is Name/String(), for HTTP requests.
func UserAgent() string { return Name + "/" + String() }

// FromBuildInfo derives a version from a binary's build information: a
// released module version when there is one, otherwise the first 12 digits
// of the commit it was built from (with "-dirty" when the tree had local
// changes); "" when neither is known.
func FromBuildInfo(bi *debug.BuildInfo) string {
	if bi == nil {
		return ""
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
