# codspeed-go: `make demo` builds and runs the example benchmarks; `make test` runs the tests.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/codspeed-go/codspeed-go/version.version=$(VERSION)
CC       ?= cc
CFLAGS   ?= -O2 -g -fno-omit-frame-pointer

.PHONY: build examples demo test test-short lint fmt clean preload bpf fuzz

build: preload ## static runner binary at bin/codspeed
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/codspeed ./cmd/codspeed

bin/codspeed-linux-%: preload FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/codspeed

# The memory mode's LD_PRELOAD counter, compiled from source and embedded in
# the binary (never committed). The arm64 one needs gcc-aarch64-linux-gnu; without
# it the arm64 binary counts every allocation with eBPF (exact, slower).
PRELOAD_SRC   := instruments/memory/preload/memtrack_preload.c
PRELOAD_FLAGS := -O2 -fPIC -shared -fno-omit-frame-pointer -fvisibility=hidden -fno-stack-protector -U_FORTIFY_SOURCE -Wall -Wextra -Werror -s
preload: instruments/memory/preload/memtrack_preload_amd64.so
	@if command -v aarch64-linux-gnu-gcc >/dev/null; then $(MAKE) -s instruments/memory/preload/memtrack_preload_arm64.so; \
	 else echo "preload: no aarch64-linux-gnu-gcc, the arm64 binary will count allocations with eBPF only"; fi

instruments/memory/preload/memtrack_preload_amd64.so: $(PRELOAD_SRC)
	gcc $(PRELOAD_FLAGS) -o $@ $< -ldl

instruments/memory/preload/memtrack_preload_arm64.so: $(PRELOAD_SRC)
	aarch64-linux-gnu-gcc $(PRELOAD_FLAGS) -o $@ $< -ldl

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
# of them ("unknown parent image ID"). The CLI's end-to-end tests take more
# than go test's default 10 minutes on a loaded machine: -timeout 30m.
# All leave nothing behind: scripts/leftovers.sh fails the run on temporary
# files, containers, images or cgroups that the tests did not remove.
test: build examples ## every test, including the end-to-end ones on the built binary
	scripts/leftovers.sh sh -c '$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v -e /instruments/memory -e /instruments/simulation -e /sandbox/docker) && $(GO) test -count=1 ./sandbox/docker/... && $(GO) test -count=1 ./instruments/simulation/... && $(GO) test -count=1 ./instruments/memory/... && cd examples/k8s/validate && $(GO) test -count=1 ./...'

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
.PHONY: build-linux images test-arm64 test-docker

build-linux: bin/codspeed-linux-amd64 bin/codspeed-linux-arm64 ## static runner binaries (CGO_ENABLED=0) for both image architectures

images: build-linux ## the codspeed-go runner images (starts a local engine if none answers)
	scripts/docker-engine.sh start
	VERSION=$(VERSION) scripts/build-images.sh

test-arm64: ## the pure-Go unit tests cross-built for linux/arm64 and run under qemu-user
	scripts/test-arm64.sh

test-docker: build build-linux ## the container tests against a real engine (started if needed)
	CODSPEED_DOCKER_TESTS=1 $(GO) test -count=1 -run 'Docker|Engine' ./cmd/codspeed ./sandbox/docker
