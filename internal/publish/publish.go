// Package publish pushes the images of one tag, one per platform, to a
// registry under that tag as a single OCI image index: what `make publish`
// does with the runner images the engine built (saved by `docker save`).
//
// Each platform's image is rewritten with OCI media types (manifest, config
// and layers; the content is unchanged) and pushed by digest only, so the
// registry holds one tag per name, the index, and no per-platform tags.
package publish

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image is one platform's image.
type Image struct {
	Platform v1.Platform
	Image    v1.Image
}

// FromTarball reads the single image of a `docker save` archive for the
// platform p ("linux/amd64"), and checks that its configuration says that
// platform: an arm64 tag built from an amd64 base would otherwise be
// published as arm64.
func FromTarball(p, path string) (Image, error) {
	plat, err := v1.ParsePlatform(p)
	if err != nil {
		return Image{}, fmt.Errorf("platform %q: %w", p, err)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return Image{}, fmt.Errorf("%s: %w", path, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Image{}, fmt.Errorf("%s: %w", path, err)
	}
	if cf.OS != plat.OS || cf.Architecture != plat.Architecture {
		return Image{}, fmt.Errorf("%s is a %s/%s image, not %s", path, cf.OS, cf.Architecture, p)
	}
	if plat.Variant == "" {
		plat.Variant = cf.Variant
	}
	return Image{Platform: *plat, Image: img}, nil
}

// OCI returns img with OCI media types: the same layers and configuration
// under an OCI manifest.
func OCI(img v1.Image) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		adds[i] = mutate.Addendum{Layer: l, MediaType: types.OCILayer}
	}
	out, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	// The configuration as it was (history, diff IDs and all): Append
	// added history entries of its own.
	return mutate.ConfigFile(out, cf.DeepCopy())
}

// Index builds the OCI image index of images.
func Index(images []Image) (v1.ImageIndex, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("no images to index")
	}
	seen := map[string]bool{}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, im := range images {
		if seen[im.Platform.String()] {
			return nil, fmt.Errorf("two images for %s", im.Platform.String())
		}
		seen[im.Platform.String()] = true
		oci, err := OCI(im.Image)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", im.Platform.String(), err)
		}
		p := im.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: oci, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx, nil
}

// ParseReference parses a tag reference; a registry on a loopback address
// is spoken to over plain HTTP (a local registry, as in the tests), every
// other one over HTTPS.
func ParseReference(ref string) (name.Tag, error) {
	t, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, err
	}
	if loopback(t.RegistryStr()) {
		return name.NewTag(ref, name.Insecure)
	}
	return t, nil
}

func loopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Push writes the index of images under every tag in tags, with the
// credentials `docker login` stored (~/.docker/config.json), and returns
// its digest.
func Push(ctx context.Context, tags []name.Tag, images []Image, opts ...remote.Option) (v1.Hash, error) {
	idx, err := Index(images)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	for i, t := range tags {
		if i == 0 {
			err = remote.WriteIndex(t, idx, opts...)
		} else {
			// The blobs and manifests are there: only the tag is new.
			err = remote.Tag(t, idx, opts...)
		}
		if err != nil {
			return v1.Hash{}, fmt.Errorf("push %s: %w", t, err)
		}
	}
	return d, nil
}
