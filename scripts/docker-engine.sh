#!/bin/sh
# docker-engine.sh: make a Docker engine and the offline base image available on a bare CI host.
#
#   scripts/docker-engine.sh [start]   install docker.io if missing, start dockerd if no engine answers,
#                                      and make debian:bookworm-slim offline if the engine lacks it
#   scripts/docker-engine.sh stop      stop the dockerd this script started (no-op otherwise)
#   scripts/docker-engine.sh status    exit 0 when an engine answers
#
# Why: no container registry is reachable from the CI machines, so the base image every Dockerfile in this
# repository starts FROM is made with debootstrap and `docker import`. The root filesystem tarball is cached
# under $CODSPEED_CACHE_DIR (default /var/cache/codspeed-go) so only the first run pays the ~90 s debootstrap.
# Every step is idempotent: an engine that already runs, or an image that already exists, is left alone.
#
# Environment:
#   CODSPEED_CACHE_DIR   cache directory (default /var/cache/codspeed-go)
#   CODSPEED_BASE_IMAGE  tag of the imported base image (default debian:bookworm-slim)
#   CODSPEED_DEB_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   DOCKER_HOST          respected; when it points away from the local socket, nothing is started
set -eu

cache_dir=${CODSPEED_CACHE_DIR:-/var/cache/codspeed-go}
base_image=${CODSPEED_BASE_IMAGE:-debian:bookworm-slim}
mirror=${CODSPEED_DEB_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=valgrind,linux-perf,ca-certificates
pidfile=/run/codspeed-dockerd.pid
logfile=/var/log/codspeed-dockerd.log
rootfs_tar=$cache_dir/$suite-minbase-$(echo "$packages" | tr ',' '-')-$(dpkg --print-architecture).tar

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

make_base_image() {
	if docker image inspect "$base_image" >/dev/null 2>&1; then
		log "base image $base_image present"
		return
	fi
	if [ ! -s "$rootfs_tar" ]; then
		need_root "debootstrap"
		command -v debootstrap >/dev/null 2>&1 ||
			DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null
		mkdir -p "$cache_dir"
		dir=$(mktemp -d "$cache_dir/rootfs.XXXXXX")
		log "debootstrap $suite ($packages) into $dir (takes about 90 s the first time)"
		if ! debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$mirror" >"$dir.log" 2>&1; then
			log "debootstrap failed; last log lines:"
			tail -n 20 "$dir.log" >&2
			rm -rf "$dir"
			exit 1
		fi
		# Smaller image: apt lists and caches are not needed at run time.
		rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
		tar -C "$dir" --numeric-owner -cf "$rootfs_tar.tmp" .
		mv "$rootfs_tar.tmp" "$rootfs_tar"
		rm -rf "$dir" "$dir.log"
	fi
	log "importing $rootfs_tar as $base_image"
	docker import --change 'CMD ["/bin/bash"]' "$rootfs_tar" "$base_image" >/dev/null
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
	;;
stop) stop_engine ;;
status) engine_answers ;;
*)
	echo "usage: $0 [start|stop|status]" >&2
	exit 2
	;;
esac
