package memory

// kind is an allocator entry point's calling convention. It is the attach
// cookie of each probe and must match the K_* constants in bpf/memtrack.c.
type kind uint64

const (
	kindMalloc        kind = 1 // void *f(size_t size, ...)
	kindCalloc        kind = 2 // void *f(size_t n, size_t size)
	kindRealloc       kind = 3 // void *f(void *p, size_t size, ...)
	kindAligned       kind = 4 // void *f(size_t align, size_t size)
	kindPosixMemalign kind = 5 // int f(void **out, size_t align, size_t size)
	kindFree          kind = 6 // void f(void *p, ...)
	kindGoMallocgc    kind = 7 // runtime.mallocgc(size uintptr, ...), entry probe only
	kindDelete        kind = 8 // C++ operator delete, which usually calls free itself
	kindSample        kind = 9 // codspeed_memtrack_sample(bytes) in the preload library
)

// returns says whether the kind needs a return probe: every C allocator does
// (the pointer is only known on return, and nested calls such as operator new
// calling malloc are recognised by an open call on the same thread). free has
// none (nothing to learn on return); Go's mallocgc must not have one (a
// uretprobe rewrites the return address on a goroutine stack that the Go
// runtime may move, which crashes the program).
func (k kind) returns() bool {
	return k != kindFree && k != kindGoMallocgc && k != kindSample
}

// allocatorSymbols maps the symbol names of every allocator entry point the
// instrument knows to their calling convention.
var allocatorSymbols = buildAllocatorSymbols()

func buildAllocatorSymbols() map[string]kind {
	m := map[string]kind{}
	// glibc, musl, and the malloc-compatible API of jemalloc (also under its
	// je_ prefix, and _rjem_ as built by Rust's tikv-jemallocator).
	for _, prefix := range []string{"", "je_", "_rjem_"} {
		m[prefix+"malloc"] = kindMalloc
		m[prefix+"valloc"] = kindMalloc
		m[prefix+"pvalloc"] = kindMalloc
		m[prefix+"calloc"] = kindCalloc
		m[prefix+"realloc"] = kindRealloc
		m[prefix+"aligned_alloc"] = kindAligned
		m[prefix+"memalign"] = kindAligned
		m[prefix+"posix_memalign"] = kindPosixMemalign
		m[prefix+"free"] = kindFree
	}
	// jemalloc's non-standard API.
	for _, prefix := range []string{"", "je_", "_rjem_"} {
		m[prefix+"mallocx"] = kindMalloc
		m[prefix+"rallocx"] = kindRealloc
		m[prefix+"dallocx"] = kindFree
		m[prefix+"sdallocx"] = kindFree
	}
	// mimalloc.
	for name, k := range map[string]kind{
		"mi_malloc": kindMalloc, "mi_zalloc": kindMalloc, "mi_malloc_aligned": kindMalloc,
		"mi_zalloc_aligned": kindMalloc, "mi_new": kindMalloc, "mi_new_aligned": kindMalloc,
		"mi_new_nothrow": kindMalloc, "mi_new_aligned_nothrow": kindMalloc,
		"mi_calloc": kindCalloc, "mi_mallocn": kindCalloc, "mi_calloc_aligned": kindCalloc,
		"mi_realloc": kindRealloc, "mi_reallocf": kindRealloc, "mi_realloc_aligned": kindRealloc,
		"mi_aligned_alloc": kindAligned, "mi_memalign": kindAligned,
		"mi_posix_memalign": kindPosixMemalign,
		"mi_free":           kindFree, "mi_free_size": kindFree, "mi_free_aligned": kindFree,
		"mi_free_size_aligned": kindFree,
	} {
		m[name] = k
	}
	// C++ operator new / new[] (plain, nothrow, aligned, aligned nothrow):
	// the size is the first argument in every variant.
	for _, base := range []string{"_Znwm", "_Znam"} {
		for _, suffix := range []string{"", "RKSt9nothrow_t", "St11align_val_t", "St11align_val_tRKSt9nothrow_t"} {
			m[base+suffix] = kindMalloc
		}
	}
	// Every operator delete / delete[] (plain, sized, aligned, nothrow).
	for _, base := range []string{"_ZdlPv", "_ZdaPv"} {
		for _, suffix := range []string{"", "m", "St11align_val_t", "mSt11align_val_t",
			"RKSt9nothrow_t", "St11align_val_tRKSt9nothrow_t"} {
			m[base+suffix] = kindDelete
		}
	}
	// The Go runtime's single allocation entry point.
	m["runtime.mallocgc"] = kindGoMallocgc
	return m
}
