// SPDX-License-Identifier: MIT
//
// LD_PRELOAD interposer for the memory instrument: counts the C allocator
// calls of a dynamically linked program in a memory page shared with the
// runner (and with every process of the tree, which inherits the
// environment), at the cost of a few atomic adds per call instead of a
// uprobe trap (about 4 us each on a loaded host).
//
// Counting follows valgrind memcheck: a successful allocation counts one call
// of the requested size (calloc: n*size); realloc of a non-NULL pointer also
// counts one free; free(NULL) counts nothing; a call made from inside another
// (an allocator calling malloc) counts once. Live bytes need each pointer's
// size at free: a lock-free open-addressing table per process maps pointers to
// sizes. Each process also keeps its own live bytes in a slot of the shared
// file, so that when it exits or execs with blocks still allocated the runner
// can take them out of the tree's live total (their memory went with the
// process). A forked child starts with an empty table: the blocks it
// inherited stay the parent's. Bytes by call stack are sampled: every sample_period bytes a thread
// calls codspeed_memtrack_sample(bytes), where the runner's eBPF uprobe records
// the user stack; the hook is an empty function otherwise.
//
// Build: see gen.go (the .so files for amd64 and arm64 are committed).

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// Bind the oldest dlsym so the library loads with any glibc of the
// architecture (dlsym moved into libc proper, as GLIBC_2.34, in 2.34).
#if defined(__x86_64__)
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dladdr,dladdr@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver dlsym,dlsym@GLIBC_2.17");
__asm__(".symver dladdr,dladdr@GLIBC_2.17");
#endif

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

#define SHARED_MAGIC 0x6b7274636d6d6570ULL // "pemmctrk"
#define SHARED_VERSION 2
#define SHARED_HEADER 4096 // the header page, then the process slots
#define SHARED_SLOTS 4096
#define SHARED_SIZE (SHARED_HEADER + SHARED_SLOTS * sizeof(struct proc_slot))

// Layout shared with preload.go (sharedPage).
struct shared {
	uint64_t magic;
	uint32_t version;
	_Atomic uint32_t enabled;
	_Atomic uint32_t generation;
	uint32_t pad;
	_Atomic uint64_t sample_period; // 0: no stack samples
	_Atomic uint64_t alloc_calls;
	_Atomic uint64_t free_calls;
	_Atomic uint64_t total_bytes;
	_Atomic int64_t live_bytes;
	_Atomic int64_t peak_bytes;
	_Atomic uint64_t untracked;
	_Atomic uint64_t processes;
};

// A process's live bytes (layout shared with preload.go, procSlot). The
// process claims a free slot (pid 0) when it attaches; the runner releases
// it when the process exits or execs.
struct proc_slot {
	_Atomic int32_t pid;
	uint32_t pad;
	_Atomic int64_t live;
};

static struct shared *shm;
static struct proc_slot *slots; // SHARED_SLOTS of them, after the header
static struct proc_slot *self;  // this process's, or NULL when all were taken
static _Atomic int settled;     // the process is exiting and has settled its slot

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*memalign_fn)(size_t, size_t);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*valloc_fn)(size_t);

static malloc_fn real_malloc;
static free_fn real_free;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static memalign_fn real_memalign;
static memalign_fn real_aligned_alloc;
static posix_memalign_fn real_posix_memalign;
static valloc_fn real_valloc;
static valloc_fn real_pvalloc;
typedef void (*exit_fn)(int);
static exit_fn real__exit;

static TLS int depth;          // >0 while inside one of our functions
static TLS uint64_t unsampled; // bytes since this thread's last stack sample

// dlsym may allocate before the real functions are known: serve it from a
// static arena (never freed).
static char boot_arena[64 * 1024] __attribute__((aligned(64)));
static size_t boot_used;
static int resolving;
// Another allocator (libjemalloc, libmimalloc) replaces glibc's malloc: the
// runner probes it with eBPF, and counting here too would count twice.
static int foreign_malloc;

static void *boot_alloc(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	if (boot_used + size > sizeof(boot_arena))
		return NULL;
	void *p = boot_arena + boot_used;
	boot_used += size;
	return p;
}

static int is_boot(void *p)
{
	return (char *)p >= boot_arena && (char *)p < boot_arena + sizeof(boot_arena);
}

// ---- pointer -> size table (per process; copied on fork like the heap) ----

#define TABLE_BITS 21
#define TABLE_SIZE (1UL << TABLE_BITS)
#define MAX_PROBE 256
#define TOMBSTONE ((uintptr_t)1)

struct slot {
	_Atomic uintptr_t ptr;
	uint64_t size;
	uint32_t generation;
	uint32_t pad;
};

static struct slot *table;

static inline size_t slot_of(uintptr_t p)
{
	uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> (64 - TABLE_BITS));
}

static int table_insert(uintptr_t p, uint64_t size, uint32_t gen)
{
	if (!table)
		return 0;
	size_t i = slot_of(p);
	for (int n = 0; n < MAX_PROBE; n++, i = (i + 1) & (TABLE_SIZE - 1)) {
		uintptr_t cur = atomic_load_explicit(&table[i].ptr, memory_order_relaxed);
		if (cur != 0 && cur != TOMBSTONE)
			continue;
		if (atomic_compare_exchange_strong(&table[i].ptr, &cur, p)) {
			table[i].size = size;
			table[i].generation = gen;
			return 1;
		}
	}
	return 0;
}

static int table_remove(uintptr_t p, uint64_t *size, uint32_t *gen)
{
	if (!table)
		return 0;
	size_t i = slot_of(p);
	for (int n = 0; n < MAX_PROBE; n++, i = (i + 1) & (TABLE_SIZE - 1)) {
		uintptr_t cur = atomic_load_explicit(&table[i].ptr, memory_order_acquire);
		if (cur == 0)
			return 0;
		if (cur == p) {
			*size = table[i].size;
			*gen = table[i].generation;
			atomic_store_explicit(&table[i].ptr, TOMBSTONE, memory_order_release);
			return 1;
		}
	}
	return 0;
}

// ---- counting ----

// The runner attaches a uprobe here to record the caller's stack.
EXPORT __attribute__((noinline)) void codspeed_memtrack_sample(uint64_t bytes)
{
	__asm__ volatile("" ::"r"(bytes) : "memory");
}

static void attach_shared(void);
static void claim_slot(void);
static _Atomic int attached;

// counting maps the shared page on first use: libraries initialized before
// this one (libstdc++ allocates its exception pool in a constructor)
// allocate before our constructor runs.
static inline int counting(void)
{
	if (__builtin_expect(!atomic_load_explicit(&attached, memory_order_acquire), 0))
		attach_shared();
	return shm && atomic_load_explicit(&shm->enabled, memory_order_relaxed);
}

static void raise_peak(int64_t live)
{
	int64_t peak = atomic_load_explicit(&shm->peak_bytes, memory_order_relaxed);
	while (live > peak && !atomic_compare_exchange_weak(&shm->peak_bytes, &peak, live))
		;
}

static void count_alloc(void *p, uint64_t size)
{
	atomic_fetch_add_explicit(&shm->alloc_calls, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&shm->total_bytes, size, memory_order_relaxed);
	uint64_t period = atomic_load_explicit(&shm->sample_period, memory_order_relaxed);
	if (period) {
		unsampled += size;
		if (unsampled >= period) {
			uint64_t b = unsampled;
			unsampled = 0;
			codspeed_memtrack_sample(b);
		}
	}
	if (atomic_load_explicit(&settled, memory_order_relaxed))
		return; // exiting: its live bytes are off the books already
	uint32_t gen = atomic_load_explicit(&shm->generation, memory_order_relaxed);
	if (!table_insert((uintptr_t)p, size, gen)) {
		atomic_fetch_add_explicit(&shm->untracked, 1, memory_order_relaxed);
		return;
	}
	if (self)
		atomic_fetch_add_explicit(&self->live, (int64_t)size, memory_order_relaxed);
	int64_t live = atomic_fetch_add_explicit(&shm->live_bytes, (int64_t)size, memory_order_relaxed) + (int64_t)size;
	raise_peak(live);
}

// uncount_live takes a freed block of the current region off the books.
static void uncount_live(uint64_t size)
{
	if (atomic_load_explicit(&settled, memory_order_relaxed))
		return;
	if (self)
		atomic_fetch_add_explicit(&self->live, -(int64_t)size, memory_order_relaxed);
	atomic_fetch_add_explicit(&shm->live_bytes, -(int64_t)size, memory_order_relaxed);
}

// forget removes p from the table (always, so a pointer freed outside a
// region cannot linger) and counts the free when a region is open.
static void forget(void *p, int count)
{
	uint64_t size;
	uint32_t gen;
	int found = table_remove((uintptr_t)p, &size, &gen);
	if (!count)
		return;
	atomic_fetch_add_explicit(&shm->free_calls, 1, memory_order_relaxed);
	if (found && gen == atomic_load_explicit(&shm->generation, memory_order_relaxed))
		uncount_live(size);
}

static void resolve(void)
{
	resolving = 1;
	real_malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
	real_free = (free_fn)dlsym(RTLD_NEXT, "free");
	real_calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
	real_realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
	real_memalign = (memalign_fn)dlsym(RTLD_NEXT, "memalign");
	real_aligned_alloc = (memalign_fn)dlsym(RTLD_NEXT, "aligned_alloc");
	real_posix_memalign = (posix_memalign_fn)dlsym(RTLD_NEXT, "posix_memalign");
	real_valloc = (valloc_fn)dlsym(RTLD_NEXT, "valloc");
	real_pvalloc = (valloc_fn)dlsym(RTLD_NEXT, "pvalloc");
	real__exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
	Dl_info info;
	if (dladdr((void *)real_malloc, &info) && info.dli_fname && !strstr(info.dli_fname, "/libc.so"))
		foreign_malloc = 1;
	resolving = 0;
}

// attach_shared uses no allocation (getenv, open, mmap), so it may run from
// inside malloc.
static void attach_shared(void)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&attached, &expected, 1))
		return;
	if (!real_malloc)
		resolve();
	if (foreign_malloc)
		return;
	const char *path = getenv("CODSPEED_MEMTRACK_SHM");
	if (!path || !*path)
		return;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	void *m = mmap(NULL, SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	struct shared *s = m;
	if (s->magic != SHARED_MAGIC || s->version != SHARED_VERSION) {
		munmap(m, SHARED_SIZE);
		return;
	}
	void *t = mmap(NULL, TABLE_SIZE * sizeof(struct slot), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t != MAP_FAILED)
		table = t;
	slots = (struct proc_slot *)((char *)m + SHARED_HEADER);
	claim_slot();
	atomic_fetch_add(&s->processes, 1);
	shm = s;
}

// claim_slot takes a free process slot for this process.
static void claim_slot(void)
{
	int32_t pid = (int32_t)getpid();
	self = NULL;
	for (int i = 0; i < SHARED_SLOTS; i++) {
		int32_t free_pid = 0;
		if (atomic_load_explicit(&slots[i].pid, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong(&slots[i].pid, &free_pid, pid)) {
			atomic_store(&slots[i].live, 0);
			self = &slots[i];
			return;
		}
	}
}

// A forked child (fork runs no other code of ours in it first) starts with
// no blocks of its own: those it inherited are the parent's, and freeing
// them must not take them off the books twice.
static void after_fork_child(void)
{
	if (!shm)
		return;
	if (table)
		madvise(table, TABLE_SIZE * sizeof(struct slot), MADV_DONTNEED); // private anonymous: reads back zero
	atomic_store(&settled, 0); // a parent that settled (exiting) still forks counted children
	claim_slot();
	atomic_fetch_add(&shm->processes, 1);
}

// A process that exits takes its still-live bytes off the books itself, at
// once, rather than when the runner gets to its exit event (a process forked
// meanwhile could set a peak counting both; and in a nested PID namespace the
// runner knows the process by another PID than the one its slot carries).
// Allocations and frees after this (later destructors, atexit handlers)
// count as calls only. This runs as a destructor (exit) and from _exit and
// _Exit (forked children's usual way out); the runner's release covers the
// rest (signals, exec, raw exit_group).
__attribute__((destructor)) static void settle_at_exit(void)
{
	if (!shm || !self)
		return;
	// Only the slot's own process settles it: a vfork child (posix_spawn,
	// vfork + _exit) runs in its parent's memory, and what it sees as its
	// slot and flags are the parent's.
	if (atomic_load(&self->pid) != (int32_t)getpid())
		return;
	atomic_store(&settled, 1);
	int64_t live = atomic_exchange(&self->live, 0);
	if (live)
		atomic_fetch_add(&shm->live_bytes, -live);
	int32_t pid = (int32_t)getpid();
	atomic_compare_exchange_strong(&self->pid, &pid, 0);
	self = NULL;
}

EXPORT __attribute__((noreturn)) void _exit(int status)
{
	settle_at_exit();
	if (!real__exit)
		resolve();
	if (real__exit)
		real__exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

EXPORT __attribute__((noreturn)) void _Exit(int status) { _exit(status); }

__attribute__((constructor)) static void init(void)
{
	if (!real_malloc)
		resolve();
	attach_shared();
	pthread_atfork(NULL, NULL, after_fork_child);
}

#define ENSURE_RESOLVED()                          \
	do {                                       \
		if (__builtin_expect(!real_malloc, 0)) \
			resolve();                 \
	} while (0)

EXPORT void *malloc(size_t size)
{
	if (__builtin_expect(resolving, 0))
		return boot_alloc(size);
	ENSURE_RESOLVED();
	depth++;
	void *p = real_malloc(size);
	if (depth == 1 && p && counting())
		count_alloc(p, size);
	depth--;
	return p;
}

EXPORT void free(void *p)
{
	if (!p || is_boot(p))
		return;
	ENSURE_RESOLVED();
	if (depth == 0) {
		depth++;
		int count = counting();
		if (shm)
			forget(p, count);
		depth--;
	}
	real_free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
	if (__builtin_expect(resolving, 0)) {
		void *p = boot_alloc(n * size);
		if (p)
			memset(p, 0, n * size);
		return p;
	}
	ENSURE_RESOLVED();
	depth++;
	void *p = real_calloc(n, size);
	if (depth == 1 && p && counting())
		count_alloc(p, (uint64_t)n * size);
	depth--;
	return p;
}

EXPORT void *realloc(void *old, size_t size)
{
	ENSURE_RESOLVED();
	if (is_boot(old)) {
		// A boot block's size is not recorded: copy what the arena
		// holds from it, up to the new size.
		size_t avail = (size_t)(boot_arena + sizeof(boot_arena) - (char *)old);
		void *p = malloc(size);
		if (p)
			memcpy(p, old, size < avail ? size : avail);
		return p;
	}
	depth++;
	int count = depth == 1 && counting();
	int outer = depth == 1 && shm;
	uint64_t osize = 0;
	uint32_t ogen = 0;
	int found = 0;
	// Forget the old block first: once realloc returns, another thread may
	// get its address from malloc.
	if (old && outer)
		found = table_remove((uintptr_t)old, &osize, &ogen);
	void *p = real_realloc(old, size);
	if (!p && size != 0) {
		// Failed: the old block is untouched.
		if (found)
			table_insert((uintptr_t)old, osize, ogen);
		depth--;
		return p;
	}
	if (count) {
		if (old) {
			atomic_fetch_add_explicit(&shm->free_calls, 1, memory_order_relaxed);
			if (found && ogen == atomic_load_explicit(&shm->generation, memory_order_relaxed))
				uncount_live(osize);
		}
		if (p)
			count_alloc(p, size);
	}
	depth--;
	return p;
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, total);
}

static void *aligned_common(memalign_fn fn, size_t align, size_t size)
{
	ENSURE_RESOLVED();
	depth++;
	void *p = fn(align, size);
	if (depth == 1 && p && counting())
		count_alloc(p, size);
	depth--;
	return p;
}

EXPORT void *memalign(size_t align, size_t size) { return aligned_common(real_memalign, align, size); }

EXPORT void *aligned_alloc(size_t align, size_t size) { return aligned_common(real_aligned_alloc, align, size); }

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	ENSURE_RESOLVED();
	depth++;
	int rc = real_posix_memalign(out, align, size);
	if (depth == 1 && rc == 0 && counting())
		count_alloc(*out, size);
	depth--;
	return rc;
}

static void *valloc_common(valloc_fn fn, size_t size)
{
	ENSURE_RESOLVED();
	depth++;
	void *p = fn(size);
	if (depth == 1 && p && counting())
		count_alloc(p, size);
	depth--;
	return p;
}

EXPORT void *valloc(size_t size) { return valloc_common(real_valloc, size); }

EXPORT void *pvalloc(size_t size) { return valloc_common(real_pvalloc, size); }
