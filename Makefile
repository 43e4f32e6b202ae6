# codspeed-go: `make demo` builds and runs the example benchmarks; `make test` runs the tests.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
CC       ?= cc
CFLAGS   ?= -O2 -g -fno-omit-frame-pointer

.PHONY: build examples demo test test-short lint fmt clean

build: ## static runner binary at bin/codspeed
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/codspeed ./cmd/codspeed

bin/codspeed-linux-%: FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/codspeed

examples: bin/examples/primes

bin/examples/primes: examples/c/primes.c
	@mkdir -p bin/examples
	$(CC) $(CFLAGS) -o $@ $<

demo: build examples ## run the example benchmarks and print the table
	./bin/codspeed run --config examples/codspeed.yml

test: build examples ## every test, including the end-to-end ones on the built binary
	$(GO) test -count=1 ./...

test-short:
	$(GO) test -short ./...

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo 'run gofmt -w' && exit 1)
	$(GO) vet ./...

fmt:
	gofmt -w .

clean:
	rm -rf bin

FORCE:
