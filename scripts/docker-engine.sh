#!/bin/sh
# docker-engine.sh: make a Docker engine and the offline base image available on a bare CI host.
#
#   scripts/docker-engine.sh [start]   install docker.io if missing, start dockerd if no engine answers,
#                                      and make the two images the root Dockerfile starts FROM when the
#                                      engine lacks them: debian:bookworm-slim and golang:1.26-bookworm
#   scripts/docker-engine.sh base ARCH make the base image for another architecture (arm64 on an amd64
#                                      host), tagged debian:bookworm-slim-ARCH: debootstrap runs its
#                                      second stage under qemu-user (binfmt_misc, registered here)
#   scripts/docker-engine.sh goimage ARCH  the Go toolchain for another architecture on its base image,
#                                      tagged golang:1.26-bookworm-ARCH (for that platform's :go image)
#   scripts/docker-engine.sh stop      stop the dockerd this script started (no-op otherwise)
#   scripts/docker-engine.sh status    exit 0 when an engine answers
#
# Why: no container registry is reachable from the CI machines, so the base image every Dockerfile in this
# repository starts FROM is made with debootstrap and `docker import`, and the Go image the runner is
# compiled in is that base plus the host's Go toolchain, its CA certificates (the module proxy is reached
# through them) and Debian's compilers (gcc for the allocation counter, the cross compiler for the other
# architecture's). The root filesystem tarball is cached
# under $CODSPEED_CACHE_DIR (default /var/cache/codspeed-go) so only the first run pays the ~90 s debootstrap.
# Every step is idempotent: an engine that already runs, or an image that already exists, is left alone.
#
# Environment:
#   CODSPEED_CACHE_DIR   cache directory (default /var/cache/codspeed-go)
#   CODSPEED_BASE_IMAGE  tag of the imported base image (default debian:bookworm-slim)
#   CODSPEED_GO_IMAGE    tag of the Go image made from the host's toolchain (default golang:1.26-bookworm)
#   CODSPEED_DEB_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   DOCKER_HOST          respected; when it points away from the local socket, nothing is started
set -eu

cache_dir=${CODSPEED_CACHE_DIR:-/var/cache/codspeed-go}
base_image=${CODSPEED_BASE_IMAGE:-debian:bookworm-slim}
go_image=${CODSPEED_GO_IMAGE:-golang:1.26-bookworm}
mirror=${CODSPEED_DEB_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=valgrind,linux-perf,ca-certificates,git
pidfile=/run/codspeed-dockerd.pid
logfile=/var/log/codspeed-dockerd.log
host_arch=$(dpkg --print-architecture)
rootfs_name() { echo "$cache_dir/$suite-minbase-$(echo "$packages" | tr ',' '-')-$1.tar"; }
rootfs_tar=$(rootfs_name "$host_arch")

log() { echo "docker-engine: $*" >&2; }

engine_answers() { docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		log "must run as root to $1"
		exit 1
	fi
}

install_engine() {
	if command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; then
		return
	fi
	need_root "install docker.io"
	log "installing docker.io"
	DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io >/dev/null; }
}

start_engine() {
	if engine_answers; then
		log "engine answers (API $(docker version --format '{{.Server.APIVersion}}'))"
		return
	fi
	if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != unix:///var/run/docker.sock ]; then
		log "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local engine for a remote host"
		exit 1
	fi
	need_root "start dockerd"
	log "starting dockerd (log: $logfile)"
	# setsid: the engine outlives this script but not `stop`; its pid is recorded for that.
	setsid dockerd >"$logfile" 2>&1 </dev/null &
	echo $! >"$pidfile"
	i=0
	while ! engine_answers; do
		i=$((i + 1))
		if [ "$i" -gt 60 ]; then
			log "dockerd did not answer within 30 s; last log lines:"
			tail -n 20 "$logfile" >&2
			exit 1
		fi
		if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			log "dockerd exited; last log lines:"
			tail -n 20 "$logfile" >&2
			exit 1
		fi
		sleep 0.5
	done
	log "engine started (API $(docker version --format '{{.Server.APIVersion}}'))"
}

# base_current IMAGE: the image exists and is either one this script made with today's package
# list (its label says which: one made before a package was added is made again, or every image
# build would install the package itself) or one from elsewhere (a registry's), which is kept.
base_current() {
	have=$(docker image inspect -f '{{index .Config.Labels "org.codspeed-go.base-packages"}}' "$1" 2>/dev/null) || return 1
	case "$have" in
	"$packages" | "" | "<no value>") return 0 ;;
	esac
	log "base image $1 was made with packages '$have', now '$packages': making it again"
	docker rmi -f "$1" >/dev/null 2>&1 || true
	return 1
}

# pulled IMAGE: a registry answers and has IMAGE (then pulled), for hosts that reach one.
pulled() {
	docker pull -q "$1" >/dev/null 2>&1 && log "pulled $1"
}

make_base_image() {
	if base_current "$base_image"; then
		log "base image $base_image present"
		return
	fi
	pulled "$base_image" && return
	make_rootfs "$host_arch" "$rootfs_tar"
	log "importing $rootfs_tar as $base_image"
	docker import --change 'CMD ["/bin/bash"]' --change "LABEL org.codspeed-go.base-packages=$packages" "$rootfs_tar" "$base_image" >/dev/null
}

# make_rootfs ARCH TAR: debootstrap the base system of ARCH into the tarball TAR (cached).
make_rootfs() {
	[ -s "$2" ] && return
	need_root "debootstrap"
	command -v debootstrap >/dev/null 2>&1 ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null
	mkdir -p "$cache_dir"
	dir=$(mktemp -d "$cache_dir/rootfs.XXXXXX")
	log "debootstrap $suite/$1 ($packages) into $dir (about 90 s natively, 150 s under qemu, the first time)"
	if ! debootstrap --arch="$1" --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" >"$dir.log" 2>&1; then
		log "debootstrap failed; last log lines:"
		tail -n 20 "$dir.log" >&2
		rm -rf "$dir"
		exit 1
	fi
	# Smaller image: apt lists and caches are not needed at run time.
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
	tar -C "$dir" --numeric-owner -cf "$2.tmp" .
	mv "$2.tmp" "$2"
	rm -rf "$dir" "$dir.log"
}

# qemu_binfmt ARCH: let the kernel run ARCH programs through Debian's qemu-user-static, with the
# F flag (the interpreter is opened now, so it works inside chroots and containers too).
qemu_binfmt() {
	case "$1" in
	arm64) q=aarch64 ;;
	amd64) q=x86_64 ;;
	*) q=$1 ;;
	esac
	conf=/usr/lib/binfmt.d/qemu-$q.conf
	[ -f "$conf" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user-static >/dev/null
	[ -f "$conf" ] || { log "no $conf (qemu-user-static) to run $1 programs"; exit 1; }
	[ -f /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
	[ -f "/proc/sys/fs/binfmt_misc/qemu-$q" ] || cat "$conf" >/proc/sys/fs/binfmt_misc/register
}

# make_foreign_base ARCH: the base image for ARCH, tagged $base_image-ARCH. `docker import
# --platform` is ignored by engines without experimental features, so the image is loaded from an
# image archive written here, whose config says the architecture.
make_foreign_base() {
	tag=$base_image-$1
	if base_current "$tag"; then
		log "base image $tag present"
		return
	fi
	need_root "make a $1 base image"
	[ "$1" = "$host_arch" ] || qemu_binfmt "$1"
	tar=$(rootfs_name "$1")
	make_rootfs "$1" "$tar"
	work=$(mktemp -d)
	ln -s "$tar" "$work/layer.tar"
	diff=$(sha256sum "$tar" | cut -d' ' -f1)
	printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/bash"],"Labels":{"org.codspeed-go.base-packages":"%s"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"debootstrap --arch=%s --variant=minbase %s"}]}' \
		"$1" "$packages" "$diff" "$1" "$suite" >"$work/config.json"
	cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
	mv "$work/config.json" "$work/$cfg.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfg" "$tag" >"$work/manifest.json"
	log "loading $tar as $tag"
	tar -C "$work" -chf - manifest.json "$cfg.json" layer.tar | docker load >/dev/null
	rm -rf "$work"
}

# stage_toolchain GOROOT DIR: copy a Go toolchain without its own test suite (what `go build` needs)
# into DIR, writable, its programs executable (a module zip, as the proxy serves toolchains, keeps
# no file modes).
stage_toolchain() {
	mkdir "$2"
	tar -C "$1" --exclude=./test --exclude='*/testdata' -cf - . | tar -C "$2" -xf -
	chmod -R u+w "$2"
	find "$2/bin" "$2/pkg/tool" -type f -exec chmod 0755 {} +
}

# build_context TAG DIR: build DIR's Dockerfile with the classic builder as TAG, its output shown
# only if it fails; DIR is removed.
build_context() {
	if ! DOCKER_BUILDKIT=0 docker build -q -t "$1" "$2" >"$2.log" 2>&1; then
		log "building $1 failed:"
		tail -n 20 "$2.log" >&2
		rm -rf "$2" "$2.log"
		exit 1
	fi
	rm -rf "$2" "$2.log"
}

# make_go_image: the Go image ($go_image) from the base image, the host's Go toolchain and CA
# certificates, and Debian's gcc and cross compiler; made again when the host's Go or the list changes.
make_go_image() {
	have=$(docker image inspect -f '{{index .Config.Labels "org.codspeed-go.go-image"}}' "$go_image" 2>/dev/null) || have=missing
	case "$have" in
	"" | "<no value>")
		log "Go image $go_image present"
		return
		;;
	esac
	if [ "$have" = missing ] && pulled "$go_image"; then return; fi
	command -v go >/dev/null 2>&1 || { log "no go on PATH: the $go_image image is made from the host's Go toolchain"; exit 1; }
	gover=$(go env GOVERSION)
	want=${go_image#golang:}
	want=${want%%-*}
	case "$gover" in
	go"$want" | go"$want".*) ;;
	*)
		log "the host's Go is $gover, not the $want that $go_image names: install Go $want or pull the image"
		exit 1
		;;
	esac
	case "$host_arch" in
	amd64) cross="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
	arm64) cross="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;;
	*) cross= ;;
	esac
	stamp="$gover gcc libc6-dev make $cross"
	if [ "$have" = "$stamp" ]; then
		log "Go image $go_image present"
		return
	fi
	if [ "$have" != missing ]; then
		log "Go image $go_image was made from '$have', now '$stamp': making it again"
		docker rmi -f "$go_image" >/dev/null 2>&1 || true
	fi
	ctx=$(mktemp -d)
	log "making $go_image from $base_image and the host's $gover (about a minute)"
	stage_toolchain "$(go env GOROOT)" "$ctx/go"
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"
	{
		echo "FROM $base_image"
		echo "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev make $cross && rm -rf /var/lib/apt/lists/*"
		echo "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt"
		echo "COPY go /usr/local/go"
		echo "ENV GOLANG_VERSION=${gover#go} GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		echo "WORKDIR /go"
		echo "LABEL org.codspeed-go.go-image=\"$stamp\""
	} >"$ctx/Dockerfile"
	build_context "$go_image" "$ctx"
}

# make_foreign_go_image ARCH: $go_image-ARCH, the Go toolchain for ARCH on the ARCH base image, for the
# :go variant of that platform (images/go takes /usr/local/go from it). The toolchain is the one the Go
# module proxy serves to `go` itself (golang.org/toolchain, the host's Go version); nothing in it runs
# while it is made.
make_foreign_go_image() {
	make_foreign_base "$1"
	gotag=$go_image-$1
	gover=$(go env GOVERSION)
	if have=$(docker image inspect -f '{{index .Config.Labels "org.codspeed-go.go-image"}}' "$gotag" 2>/dev/null); then
		if [ "$have" = "$gover" ]; then
			log "Go image $gotag present"
			return
		fi
		docker rmi -f "$gotag" >/dev/null 2>&1 || true
	fi
	dir=$(cd / && GOFLAGS=-mod=mod go mod download -json "golang.org/toolchain@v0.0.1-$gover.linux-$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$dir" ] && [ -f "$dir/bin/go" ] || { log "no $gover toolchain for linux/$1 from the module proxy"; exit 1; }
	ctx=$(mktemp -d)
	stage_toolchain "$dir" "$ctx/go"
	{
		echo "FROM $base_image-$1"
		echo "COPY go /usr/local/go"
		echo "ENV GOLANG_VERSION=${gover#go} GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		echo "LABEL org.codspeed-go.go-image=\"$gover\""
	} >"$ctx/Dockerfile"
	log "making $gotag from $base_image-$1 and the $gover toolchain for linux/$1"
	build_context "$gotag" "$ctx"
}

stop_engine() {
	if [ ! -f "$pidfile" ]; then
		log "no dockerd started by this script"
		return
	fi
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 40 ]; do
			i=$((i + 1))
			sleep 0.5
		done
		log "stopped dockerd $pid"
	fi
	rm -f "$pidfile"
}

case "${1:-start}" in
start)
	install_engine
	start_engine
	make_base_image
	make_go_image
	;;
base)
	[ -n "${2:-}" ] || { echo "usage: $0 base ARCH" >&2; exit 2; }
	install_engine
	start_engine
	make_foreign_base "$2"
	;;
goimage)
	[ -n "${2:-}" ] || { echo "usage: $0 goimage ARCH" >&2; exit 2; }
	install_engine
	start_engine
	if [ "$2" = "$host_arch" ]; then make_base_image; make_go_image; else make_foreign_go_image "$2"; fi
	;;
stop) stop_engine ;;
status) engine_answers ;;
*)
	echo "usage: $0 [start|stop|status|base ARCH|goimage ARCH]" >&2
	exit 2
	;;
esac
