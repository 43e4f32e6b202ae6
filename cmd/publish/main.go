// Command publish pushes one image per platform, each saved by `docker
// save`, to a registry as one OCI image index under one or more tags. `make
// publish` runs it (scripts/images.sh); it is a release tool, not part of the
// runner.
//
//	publish -t REGISTRY/REPO:TAG [-t ...] linux/amd64=amd64.tar linux/arm64=arm64.tar
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/codspeed-go/codspeed-go/internal/publish"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"
)

func main() {
	fs := pflag.NewFlagSet("publish", pflag.ContinueOnError)
	refs := fs.StringArrayP("tag", "t", nil, "`REGISTRY/REPO:TAG` to push the index to (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: publish -t REGISTRY/REPO:TAG [-t ...] OS/ARCH=IMAGE.tar ...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if len(*refs) == 0 || fs.NArg() == 0 {
		fs.Usage()
		os.Exit(2)
	}
	var tags []name.Tag
	for _, r := range *refs {
		t, err := publish.ParseReference(r)
		if err != nil {
			fmt.Fprintf(os.Stderr, "publish: %s: %v\n", r, err)
			os.Exit(2)
		}
		tags = append(tags, t)
	}
	var images []publish.Image
	for _, a := range fs.Args() {
		p, path, ok := strings.Cut(a, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "publish: %q is not OS/ARCH=IMAGE.tar\n", a)
			os.Exit(2)
		}
		im, err := publish.FromTarball(p, path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "publish:", err)
			os.Exit(1)
		}
		images = append(images, im)
	}
	d, err := publish.Push(context.Background(), tags, images)
	if err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
	for _, t := range tags {
		fmt.Printf("%s@%s\n", t, d)
	}
}
