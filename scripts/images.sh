#!/bin/sh
# images.sh: build the codspeed-go images, and publish them. The Makefile's image, images and publish
# targets run it.
#
#   scripts/images.sh image              the engine's own platform: codspeed-go:latest (the runner),
#                                        codspeed-go:go (plus the Go toolchain), codspeed-go:c (plus make,
#                                        gcc/g++, cmake, git, curl)
#   scripts/images.sh images             both platforms: the same, and the other platform's as
#                                        codspeed-go:latest-ARCH, :go-ARCH, :c-ARCH (arm64 on an amd64 host)
#   scripts/images.sh publish REPO TAG   both platforms, then every variant pushed as one OCI image index
#                                        (linux/amd64 + linux/arm64): REPO:TAG, REPO:TAG-go, REPO:TAG-c; with
#                                        TAG=latest: REPO:latest, REPO:go, REPO:c. Credentials: docker login.
#
# Environment: VERSION and REVISION (the Makefile passes git's), VARIANTS (default "runner go c"),
# CODSPEED_IMAGE_TAG (the local name, default codspeed-go).
#
# What it changes on this host, said before it does it:
#   - starts dockerd if no engine answers, and makes debian:bookworm-slim and golang:1.26-bookworm
#     locally if the engine lacks them (scripts/docker-engine.sh; its cache is /var/cache/codspeed-go);
#   - for the other platform (images, publish): installs qemu-user-static, registers its binfmt_misc
#     handler (the build's RUN steps run under it), and caches that platform's base system (about
#     300 MB) and Go toolchain.
#
# Every image is built by the classic builder from binaries this host compiled (make build-linux,
# PREBUILT=1): no registry, no buildx and no emulated compiler. The Dockerfile builds the same image
# without them, from source: docker build . (BuildKit or classic).
set -eu
cd "$(dirname "$0")/.."

name=${CODSPEED_IMAGE_TAG:-codspeed-go}
variants=${VARIANTS:-runner go c}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
revision=${REVISION:-$(git rev-parse HEAD 2>/dev/null || true)}
base=${CODSPEED_BASE_IMAGE:-debian:bookworm-slim}
goimage=${CODSPEED_GO_IMAGE:-golang:1.26-bookworm}
export DOCKER_BUILDKIT=0

log() { echo "images: $*" >&2; }

# dbuild ARGS...: docker build, its output shown only when it fails (the classic builder's
# deprecation notice every time is noise: it is chosen here on purpose, see above).
dbuild() {
	out=$(mktemp)
	if ! docker build "$@" >"$out" 2>&1; then
		grep -v -e 'legacy builder is deprecated' -e 'BuildKit is currently disabled' -e 'environment-variable\.' "$out" | tail -n 30 >&2
		rm -f "$out"
		log "docker build $* failed"
		exit 1
	fi
	rm -f "$out"
}

# tag_of VARIANT ARCH: the local tag of VARIANT for ARCH.
tag_of() {
	t=$1
	[ "$t" = runner ] && t=latest
	if [ "$2" = "$host" ]; then echo "$name:$t"; else echo "$name:$t-$2"; fi
}

# build ARCH: every variant for ARCH.
build() {
	a=$1
	make -s "bin/codspeed-linux-$a" VERSION="$version"
	if [ "$a" = "$host" ]; then
		b=$base
		g=$goimage
	else
		scripts/docker-engine.sh base "$a"
		scripts/docker-engine.sh goimage "$a"
		b=$base-$a
		g=$goimage-$a
	fi
	runner=$(tag_of runner "$a")
	log "building $runner (linux/$a, $version)"
	dbuild --build-arg PREBUILT=1 --build-arg TARGETARCH="$a" --build-arg BASE="$b" \
		--build-arg VERSION="$version" --build-arg REVISION="$revision" -t "$runner" .
	for v in $variants; do
		case "$v" in
		runner) ;;
		go)
			log "building $(tag_of go "$a")"
			dbuild --build-arg RUNNER="$runner" --build-arg GO_IMAGE="$g" -t "$(tag_of go "$a")" images/go
			;;
		c)
			log "building $(tag_of c "$a")"
			dbuild --build-arg RUNNER="$runner" -t "$(tag_of c "$a")" images/c
			;;
		*)
			log "unknown variant $v (runner, go, c)"
			exit 2
			;;
		esac
	done
	# The classic builder keeps each build's first stage as an untagged image (over 1 GB): not kept.
	docker image prune -f --filter label=org.codspeed-go.stage=build >/dev/null
}

say_host_changes() {
	log "this installs qemu-user-static and registers its binfmt_misc handler for linux/$1 (the $1 images' RUN steps run under it), and caches the $1 base system and Go toolchain under ${CODSPEED_CACHE_DIR:-/var/cache/codspeed-go}"
}

scripts/docker-engine.sh start
host=$(docker version --format '{{.Server.Arch}}')
case "$host" in
amd64) other=arm64 ;;
arm64) other=amd64 ;;
*)
	log "the engine's architecture $host is not amd64 or arm64"
	exit 1
	;;
esac

case "${1:-}" in
image)
	build "$host"
	;;
images)
	say_host_changes "$other"
	build "$host"
	build "$other"
	;;
publish)
	[ $# -eq 3 ] || { echo "usage: $0 publish REPO TAG" >&2; exit 2; }
	repo=$2
	tag=$3
	say_host_changes "$other"
	build "$host"
	build "$other"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	go build -o "$work/publish" ./cmd/publish
	for v in $variants; do
		if [ "$v" = runner ]; then
			ref=$repo:$tag
		elif [ "$tag" = latest ]; then
			ref=$repo:$v
		else
			ref=$repo:$tag-$v
		fi
		for a in amd64 arm64; do
			docker save -o "$work/$a.tar" "$(tag_of "$v" "$a")"
		done
		log "pushing $ref (linux/amd64, linux/arm64)"
		"$work/publish" -t "$ref" linux/amd64="$work/amd64.tar" linux/arm64="$work/arm64.tar"
		rm -f "$work/amd64.tar" "$work/arm64.tar"
	done
	;;
*)
	echo "usage: $0 image|images|publish REPO TAG" >&2
	exit 2
	;;
esac
