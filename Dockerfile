# codspeed-go runner image: the static codspeed binary, valgrind and perf.
#
#   make images                       # builds bin/codspeed-linux-<arch>, then this image
#   docker build -t codspeed-go .     # after `make build-linux` (bin/codspeed-linux-amd64, -arm64)
#
# Build arguments:
#   BASE     the image the runner lives in (default debian:bookworm-slim). Any Debian-like image
#            works; valgrind and linux-perf are installed only if the base lacks them, so a base
#            that already has them (scripts/docker-engine.sh imports one offline) needs no network.
#   BUILDER  where the binary comes from. The default (the base image) copies the binary that
#            `make build-linux` cross-compiled on the host (CGO_ENABLED=0), so no Go image has to
#            be pulled. With registry access, `--build-arg BUILDER=golang:1.26` compiles it inside
#            the build instead (with buildx, the builder stage then runs under the target
#            platform; add --platform to taste).
#   VERSION  the runner's version (`make images` passes the Makefile's): the binary compiled by a
#            Go BUILDER is linked with it, and the image carries it as org.opencontainers.image.version.
#            A copied binary already has the version `make build-linux` linked in (the same VERSION).
#
# The classic builder and BuildKit both build it; no BuildKit-only syntax is used.
ARG BASE=debian:bookworm-slim
ARG BUILDER=debian:bookworm-slim

FROM ${BUILDER} AS binary
# Set by BuildKit/buildx; the classic builder leaves it empty and the build platform is used.
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY . .
RUN set -eu; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    mkdir -p /out; \
    if command -v go >/dev/null 2>&1; then \
        CGO_ENABLED=0 GOARCH="$arch" go build -trimpath -ldflags="-s -w -X github.com/codspeed-go/codspeed-go/version.version=$VERSION" -o /out/codspeed ./cmd/codspeed; \
    elif [ -f "bin/codspeed-linux-$arch" ]; then \
        cp "bin/codspeed-linux-$arch" /out/codspeed; \
    else \
        echo "no Go toolchain in BUILDER and no bin/codspeed-linux-$arch: run 'make build-linux' first" >&2; exit 1; \
    fi; \
    chmod 0755 /out/codspeed

FROM ${BASE}
RUN set -eu; \
    if ! command -v valgrind >/dev/null 2>&1 || ! command -v perf >/dev/null 2>&1 || ! command -v git >/dev/null 2>&1; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind linux-perf ca-certificates git; \
        rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=binary /out/codspeed /usr/local/bin/codspeed
# `codspeed serve` keeps its SQLite database here: docker run -p 8787:8787 -v data:/data codspeed-go serve
ENV CODSPEED_DATA=/data
EXPOSE 8787
# Last, so that a new version does not invalidate the package layer above.
ARG VERSION=dev
LABEL org.opencontainers.image.title="codspeed-go" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /src
ENTRYPOINT ["codspeed"]
CMD ["--help"]
