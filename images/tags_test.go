package images

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// publishedRef matches a reference to the project's published image.
var publishedRef = regexp.MustCompile(`ghcr\.io/codspeed-go/codspeed-go:([A-Za-z0-9._-]+)`)

// TestTemplatesPullPublishedTags: every image tag the shipped CI files and
// docs pull is one `make publish` makes (scripts/images.sh: TAG for the
// runner, TAG-go and TAG-c, and for TAG=latest: latest, go, c), and the
// release pipeline publishes latest with it.
func TestTemplatesPullPublishedTags(t *testing.T) {
	published := map[string]bool{"latest": true, "go": true, "c": true}
	var files []string
	for _, pat := range []string{"../action.yml", "../ci/*/*", "../docs/*.md", "../README.md", "../examples/*/*.yml", "../examples/*/*.yaml"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	refs := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range publishedRef.FindAllStringSubmatch(string(b), -1) {
			refs++
			if !published[m[1]] {
				t.Errorf("%s pulls %s, a tag make publish does not make", f, m[0])
			}
		}
	}
	if refs < 4 {
		t.Fatalf("found %d references to the published image in %v: the templates moved?", refs, files)
	}
	rel, err := os.ReadFile("../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"make publish IMAGE=ghcr.io/codspeed-go/codspeed-go TAG=latest", `make publish IMAGE=ghcr.io/codspeed-go/codspeed-go TAG="$GITHUB_REF_NAME"`} {
		if !strings.Contains(string(rel), want) {
			t.Errorf("release.yml does not run %q", want)
		}
	}
}
