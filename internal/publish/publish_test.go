package publish

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// savedImage writes a random image whose configuration says arch, as
// `docker save` would (a Docker manifest), and returns the file and image.
func savedImage(t *testing.T, arch string) (string, v1.Image) {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Labels = map[string]string{"org.opencontainers.image.version": "v1.2.3"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), arch+".tar")
	tag, _ := name.NewTag("codspeed-go:" + arch)
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
	return path, img
}

func TestPushIndex(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	amdPath, amd := savedImage(t, "amd64")
	armPath, arm := savedImage(t, "arm64")
	var images []Image
	for p, path := range map[string]string{"linux/amd64": amdPath, "linux/arm64": armPath} {
		im, err := FromTarball(p, path)
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, im)
	}
	var tags []name.Tag
	for _, r := range []string{host + "/codspeed-go:v1.2.3", host + "/codspeed-go:latest"} {
		tg, err := ParseReference(r)
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tg)
	}
	d, err := Push(context.Background(), tags, images)
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]v1.Image{"amd64": amd, "arm64": arm}
	for _, tg := range tags {
		idx, err := remote.Index(tg)
		if err != nil {
			t.Fatalf("%s: %v", tg, err)
		}
		if got, _ := idx.Digest(); got != d {
			t.Errorf("%s: digest %s, pushed %s", tg, got, d)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if im.MediaType != types.OCIImageIndex {
			t.Errorf("%s: media type %s, want an OCI image index", tg, im.MediaType)
		}
		if len(im.Manifests) != 2 {
			t.Fatalf("%s: %d manifests, want 2", tg, len(im.Manifests))
		}
		for _, desc := range im.Manifests {
			if desc.Platform == nil || desc.Platform.OS != "linux" || want[desc.Platform.Architecture] == nil {
				t.Fatalf("%s: manifest %s for platform %+v", tg, desc.Digest, desc.Platform)
			}
			if desc.MediaType != types.OCIManifestSchema1 {
				t.Errorf("%s: manifest media type %s", desc.Platform.Architecture, desc.MediaType)
			}
			child, err := idx.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := child.ConfigFile()
			orig, _ := want[desc.Platform.Architecture].ConfigFile()
			if !reflect.DeepEqual(got, orig) {
				t.Errorf("%s: configuration changed:\n got %+v\nwant %+v", desc.Platform.Architecture, got, orig)
			}
			m, _ := child.Manifest()
			if m.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("%s: config media type %s", desc.Platform.Architecture, m.Config.MediaType)
			}
			for _, l := range m.Layers {
				if l.MediaType != types.OCILayer {
					t.Errorf("%s: layer media type %s", desc.Platform.Architecture, l.MediaType)
				}
			}
			// The layers' content is what was saved: same uncompressed digests.
			gl, _ := child.Layers()
			ol, _ := want[desc.Platform.Architecture].Layers()
			if len(gl) != len(ol) {
				t.Fatalf("%d layers, want %d", len(gl), len(ol))
			}
			for i := range gl {
				g, _ := gl[i].DiffID()
				o, _ := ol[i].DiffID()
				if g != o {
					t.Errorf("%s layer %d: diff ID %s, want %s", desc.Platform.Architecture, i, g, o)
				}
			}
		}
	}
}

func TestFromTarballChecksPlatform(t *testing.T) {
	path, _ := savedImage(t, "amd64")
	if _, err := FromTarball("linux/arm64", path); err == nil || !strings.Contains(err.Error(), "amd64 image, not linux/arm64") {
		t.Fatalf("an amd64 image given as linux/arm64: %v", err)
	}
	if _, err := FromTarball("linux/amd64", filepath.Join(t.TempDir(), "none.tar")); err == nil {
		t.Fatal("a missing archive was accepted")
	}
	if _, err := Index(nil); err == nil {
		t.Fatal("an empty index was accepted")
	}
	im, err := FromTarball("linux/amd64", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Index([]Image{im, im}); err == nil || !strings.Contains(err.Error(), "two images for linux/amd64") {
		t.Fatalf("two images for one platform: %v", err)
	}
}

func TestParseReferenceLoopbackOnlyInsecure(t *testing.T) {
	for ref, scheme := range map[string]string{
		"127.0.0.1:5000/codspeed-go:v1": "http",
		"localhost:5000/codspeed-go:v1": "http",
		"[::1]:5000/codspeed-go:v1":     "http",
		"ghcr.io/codspeed-go/x:v1":      "https",
	} {
		tg, err := ParseReference(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if got := tg.Scheme(); got != scheme {
			t.Errorf("%s: scheme %s, want %s", ref, got, scheme)
		}
	}
	if _, err := ParseReference("Not A Reference"); err == nil {
		t.Error("a malformed reference was accepted")
	}
}
