#!/bin/sh
# build-images.sh: build the codspeed-go images from binaries `make build-linux` cross-compiled
# (bin/codspeed-linux-amd64, bin/codspeed-linux-arm64). This is what `make images` runs.
#
#   codspeed-go:latest   the runner (root Dockerfile), for the engine's own architecture
#   codspeed-go:go       the runner plus the host's Go toolchain (images/go/Dockerfile)
#   codspeed-go:latest-<other arch>   the runner for the other architecture (arm64 on amd64): with
#                        buildx, docker buildx build --platform; without it (Debian's docker.io), the
#                        classic builder FROM a base image of that architecture that
#                        scripts/docker-engine.sh makes offline (debootstrap under qemu-user), the
#                        build's RUN steps running under qemu-user too
#
# No registry is needed: the base image is the one scripts/docker-engine.sh imports, and the Go
# toolchain is staged from the host (`go env GOROOT`) into images/go/go.
set -eu
cd "$(dirname "$0")/.."
tag=${CODSPEED_IMAGE_TAG:-codspeed-go}
# The version the binaries were linked with (the Makefile passes its VERSION): it becomes the images'
# org.opencontainers.image.version label, and the binary a BUILDER with Go compiles gets it too.
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
arch=$(docker version --format '{{.Server.Arch}}')

[ -f "bin/codspeed-linux-$arch" ] || { echo "build-images: bin/codspeed-linux-$arch missing (make build-linux)" >&2; exit 1; }
docker build --build-arg VERSION="$version" -t "$tag:latest" .

if docker buildx version >/dev/null 2>&1; then
	for a in amd64 arm64; do
		[ "$a" = "$arch" ] && continue
		[ -f "bin/codspeed-linux-$a" ] || { echo "build-images: bin/codspeed-linux-$a missing" >&2; exit 1; }
		docker buildx build --build-arg VERSION="$version" --platform "linux/$a" --load -t "$tag:latest-$a" .
	done
else
	base=${CODSPEED_BASE_IMAGE:-debian:bookworm-slim}
	for a in amd64 arm64; do
		[ "$a" = "$arch" ] && continue
		[ -f "bin/codspeed-linux-$a" ] || { echo "build-images: bin/codspeed-linux-$a missing" >&2; exit 1; }
		scripts/docker-engine.sh base "$a"
		docker build --build-arg VERSION="$version" --build-arg BASE="$base-$a" --build-arg BUILDER="$base-$a" -t "$tag:latest-$a" .
	done
fi

goroot=$(go env GOROOT)
rm -rf images/go/go
mkdir -p images/go/go
# The toolchain without its own test suite: what `go build` and `go test` need.
tar -C "$goroot" --exclude=./test --exclude='*/testdata' -cf - . | tar -C images/go/go -xf -
docker build --build-arg RUNNER="$tag:latest" -t "$tag:go" images/go
rm -rf images/go/go
