package version

import (
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, tt := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"nil", nil, ""},
		{"released module", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"devel without vcs", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, ""},
		{"clean checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "5e40334e8a12f00dbeefcafe0123456789abcdef"}, {Key: "vcs.modified", Value: "false"}}}, "5e40334e8a12"},
		{"modified checkout", &debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "5e40334e8a12f00d"}, {Key: "vcs.modified", Value: "true"}}}, "5e40334e8a12-dirty"},
	} {
		if got := FromBuildInfo(tt.bi); got != tt.want {
			t.Errorf("%s: FromBuildInfo = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLinkTimeValueWins(t *testing.T) {
	old := version
	defer func() { version = old }()
	version = "v9.9.9-test"
	if String() != "v9.9.9-test" || UserAgent() != "codspeed-go/v9.9.9-test" {
		t.Fatalf("String %q UserAgent %q", String(), UserAgent())
	}
	version = ""
	if String() == "" {
		t.Fatal("empty version")
	}
}

// TestBuildFilesLinkThisVariable: the Makefile sets the version with -X on
// this package's variable, and the Dockerfile builds with the Makefile,
// passing its VERSION argument; -X on a name that does not exist is
// silently ignored, so a rename here must break this test.
func TestBuildFilesLinkThisVariable(t *testing.T) {
	const want = "-X github.com/codspeed-go/codspeed-go/version.version="
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), want) {
		t.Errorf("the Makefile does not link the version with %q", want)
	}
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `make "bin/codspeed-linux-$arch" VERSION="$VERSION"`) {
		t.Error("the Dockerfile does not build the runner with make, passing its VERSION")
	}
	if !strings.Contains(string(b), `org.opencontainers.image.version="${VERSION}"`) {
		t.Error("the runner image does not carry its version as a label")
	}
}
