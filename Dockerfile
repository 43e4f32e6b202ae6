# codspeed-go runner image: the static codspeed binary with valgrind, perf and git, on Debian.
#
#   docker build -t codspeed-go .     # BuildKit or the classic builder, from a fresh clone
#   make image                        # the same with the version from git, plus the :go and :c variants
#   make images                       # both platforms (linux/amd64, linux/arm64)
#   make publish IMAGE=REPO TAG=T     # both platforms pushed to REPO:T as one OCI image index
#
# Two stages: the runner is compiled in golang:1.26-bookworm (on the build's own platform,
# cross-compiling for the target: no emulation) and copied into debian:bookworm-slim. Machines that
# reach no registry make those two tags locally: scripts/docker-engine.sh start.
#
# Build arguments:
#   VERSION   the runner's version (`make` passes `git describe`); linked into the binary and
#             the image's org.opencontainers.image.version label
#   REVISION  the commit (`make` passes it): org.opencontainers.image.revision
#   PREBUILT  1: take bin/codspeed-linux-<arch> from the build context (what `make build-linux`
#             wrote) instead of compiling it here; the tests use it for the binary under test
#   GO_IMAGE  the build stage's image (default golang:1.26-bookworm)
#   BASE      the runtime stage's image (default debian:bookworm-slim); any Debian-like image
#             works: valgrind, linux-perf and git are installed only when it lacks them
#
# No BuildKit-only syntax. BuildKit sets BUILDPLATFORM and TARGETARCH, so the build stage runs on the
# build machine's platform and cross-compiles for any --platform. The classic builder sets neither:
# it builds for its own platform, with linux/amd64 as the build stage's unless told otherwise
# (--build-arg BUILDPLATFORM=linux/arm64 on an arm64 host); make images passes TARGETARCH and an
# arm64 BASE to it for the other platform.
ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE=debian:bookworm-slim

FROM --platform=${BUILDPLATFORM:-linux/amd64} ${GO_IMAGE} AS build
# The classic builder keeps this stage as an untagged image: make image removes it by this label.
LABEL org.codspeed-go.stage=build
ARG TARGETARCH
ARG VERSION=dev
ARG PREBUILT=
WORKDIR /src
COPY . .
RUN set -eu; \
    arch="${TARGETARCH:-$(go env GOARCH)}"; \
    mkdir -p /out; \
    if [ -n "$PREBUILT" ]; then \
        [ -f "bin/codspeed-linux-$arch" ] || { echo "PREBUILT=$PREBUILT but no bin/codspeed-linux-$arch in the build context: run 'make build-linux' first" >&2; exit 1; }; \
        cp "bin/codspeed-linux-$arch" /out/codspeed; \
    else \
        case "$arch" in \
            amd64) cc=x86_64-linux-gnu-gcc; pkgs="gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;; \
            arm64) cc=aarch64-linux-gnu-gcc; pkgs="gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;; \
            *) echo "unsupported target architecture $arch" >&2; exit 1 ;; \
        esac; \
        if [ "$arch" != "$(go env GOHOSTARCH)" ] && ! command -v "$cc" >/dev/null 2>&1; then \
            apt-get update; \
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs; \
            rm -rf /var/lib/apt/lists/*; \
        fi; \
        make "bin/codspeed-linux-$arch" VERSION="$VERSION" GO=go; \
        cp "bin/codspeed-linux-$arch" /out/codspeed; \
    fi; \
    chmod 0755 /out/codspeed

FROM ${BASE}
RUN set -eu; \
    if ! command -v valgrind >/dev/null 2>&1 || ! command -v perf >/dev/null 2>&1 || ! command -v git >/dev/null 2>&1; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind linux-perf ca-certificates git; \
        rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=build /out/codspeed /usr/local/bin/codspeed
# `codspeed serve` keeps its SQLite database here: docker run -p 8787:8787 -v data:/data codspeed-go serve
ENV CODSPEED_DATA=/data
EXPOSE 8787
WORKDIR /src
ENTRYPOINT ["codspeed"]
CMD ["--help"]
# Last, so that a new version does not invalidate the layers above.
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="codspeed-go" \
      org.opencontainers.image.description="Continuous benchmarking runner: simulation (valgrind), walltime (perf) and memory (eBPF) instruments" \
      org.opencontainers.image.source="https://github.com/codspeed-go/codspeed-go" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
