package memory

// The eBPF object is compiled for each architecture with its own <asm/ptrace.h>
// (the only header that differs); `go generate ./instruments/memory` (or
// `make bpf`) needs clang and libbpf-dev. The outputs are committed so that a
// plain `go build` needs neither.
//
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -target amd64 -type config -type counters -type stack_key -type stack_val memtrack bpf/memtrack.c -- -O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -target arm64 -type config -type counters -type stack_key -type stack_val memtrack bpf/memtrack.c -- -O2 -g -Wall -Werror -I/usr/aarch64-linux-gnu/include
//
// Last, once both objects are made, the sources they were made from are
// recorded by hash; TestBPFObjectsMatchSources fails when a bpf/*.c file was
// changed without regenerating.
//
//go:generate sh -c "sha256sum bpf/*.c > bpf/sources.sha256"

// The LD_PRELOAD counter (preload/memtrack_preload.c) is a build output,
// compiled by `make preload` and embedded (preload_embed.go), never committed.
