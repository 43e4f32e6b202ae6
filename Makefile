# codspeed-go: `make demo` builds and runs the example benchmarks; `make test` runs the tests.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/codspeed-go/codspeed-go/version.version=$(VERSION)
CC       ?= cc
CFLAGS   ?= -O2 -g -fno-omit-frame-pointer

.PHONY: build examples demo test test-short lint fmt clean preload bpf fuzz

build: preload ## static runner binary at bin/codspeed
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/codspeed ./cmd/codspeed

bin/codspeed-linux-%: instruments/memory/preload/memtrack_preload_%.so FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/codspeed

# The memory mode's LD_PRELOAD counter, compiled from source and embedded in
# the binary (never committed). Each architecture's has its own compiler: the
# host's gcc for the host's, Debian's cross compiler for the other
# (gcc-aarch64-linux-gnu or gcc-x86-64-linux-gnu). `make build` builds the
# others when their compiler is there; bin/codspeed-linux-ARCH (make
# build-linux, the images) needs ARCH's, so both platforms carry the same runner.
GOHOSTARCH       := $(shell $(GO) env GOHOSTARCH 2>/dev/null)
PRELOAD_CC_amd64 ?= $(if $(filter amd64,$(GOHOSTARCH)),gcc,x86_64-linux-gnu-gcc)
PRELOAD_CC_arm64 ?= $(if $(filter arm64,$(GOHOSTARCH)),gcc,aarch64-linux-gnu-gcc)
PRELOAD_PKG_amd64 := gcc-x86-64-linux-gnu libc6-dev-amd64-cross
PRELOAD_PKG_arm64 := gcc-aarch64-linux-gnu libc6-dev-arm64-cross
PRELOAD_SRC   := instruments/memory/preload/memtrack_preload.c
PRELOAD_FLAGS := -O2 -fPIC -shared -fno-omit-frame-pointer -fvisibility=hidden -fno-stack-protector -U_FORTIFY_SOURCE -Wall -Wextra -Werror -s
preload: instruments/memory/preload/memtrack_preload_$(GOHOSTARCH).so
	@for a in amd64 arm64; do \
	  [ $$a = $(GOHOSTARCH) ] && continue; \
	  case $$a in amd64) cc=$(PRELOAD_CC_amd64);; arm64) cc=$(PRELOAD_CC_arm64);; esac; \
	  if command -v $$cc >/dev/null; then $(MAKE) -s instruments/memory/preload/memtrack_preload_$$a.so; \
	  else echo "preload: no $$cc, a $$a binary built from here would count allocations with eBPF only"; fi; \
	done

instruments/memory/preload/memtrack_preload_%.so: $(PRELOAD_SRC)
	@command -v $(PRELOAD_CC_$*) >/dev/null || { echo "preload: the $* allocation counter needs $(PRELOAD_CC_$*) (Debian: apt-get install $(PRELOAD_PKG_$*))" >&2; exit 1; }
	$(PRELOAD_CC_$*) $(PRELOAD_FLAGS) -o $@ $< -ldl

bpf: ## regenerate the committed eBPF objects (needs clang, llvm, libbpf-dev, gcc-aarch64-linux-gnu)
	$(GO) generate ./instruments/memory

examples: bin/examples/primes

bin/examples/primes: examples/c/primes.c
	@mkdir -p bin/examples
	$(CC) $(CFLAGS) -o $@ $<

demo: build examples ## run the example benchmarks and print the table
	./bin/codspeed run --config examples/codspeed.yml

# The memory package's uprobes patch an int3 into libc for every process on
# the host while they are attached, which kills programs running under
# valgrind: its tests run after the others, never beside the simulation ones.
# The simulation package runs alone too (the CLI's end-to-end tests attach
# memory mode's uprobes). sandbox/docker runs after the CLI's tests: each
# package removes the untagged images its builds leave, and the classic
# builder's first stage of a build still running in the other package is one
# of them ("unknown parent image ID"); the image builds (./images: docker
# build . of a fresh clone, make publish) run after both, for the same reason. The CLI's end-to-end tests take more
# than go test's default 10 minutes on a loaded machine: -timeout 30m.
# All leave nothing behind: scripts/leftovers.sh fails the run on temporary
# files, containers, images or cgroups that the tests did not remove.
test: build examples ## every test, including the end-to-end ones on the built binary
	scripts/leftovers.sh sh -c '$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v -e /instruments/memory -e /instruments/simulation -e /sandbox/docker -e /images) && $(GO) test -count=1 ./sandbox/docker/... && $(GO) test -count=1 -timeout 30m ./images/... && $(GO) test -count=1 ./instruments/simulation/... && $(GO) test -count=1 ./instruments/memory/... && cd examples/k8s/validate && $(GO) test -count=1 ./...'

test-short:
	scripts/leftovers.sh sh -c '$(GO) test -short $$($(GO) list ./... | grep -v /instruments/memory) && $(GO) test -short ./instruments/memory/...'

FUZZTIME ?= 4
fuzz: ## every fuzz target for FUZZTIME seconds each (default 4 s; run by .ci/run)
	scripts/fuzz.sh $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo 'run gofmt -w' && exit 1)
	$(GO) vet ./...

fmt:
	gofmt -w .

clean:
	rm -rf bin

FORCE:

# --- containers and arm64 (docker path; see docs/docker.md) ---------------------------------------
.PHONY: build-linux image images publish test-arm64 test-docker

build-linux: bin/codspeed-linux-amd64 bin/codspeed-linux-arm64 ## static runner binaries (CGO_ENABLED=0) for both image architectures

REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
image: ## the runner images for this engine's platform: codspeed-go:latest, :go, :c (starts an engine if none answers)
	VERSION=$(VERSION) REVISION=$(REVISION) scripts/images.sh image

images: ## the same for linux/amd64 and linux/arm64 (installs qemu-user-static and a binfmt_misc handler: it says so)
	VERSION=$(VERSION) REVISION=$(REVISION) scripts/images.sh images

publish: ## push both platforms as OCI image indexes: make publish IMAGE=REPO TAG=T (REPO:T, REPO:T-go, REPO:T-c)
	@test -n "$(IMAGE)" -a -n "$(TAG)" || { echo "usage: make publish IMAGE=REPO TAG=T [VARIANTS='runner go c']" >&2; exit 2; }
	VERSION=$(VERSION) REVISION=$(REVISION) scripts/images.sh publish $(IMAGE) $(TAG)

test-arm64: ## the pure-Go unit tests cross-built for linux/arm64 and run under qemu-user
	scripts/test-arm64.sh

test-docker: build build-linux ## the container tests against a real engine (started if needed)
	CODSPEED_DOCKER_TESTS=1 $(GO) test -count=1 -run 'Docker|Engine' ./cmd/codspeed ./sandbox/docker
