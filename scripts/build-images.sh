#!/bin/sh
# build-images.sh: build the codspeed-go images from binaries `make build-linux` cross-compiled
# (bin/codspeed-linux-amd64, bin/codspeed-linux-arm64). This is what `make images` runs.
#
#   codspeed-go:latest   the runner (root Dockerfile), for the engine's own architecture
#   codspeed-go:go       the runner plus the host's Go toolchain (images/go/Dockerfile)
#   linux/arm64          with buildx only (docker buildx build --platform linux/arm64); engines
#                        without buildx (Debian's docker.io) get a message instead
#
# No registry is needed: the base image is the one scripts/docker-engine.sh imports, and the Go
# toolchain is staged from the host (`go env GOROOT`) into images/go/go.
set -eu
cd "$(dirname "$0")/.."
tag=${CODSPEED_IMAGE_TAG:-codspeed-go}
arch=$(docker version --format '{{.Server.Arch}}')

[ -f "bin/codspeed-linux-$arch" ] || { echo "build-images: bin/codspeed-linux-$arch missing (make build-linux)" >&2; exit 1; }
docker build -t "$tag:latest" .

if docker buildx version >/dev/null 2>&1; then
	for a in amd64 arm64; do
		[ "$a" = "$arch" ] && continue
		[ -f "bin/codspeed-linux-$a" ] || { echo "build-images: bin/codspeed-linux-$a missing" >&2; exit 1; }
		docker buildx build --platform "linux/$a" --load -t "$tag:latest-$a" .
	done
else
	echo "build-images: no docker buildx here; built only linux/$arch (the arm64 binary is in bin/)" >&2
fi

goroot=$(go env GOROOT)
rm -rf images/go/go
mkdir -p images/go/go
# The toolchain without its own test suite: what `go build` and `go test` need.
tar -C "$goroot" --exclude=./test --exclude='*/testdata' -cf - . | tar -C images/go/go -xf -
docker build --build-arg RUNNER="$tag:latest" -t "$tag:go" images/go
rm -rf images/go/go
