// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// memtrack: counts heap allocations of a process tree in the kernel.
//
// One entry program and one return program serve every allocator entry point;
// the attach cookie says which calling convention the probed function has.
// Everything is aggregated here (counters, live bytes per pointer, peak, bytes
// per call stack), so user space reads a few maps once per benchmark instead
// of receiving an event per call. The only events sent to user space are execs
// of tracked processes, which are rare.
//
// No vmlinux.h: pt_regs comes from the target's <asm/ptrace.h> (bpf_tracing.h
// macros) and the two task_struct fields used are relocated with CO-RE.

#include <linux/types.h>
#include <linux/bpf.h>
#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

// Calling conventions (the attach cookie). Keep in sync with kinds.go.
#define K_MALLOC 1         // void *f(size_t size, ...)
#define K_CALLOC 2         // void *f(size_t n, size_t size)
#define K_REALLOC 3        // void *f(void *p, size_t size, ...)
#define K_ALIGNED 4        // void *f(size_t align, size_t size)
#define K_POSIX_MEMALIGN 5 // int f(void **out, size_t align, size_t size)
#define K_FREE 6           // void f(void *p, ...)
#define K_GO_MALLOCGC 7    // runtime.mallocgc(size uintptr, ...), register ABI, no return probe
#define K_DELETE 8         // C++ operator delete: a free whose own call to free must not count twice
#define K_SAMPLE 9         // codspeed_memtrack_sample(bytes) in the preload library: record the stack only

// Tracking state of a process (value of the tracked map).
#define T_COUNT 1      // count its allocations and follow its children
#define T_FORKS_ONLY 2 // only follow its children (the runner while it launches a target)
#define T_PRELOAD 3    // counted, but its standard C allocator calls are counted by the preload interposer

// Cookie flag: the probe is on a standard C allocator function (malloc
// family, operator new/delete) in a shared library, which processes running
// the preload interposer count themselves.
#define COOKIE_LIB_STD (1ULL << 16)
#define COOKIE_KIND_MASK 0xffffULL

#define SIGSTOP 19

struct config {
	__u32 enabled;     // counting on (a measured region is open)
	__u32 generation;  // bumped by every region start
	__u32 stacks;      // record bytes per call stack
	__u32 stop_on_exec; // stop tracked processes at exec so user space can attach probes
	// The runner's PID namespace (device and inode of /proc/self/ns/pid),
	// 0 when it is the host's: events name processes as the runner sees
	// them, so it needs no access to the host's PIDs (a container of its
	// own is fine).
	__u64 pidns_dev;
	__u64 pidns_ino;
	// While non-zero: the runner's PID (in its namespace) is launching a
	// target, and its forks are tracked.
	__u32 launcher;
	__u32 pad;
};

struct counters {
	__u64 alloc_calls;
	__u64 free_calls;
	__u64 total_bytes;
	__s64 live_bytes;
	__s64 peak_bytes;
	__u64 untracked;   // allocations whose pointer could not be remembered (map full)
	__u64 stack_errors; // call stacks that could not be recorded
	__u64 images;      // process images seen in this region (numbers them)
	__u64 exec_lost;   // execs not held for probing (event buffer full, or the stop failed)
};

struct pending {
	__u64 size;
	__u64 aux; // old pointer (realloc) or out pointer (posix_memalign)
	__u32 kind;
	__u32 depth; // nested allocator calls inside this one (not counted)
};

struct ptr_key {
	__u64 ptr;
	__u32 tgid;
	__u32 pad;
};

struct ptr_val {
	__u64 size;
	__u32 generation;
	__u32 image; // proc_val.image of the allocating process image
};

// Live bytes of one process image (a process between two execs) in the
// current region: when the image ends (exit or exec), its blocks are gone
// without being freed and their bytes leave the tree's live total.
struct proc_val {
	__s64 live;
	__u32 image;      // unique in a region: blocks of an earlier image of the same pid do not match
	__u32 generation;
};

struct stack_key {
	__u32 tgid;
	__s32 stack_id;
};

struct stack_val {
	__u64 bytes;
	__u64 calls;
};

// Events for user space: EV_EXEC in exec_events, EV_EXIT in exit_events (a
// burst of exits must not leave an exec without room, which would let a
// program run unprobed).
#define EV_EXEC 0 // a tracked process exec'd and is stopped until user space resumes it
#define EV_EXIT 1 // a tracked process exited

struct exec_event {
	__u32 tgid;    // as the kernel numbers it (the maps' keys)
	__u32 type;
	__u32 ns_tgid; // as the runner sees it (for /proc and signals); 0 if it cannot
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct pending);
} pending_map SEC(".maps");

// Parent of each tracked process that has not exec'd (kernel PIDs): such a
// child has its parent's mappings, and user space, which may not see kernel
// PIDs, learns nothing else of it. LRU: old entries make room.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} parents SEC(".maps");

// Live allocations. Sized by user space before load (max_entries); not
// preallocated, so a session costs memory only for what it tracks (and
// loads in milliseconds).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, struct ptr_key);
	__type(value, struct ptr_val);
} live_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct proc_val);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stack_key);
	__type(value, struct stack_val);
} stack_bytes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} exec_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024); // 16k events: exits come in bursts
} exit_events SEC(".maps");


static __always_inline struct config *get_config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&config_map, &zero);
}

static __always_inline struct counters *get_counters(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&counters_map, &zero);
}

// ns_tgid is the current process's PID as the runner sees it, 0 when the
// runner cannot see it by one (a PID namespace other than the runner's,
// nested in it for example).
static __always_inline __u32 ns_tgid(struct config *cfg)
{
	if (!cfg)
		return 0;
	if (!cfg->pidns_ino)
		return bpf_get_current_pid_tgid() >> 32;
	struct bpf_pidns_info ns = {};
	if (bpf_get_ns_current_pid_tgid(cfg->pidns_dev, cfg->pidns_ino, &ns, sizeof(ns)) != 0)
		return 0;
	return ns.tgid;
}

// tracked_state returns the process's T_* state, 0 when not tracked.
static __always_inline __u32 tracked_state(__u32 tgid)
{
	__u32 *state = bpf_map_lookup_elem(&tracked, &tgid);
	return state ? *state : 0;
}

static __always_inline int counted(__u32 tgid)
{
	__u32 state = tracked_state(tgid);
	return state == T_COUNT || state == T_PRELOAD;
}

static __always_inline void raise_peak(struct counters *c, __s64 live)
{
	// Bounded compare-and-swap loop: another CPU may raise the peak at the
	// same time.
	for (int i = 0; i < 8; i++) {
		__s64 peak = c->peak_bytes;
		if (live <= peak)
			return;
		if (__sync_val_compare_and_swap(&c->peak_bytes, peak, live) == peak)
			return;
	}
}

static __always_inline void record_stack(void *ctx, struct config *cfg, struct counters *c, __u32 tgid, __u64 size)
{
	if (!cfg->stacks)
		return;
	long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	if (id < 0) {
		__sync_fetch_and_add(&c->stack_errors, 1);
		return;
	}
	struct stack_key key = {.tgid = tgid, .stack_id = (__s32)id};
	struct stack_val *v = bpf_map_lookup_elem(&stack_bytes, &key);
	if (v) {
		__sync_fetch_and_add(&v->bytes, size);
		__sync_fetch_and_add(&v->calls, 1);
		return;
	}
	struct stack_val init = {.bytes = size, .calls = 1};
	if (bpf_map_update_elem(&stack_bytes, &key, &init, BPF_NOEXIST) != 0) {
		v = bpf_map_lookup_elem(&stack_bytes, &key);
		if (v) {
			__sync_fetch_and_add(&v->bytes, size);
			__sync_fetch_and_add(&v->calls, 1);
		} else {
			__sync_fetch_and_add(&c->stack_errors, 1);
		}
	}
}

// current_proc returns the live-bytes record of tgid's current image in
// this region, creating it on first use.
static __always_inline struct proc_val *current_proc(struct counters *c, struct config *cfg, __u32 tgid)
{
	struct proc_val *pv = bpf_map_lookup_elem(&procs, &tgid);
	if (pv) {
		if (pv->generation != cfg->generation) {
			// Left from an earlier region (user space clears the map
			// when a region starts; a call that straddled the start
			// can still get here): start it afresh, in place.
			pv->live = 0;
			pv->image = (__u32)__sync_add_and_fetch(&c->images, 1);
			pv->generation = cfg->generation;
		}
		return pv;
	}
	struct proc_val init = {
		.image = (__u32)__sync_add_and_fetch(&c->images, 1),
		.generation = cfg->generation,
	};
	// NOEXIST: when two threads of the process get here at once, the
	// second keeps the first's record (replacing it would drop the bytes
	// the first already added to it).
	bpf_map_update_elem(&procs, &tgid, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&procs, &tgid);
}

// end_image takes the still-live bytes of tgid's image out of the tree's
// live total: the image exited or exec'd, and its heap went with it.
static __always_inline void end_image(__u32 tgid)
{
	struct proc_val *pv = bpf_map_lookup_elem(&procs, &tgid);
	if (!pv)
		return;
	struct config *cfg = get_config();
	struct counters *c = get_counters();
	if (cfg && c && pv->generation == cfg->generation && pv->live != 0)
		__sync_fetch_and_add(&c->live_bytes, -pv->live);
	bpf_map_delete_elem(&procs, &tgid);
}

// count_free forgets p and counts one free call.
static __always_inline void count_free(struct counters *c, struct config *cfg, __u32 tgid, __u64 p)
{
	struct ptr_key key = {.ptr = p, .tgid = tgid};
	__sync_fetch_and_add(&c->free_calls, 1);
	struct ptr_val *v = bpf_map_lookup_elem(&live_map, &key);
	if (!v)
		return;
	if (v->generation == cfg->generation) {
		// Only a block of the current image is still on the books: an
		// older image's bytes were taken off when it ended.
		struct proc_val *pv = bpf_map_lookup_elem(&procs, &tgid);
		if (pv && pv->generation == cfg->generation && pv->image == v->image) {
			__sync_fetch_and_add(&pv->live, -(__s64)v->size);
			__sync_fetch_and_add(&c->live_bytes, -(__s64)v->size);
		}
	}
	bpf_map_delete_elem(&live_map, &key);
}

static __always_inline void count_alloc(void *ctx, struct counters *c, struct config *cfg, __u32 tgid, __u64 p, __u64 size)
{
	__sync_fetch_and_add(&c->alloc_calls, 1);
	__sync_fetch_and_add(&c->total_bytes, size);
	record_stack(ctx, cfg, c, tgid, size);
	if (!p)
		return;
	struct proc_val *pv = current_proc(c, cfg, tgid);
	if (!pv) {
		__sync_fetch_and_add(&c->untracked, 1);
		return;
	}
	struct ptr_key key = {.ptr = p, .tgid = tgid};
	struct ptr_val val = {.size = size, .generation = cfg->generation, .image = pv->image};
	if (bpf_map_update_elem(&live_map, &key, &val, BPF_ANY) != 0) {
		__sync_fetch_and_add(&c->untracked, 1);
		return;
	}
	__sync_fetch_and_add(&pv->live, (__s64)size);
	__s64 live = __sync_add_and_fetch(&c->live_bytes, (__s64)size);
	raise_peak(c, live);
}

static __always_inline int on_enter(struct pt_regs *ctx)
{
	struct config *cfg = get_config();
	if (!cfg || !cfg->enabled)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 state = tracked_state(tgid);
	if (state != T_COUNT && state != T_PRELOAD)
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	if ((cookie & COOKIE_LIB_STD) && state == T_PRELOAD)
		return 0;
	struct counters *c = get_counters();
	if (!c)
		return 0;

	__u32 kind = (__u32)(cookie & COOKIE_KIND_MASK);
	struct pending *outer = bpf_map_lookup_elem(&pending_map, &id);

	if (kind == K_FREE) {
		__u64 p = PT_REGS_PARM1(ctx);
		// A free inside an allocator call (realloc moving a block,
		// operator delete calling free) belongs to that call.
		if (outer || !p)
			return 0;
		count_free(c, cfg, tgid, p);
		return 0;
	}
	if (kind == K_SAMPLE) {
		record_stack(ctx, cfg, c, tgid, PT_REGS_PARM1(ctx));
		return 0;
	}
	if (kind == K_GO_MALLOCGC) {
		// Go's register ABI: the first integer argument is in RAX on
		// amd64 and X0 on arm64. There is no return probe (it would
		// corrupt moving goroutine stacks), hence no pointer and no
		// live-byte tracking for Go heaps.
#if defined(__TARGET_ARCH_x86)
		__u64 size = ctx->rax;
#else
		__u64 size = PT_REGS_PARM1(ctx);
#endif
		if (size == 0)
			return 0;
		__sync_fetch_and_add(&c->alloc_calls, 1);
		__sync_fetch_and_add(&c->total_bytes, size);
		record_stack(ctx, cfg, c, tgid, size);
		return 0;
	}

	if (outer) {
		outer->depth++;
		return 0;
	}
	struct pending p = {.kind = kind};
	switch (kind) {
	case K_DELETE:
		p.aux = PT_REGS_PARM1(ctx);
		break;
	case K_MALLOC:
		p.size = PT_REGS_PARM1(ctx);
		break;
	case K_CALLOC:
		p.size = PT_REGS_PARM1(ctx) * PT_REGS_PARM2(ctx);
		break;
	case K_REALLOC:
		p.aux = PT_REGS_PARM1(ctx);
		p.size = PT_REGS_PARM2(ctx);
		break;
	case K_ALIGNED:
		p.size = PT_REGS_PARM2(ctx);
		break;
	case K_POSIX_MEMALIGN:
		p.aux = PT_REGS_PARM1(ctx);
		p.size = PT_REGS_PARM3(ctx);
		break;
	default:
		return 0;
	}
	bpf_map_update_elem(&pending_map, &id, &p, BPF_ANY);
	return 0;
}

static __always_inline int on_exit(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending *pp = bpf_map_lookup_elem(&pending_map, &id);
	if (!pp)
		return 0;
	// Mirror the entry's filter, or this return would close an outer call.
	if ((bpf_get_attach_cookie(ctx) & COOKIE_LIB_STD) && tracked_state(id >> 32) == T_PRELOAD)
		return 0;
	if (pp->depth > 0) {
		pp->depth--;
		return 0;
	}
	struct pending p = *pp;
	bpf_map_delete_elem(&pending_map, &id);

	struct config *cfg = get_config();
	struct counters *c = get_counters();
	if (!cfg || !c)
		return 0;
	__u32 tgid = id >> 32;
	__u64 ret = PT_REGS_RC(ctx);

	switch (p.kind) {
	case K_DELETE:
		if (p.aux)
			count_free(c, cfg, tgid, p.aux);
		return 0;
	case K_POSIX_MEMALIGN: {
		if (ret != 0)
			return 0;
		__u64 out = 0;
		if (bpf_probe_read_user(&out, sizeof(out), (void *)p.aux) != 0)
			return 0;
		count_alloc(ctx, c, cfg, tgid, out, p.size);
		return 0;
	}
	case K_REALLOC:
		if (!ret) {
			// realloc(p, 0) may free p and return NULL.
			if (p.aux && p.size == 0)
				count_free(c, cfg, tgid, p.aux);
			return 0;
		}
		if (p.aux)
			count_free(c, cfg, tgid, p.aux);
		count_alloc(ctx, c, cfg, tgid, ret, p.size);
		return 0;
	default:
		if (!ret)
			return 0;
		count_alloc(ctx, c, cfg, tgid, ret, p.size);
		return 0;
	}
}

// Each handler exists twice: for uprobe_multi links (one link per file,
// kernel 6.6+; detaching waits for one RCU grace period per link instead of
// one per probe) and for classic perf-event uprobes on older kernels.
SEC("uprobe.multi")
int alloc_enter_multi(struct pt_regs *ctx) { return on_enter(ctx); }

SEC("uretprobe.multi")
int alloc_exit_multi(struct pt_regs *ctx) { return on_exit(ctx); }

SEC("uprobe")
int alloc_enter(struct pt_regs *ctx) { return on_enter(ctx); }

SEC("uretprobe")
int alloc_exit(struct pt_regs *ctx) { return on_exit(ctx); }

// Minimal CO-RE views of the kernel's task_struct and signal_struct.
typedef struct {
	int counter;
} atomic_t;

struct signal_struct {
	atomic_t live; // threads of the group not yet exited
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	struct signal_struct *signal;
} __attribute__((preserve_access_index));

SEC("raw_tracepoint/sched_process_fork")
int follow_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ptgid == ctgid)
		return 0; // a new thread
	__u32 state = tracked_state(ptgid);
	if (!state) {
		// The runner launching a target (this runs in the parent).
		struct config *cfg = get_config();
		if (!cfg || !cfg->launcher || ns_tgid(cfg) != cfg->launcher)
			return 0;
		state = T_FORKS_ONLY;
	}
	// A forked child keeps its parent's memory, preload interposer included.
	if (state == T_FORKS_ONLY)
		state = T_COUNT;
	bpf_map_update_elem(&tracked, &ctgid, &state, BPF_ANY);
	bpf_map_update_elem(&parents, &ctgid, &ptgid, BPF_ANY);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int follow_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!counted(tgid))
		return 0;
	end_image(tgid);
	// A new program: no longer its parent's mappings.
	bpf_map_delete_elem(&parents, &tgid);
	struct config *cfg = get_config();
	if (!cfg || !cfg->stop_on_exec)
		return 0;
	// A process the runner cannot name could not be resumed: never stop it.
	__u32 ns = ns_tgid(cfg);
	if (!ns) {
		struct counters *c = get_counters();
		if (c)
			__sync_fetch_and_add(&c->exec_lost, 1);
		return 0;
	}
	struct exec_event *e = bpf_ringbuf_reserve(&exec_events, sizeof(*e), 0);
	if (!e) {
		struct counters *c = get_counters();
		if (c)
			__sync_fetch_and_add(&c->exec_lost, 1);
		return 0;
	}
	// Hold the new program before its first instruction until user space
	// has scanned it for allocators and attached probes. The stop is queued
	// before the event is visible, so user space's SIGCONT cannot come
	// first (a SIGCONT discards a pending SIGSTOP).
	if (bpf_send_signal(SIGSTOP) != 0) {
		bpf_ringbuf_discard(e, 0);
		struct counters *c = get_counters();
		if (c)
			__sync_fetch_and_add(&c->exec_lost, 1);
		return 0;
	}
	e->tgid = tgid;
	e->type = EV_EXEC;
	e->ns_tgid = ns;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int forget_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	bpf_map_delete_elem(&pending_map, &id);
	// The process ends with its last thread, which is not always its
	// leader (main may call pthread_exit): do_exit has counted this thread
	// out of signal->live before this tracepoint.
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; // other threads of the process go on
	__u32 tgid = id >> 32;
	// Threads dying together can all see live reach 0: the one whose
	// delete of the tracked entry succeeds ends the process, once.
	if (counted(tgid) && bpf_map_delete_elem(&tracked, &tgid) == 0) {
		end_image(tgid);
		// User space settles what the preload interposer counted for
		// this process. Exits are not worth stopping for: a lost event
		// leaves that process's last live bytes in the total.
		struct exec_event *e = bpf_ringbuf_reserve(&exit_events, sizeof(*e), 0);
		if (e) {
			e->tgid = tgid;
			e->type = EV_EXIT;
			e->ns_tgid = ns_tgid(get_config());
			e->pad = 0;
			bpf_ringbuf_submit(e, 0);
		}
	}
	bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}
