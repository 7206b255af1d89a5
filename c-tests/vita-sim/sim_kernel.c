/*
 * sim_kernel.c -- simulated PlayStation Vita kernel (memblocks, free-memory
 * query, LwMutex, TLS, threads) for vitalloc's tests; see sim_kernel.h for
 * the API.
 *
 * Simulates: sceClibPrintf (to stderr, the last line kept for tests);
 * sceKernelAllocMemBlock & co. with the real type granularities,
 * budgets, the ~2048-block limit and the real error codes; LwMutex with
 * recursion and ownership; per-thread TLS slots below TPIDRURO and thread
 * identity/liveness (simulated threads on ARM). Deliberately stricter than
 * the real kernel where that exposes bugs: a block without an alignment
 * option is 4 KiB- but never 8 KiB-aligned (base % 8192 == 4096, whatever
 * the type); with alignment A it is A- but, when it fits, not 2A-aligned;
 * every LwMutex misuse aborts with a one-line message.
 *
 * Memory: on bare-metal ARM (qemu-arm + newlib/rdimon) a static pool of
 * SIM_POOL_BYTES in .noinit (crt0 does not clear it: pages stay untouched,
 * hence zero, until used) with a dirty-page map so reused pages are zeroed
 * again; on the host one mmap reservation, each block made read/write when
 * allocated and PROT_NONE + MADV_DONTNEED when freed (use after free faults).
 * Placement is first fit over the address-sorted block table.
 *
 * Choices where the real behaviour is not known here: name == NULL fails
 * with ILLEGAL_ADDR; opt->size outside 0x14..0x58 fails with ILLEGAL_SIZE;
 * opt->attr bits other than HAS_ALIGNMENT fail with ILLEGAL_ATTR; an address
 * no block contains fails with ILLEGAL_ADDR; info->size must equal the
 * struct size (ILLEGAL_SIZE). TLS slots are pointer-sized (8 bytes on host).
 *
 * Threads (ARM): a static table of SIM_MAX_THREADS entries, each with a
 * 0x800-byte TLS area in .bss; TPIDRURO = end of the current thread's area
 * (or, built with SIM_TLS_LAYOUT_ABOVE=1, its start minus a header, with
 * garbage below: see sim_tls_slot_offset in sim_kernel.h),
 * set with qemu-arm's ARM private syscall set_tls (0x0f0005, r0 = value;
 * linux-user mode only). Error codes of the thread calls: the values are
 * vita-headers' (psp2/kernel/error.h); which call returns which follows
 * Vita3K (modules/SceKernelThreadMgr/SceThreadmgr.cpp: _sceKernelGetThreadInfo
 * returns UNKNOWN_THREAD_ID for a thread that does not exist, ILLEGAL_ADDR
 * for info == NULL and INVALID_ARGUMENT_SIZE when info->size !=
 * sizeof(SceKernelThreadInfo); kernel/src/state.cpp get_thread_tls_addr:
 * keys 0..0x100, else NULL; thread.cpp: the TLS area is zeroed, then slots
 * 0 (process id), 1 (thread id), 2-3 (stack), 8 (priority), 9 (affinity)
 * are filled -- here 2-3 stay 0, the threads have no stacks of their own).
 * Stricter than Vita3K: GetThreadInfo checks info->size before the thread,
 * so a wrong size never passes for "thread is gone". thid 0 is
 * SCE_KERNEL_THREAD_ID_SELF for GetThreadInfo and GetThreadTLSAddr.
 *
 * Must never: call malloc/calloc/realloc/free (the code under test replaces
 * them; build with -fno-builtin so GCC does not invent such calls), use
 * stdio (it allocates), or use code from elsewhere.
 */
#include "sim_kernel.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h> /* abort */
#include <string.h>
#include <unistd.h> /* write */

#if defined(__arm__) && !defined(__linux__)
#define SIM_BAREMETAL 1
#else
#define SIM_BAREMETAL 0
#endif
#ifndef SIM_HOST_THREADS
#define SIM_HOST_THREADS (!SIM_BAREMETAL)
#endif
#ifndef SIM_POOL_BYTES
#define SIM_POOL_BYTES (SIM_BAREMETAL ? (size_t)512 << 20 : (size_t)1024 << 20)
#endif
#define SIM_MAX_BLOCKS 4096
#define PAGE ((size_t)4096)
#define MiB (1024ull * 1024ull)

#if !SIM_BAREMETAL
#include <sys/mman.h>
#endif
#if SIM_HOST_THREADS
#include <errno.h>
#include <pthread.h>
#include <time.h>
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
#define NCOND 16
static pthread_cond_t g_cond[NCOND] = {[0 ... NCOND - 1] = PTHREAD_COND_INITIALIZER};
#define LOCK() pthread_mutex_lock(&g_lock)
#define UNLOCK() pthread_mutex_unlock(&g_lock)
#else
#define LOCK() ((void)0)
#define UNLOCK() ((void)0)
#endif

/* ------------------------------------------------------------ messages -- */
static void (*misuse_hook)(const char *msg);

static char *put_str(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_xdigits(char *p, char *end, uintptr_t v)
{
	char tmp[2 * sizeof v];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n && p < end)
		*p++ = tmp[--n];
	return p;
}

static char *put_hex(char *p, char *end, uintptr_t v)
{
	return put_xdigits(put_str(p, end, "0x"), end, v);
}

/* "sim_kernel: <call>(work=0x...[ "name"]): <what>" then abort(). Called
   without the lock held. */
static void report(const char *call, const void *obj, const char *name, const char *what, int fatal)
{
	char buf[256], *p = buf, *end = buf + sizeof buf - 2;
	p = put_str(p, end, "sim_kernel: ");
	p = put_str(p, end, call);
	p = put_str(p, end, "(");
	p = put_hex(p, end, (uintptr_t)obj);
	if (name && *name) {
		p = put_str(p, end, " \"");
		p = put_str(p, end, name);
		p = put_str(p, end, "\"");
	}
	p = put_str(p, end, "): ");
	p = put_str(p, end, what);
	*p = 0;
	if (misuse_hook && !fatal) {
		misuse_hook(buf);
		return;
	}
	*p++ = '\n';
	if (write(2, buf, (size_t)(p - buf)) < 0) { /* nothing more to do */
	}
	abort();
}

/* ------------------------------------------------------------ the pool -- */
#if SIM_BAREMETAL
static unsigned char pool_mem[SIM_POOL_BYTES + PAGE] __attribute__((section(".noinit"), aligned(8)));
static uint32_t dirty[SIM_POOL_BYTES / PAGE / 32]; /* 1 = page may be non-zero */
#endif
static unsigned char *pool; /* 4 KiB aligned */

static void pool_init(void)
{
	if (pool)
		return;
#if SIM_BAREMETAL
	pool = (unsigned char *)(((uintptr_t)pool_mem + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
#else
	void *p = mmap(NULL, SIM_POOL_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		report("sim_kernel init", NULL, NULL, "cannot reserve the pool with mmap", 1);
	pool = p;
#endif
}

/* Fresh block: zeroed (as on the Vita) or filled with 0xA5 in poison mode. */
static int poison;
static void block_map(size_t off, size_t size)
{
#if SIM_BAREMETAL
	size_t pg;
	for (pg = off / PAGE; pg < (off + size) / PAGE; pg++) {
		uint32_t bit = 1u << (pg & 31);
		if (poison) {
			dirty[pg / 32] |= bit;
		} else if (dirty[pg / 32] & bit) {
			memset(pool + pg * PAGE, 0, PAGE);
			dirty[pg / 32] &= ~bit;
		}
	}
#else
	if (mprotect(pool + off, size, PROT_READ | PROT_WRITE) != 0)
		report("sceKernelAllocMemBlock", pool + off, NULL, "mprotect failed", 1);
#endif
	if (poison)
		memset(pool + off, 0xA5, size);
}

static void block_unmap(size_t off, size_t size)
{
#if SIM_BAREMETAL
	size_t pg;
	for (pg = off / PAGE; pg < (off + size) / PAGE; pg++)
		dirty[pg / 32] |= 1u << (pg & 31);
	if (poison)
		memset(pool + off, 0xDD, size);
#else
	if (madvise(pool + off, size, MADV_DONTNEED) != 0 || mprotect(pool + off, size, PROT_NONE) != 0)
		report("sceKernelFreeMemBlock", pool + off, NULL, "madvise/mprotect failed", 1);
#endif
}

/* ----------------------------------------------------------- memblocks -- */
typedef struct {
	SceUID uid;
	SceUInt32 type;
	size_t off, size;
	char name[32];
} blk_t;

enum { CLS_MAIN, CLS_CDRAM, CLS_PHYCONT };
static blk_t blocks[SIM_MAX_BLOCKS]; /* sorted by off */
static unsigned nblocks, block_limit = 2048, uid_serial;
static unsigned long long budget[3] = {256 * MiB, 112 * MiB, 26 * MiB}, used[3];
static int fail_after = -1, fail_every, every_count;
static sim_counters_t ctr;

static int type_info(SceUInt32 type, size_t *gran, int *cls)
{
	switch (type) {
	case SIM_MEMBLOCK_TYPE_USER_RW:
	case SIM_MEMBLOCK_TYPE_USER_RW_UNCACHE: *gran = 4096; *cls = CLS_MAIN; return 1;
	case SIM_MEMBLOCK_TYPE_USER_CDRAM_RW: *gran = 256 * 1024; *cls = CLS_CDRAM; return 1;
	case SIM_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_RW:
	case SIM_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_NC_RW: *gran = 1024 * 1024; *cls = CLS_PHYCONT; return 1;
	default: return 0;
	}
}

static int cls_of(SceUInt32 type)
{
	size_t g;
	int c = CLS_MAIN;
	type_info(type, &g, &c);
	return c;
}

static int find_uid(SceUID uid)
{
	unsigned i;
	for (i = 0; i < nblocks; i++)
		if (blocks[i].uid == uid)
			return (int)i;
	return -1;
}

/* Block containing [addr, addr + size) (size 0: containing addr), or -1. */
static int find_addr(const void *addr, size_t size)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)pool;
	unsigned i;
	if (!pool || a < b)
		return -1;
	for (i = 0; i < nblocks; i++) {
		uintptr_t lo = b + blocks[i].off, hi = lo + blocks[i].size;
		if (a >= lo && a < hi && size <= hi - a)
			return (int)i;
	}
	return -1;
}

/* First fit: lowest start s with s % m == r in a gap of the sorted table. */
static int place(size_t size, uintptr_t m, uintptr_t r, size_t *off, unsigned *idx)
{
	unsigned i;
	for (i = 0; i <= nblocks; i++) {
		size_t lo = i ? blocks[i - 1].off + blocks[i - 1].size : 0;
		size_t hi = i < nblocks ? blocks[i].off : SIM_POOL_BYTES;
		uintptr_t a = (uintptr_t)pool + lo;
		size_t s = lo + ((r - a) & (m - 1));
		if (s >= lo && s <= hi && size <= hi - s) {
			*off = s;
			*idx = i;
			return 1;
		}
	}
	return 0;
}

static int inject_failure(void)
{
	int fail = 0;
	if (fail_after >= 0 && fail_after-- == 0)
		fail = 1;
	if (fail_every > 0 && ++every_count >= fail_every) {
		every_count = 0;
		fail = 1;
	}
	return fail;
}

SceUID sceKernelAllocMemBlock(const char *name, SceUInt32 type, SceSize size, SceKernelAllocMemBlockOpt *opt)
{
	size_t gran = 0, off = 0, align = 0;
	int cls = 0, err = 0;
	unsigned idx = 0;
	blk_t *b;

	LOCK();
	pool_init();
	ctr.alloc_calls++;
	if (!name)
		err = SIM_ERR_ILLEGAL_ADDR;
	else if (!type_info(type, &gran, &cls))
		err = SIM_ERR_ILLEGAL_MEMBLOCK_TYPE;
	else if (size == 0 || size % gran)
		err = SIM_ERR_ILLEGAL_MEMBLOCK_SIZE;
	else if (opt) {
		if (opt->size < 0x14 || opt->size > 0x58)
			err = SIM_ERR_ILLEGAL_SIZE;
		else if (opt->attr & ~SIM_ALLOC_MEMBLOCK_ATTR_HAS_ALIGNMENT)
			err = SIM_ERR_ILLEGAL_ATTR;
		else if (opt->attr & SIM_ALLOC_MEMBLOCK_ATTR_HAS_ALIGNMENT) {
			align = opt->alignment;
			if (align < 4096 || (align & (align - 1)))
				err = SIM_ERR_ILLEGAL_ALIGNMENT;
		}
	}
	if (!err && inject_failure())
		err = SIM_ERR_NO_MEMORY;
	if (!err && nblocks >= block_limit)
		err = SIM_ERR_UID_MAX_OPEN;
	if (!err && used[cls] + size > budget[cls])
		err = SIM_ERR_NO_MEMORY;
	if (!err) {
		int ok;
		if (!align)
			ok = place(size, 8192, 4096, &off, &idx);
		else if (align > SIM_POOL_BYTES)
			ok = 0;
		else /* A-aligned, not 2A-aligned if that fits anywhere */
			ok = place(size, 2 * (uintptr_t)align, align, &off, &idx) ||
			     place(size, align, 0, &off, &idx);
		if (!ok)
			err = SIM_ERR_NO_MEMORY;
	}
	if (err) {
		ctr.failed_calls++;
		UNLOCK();
		return err;
	}

	memmove(&blocks[idx + 1], &blocks[idx], (nblocks - idx) * sizeof blocks[0]);
	nblocks++;
	b = &blocks[idx];
	uid_serial++;
	/* 0x...1 mod 16: never a simulated thread id (0x...3 mod 16) */
	b->uid = (SceUID)((0x40010001u + 0x10u * uid_serial) & 0x7FFFFFFFu);
	b->type = type;
	b->off = off;
	b->size = size;
	memset(b->name, 0, sizeof b->name);
	strncpy(b->name, name, sizeof b->name - 1);
	used[cls] += size;
	ctr.live_blocks++;
	ctr.live_bytes += size;
	if (ctr.live_blocks > ctr.peak_blocks)
		ctr.peak_blocks = ctr.live_blocks;
	if (ctr.live_bytes > ctr.peak_bytes)
		ctr.peak_bytes = ctr.live_bytes;
	block_map(off, size);
	UNLOCK();
	return b->uid;
}

int sceKernelFreeMemBlock(SceUID uid)
{
	int i;
	LOCK();
	ctr.free_calls++;
	i = find_uid(uid);
	if (i < 0) {
		ctr.failed_calls++;
		UNLOCK();
		return SIM_ERR_INVALID_UID;
	}
	block_unmap(blocks[i].off, blocks[i].size);
	used[cls_of(blocks[i].type)] -= blocks[i].size;
	ctr.live_blocks--;
	ctr.live_bytes -= blocks[i].size;
	nblocks--;
	memmove(&blocks[i], &blocks[i + 1], (nblocks - (unsigned)i) * sizeof blocks[0]);
	UNLOCK();
	return 0;
}

int sceKernelGetMemBlockBase(SceUID uid, void **base)
{
	int i;
	if (!base)
		return SIM_ERR_ILLEGAL_ADDR;
	LOCK();
	i = find_uid(uid);
	if (i >= 0)
		*base = pool + blocks[i].off;
	UNLOCK();
	return i < 0 ? SIM_ERR_INVALID_UID : 0;
}

SceUID sceKernelFindMemBlockByAddr(const void *addr, SceSize size)
{
	int i;
	SceUID uid;
	LOCK();
	i = find_addr(addr, size);
	uid = i < 0 ? SIM_ERR_ILLEGAL_ADDR : blocks[i].uid;
	UNLOCK();
	return uid;
}

int sceKernelGetMemBlockInfoByAddr(void *base, SceKernelMemBlockInfo *info)
{
	int i;
	if (!info)
		return SIM_ERR_ILLEGAL_ADDR;
	if (info->size != sizeof *info)
		return SIM_ERR_ILLEGAL_SIZE;
	LOCK();
	i = find_addr(base, 0);
	if (i >= 0) {
		info->mappedBase = pool + blocks[i].off;
		info->mappedSize = (SceSize)blocks[i].size;
		info->memoryType = (int)((blocks[i].type >> 8) & 0xFF); /* 0xD0 or 0x80 */
		info->access = (blocks[i].type >> 4) & 7;               /* R|W */
		info->type = blocks[i].type;
	}
	UNLOCK();
	return i < 0 ? SIM_ERR_ILLEGAL_ADDR : 0;
}

static int clamp_int(unsigned long long v)
{
	return v > 0x7FFFFFFFull ? 0x7FFFFFFF : (int)v;
}

int sceKernelGetFreeMemorySize(SceKernelFreeMemorySizeInfo *info)
{
	if (!info)
		return SIM_ERR_ILLEGAL_ADDR;
	if (info->size != (int)sizeof *info)
		return SIM_ERR_ILLEGAL_SIZE;
	LOCK();
	info->size_user = clamp_int(budget[CLS_MAIN] - used[CLS_MAIN]);
	info->size_cdram = clamp_int(budget[CLS_CDRAM] - used[CLS_CDRAM]);
	info->size_phycont = clamp_int(budget[CLS_PHYCONT] - used[CLS_PHYCONT]);
	UNLOCK();
	return 0;
}

/* ------------------------------------------------------------- SceClib -- */
/* sceClibPrintf: the kernel's debug output. Formatted here without stdio
   (it allocates) into a stack buffer, written to stderr in one write(), and
   kept (sim_clib_printf_last/count) so tests can check the exact text. */
static char clib_last[SIM_CLIB_PRINTF_MAX];
static unsigned clib_count;

static char *put_udec(char *p, char *end, unsigned long long v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && p < end)
		*p++ = tmp[--n];
	return p;
}

int sceClibPrintf(const char *fmt, ...)
{
	char buf[SIM_CLIB_PRINTF_MAX], *p = buf, *end = buf + sizeof buf - 1;
	va_list ap;
	if (!fmt)
		return SIM_ERR_ILLEGAL_ADDR;
	va_start(ap, fmt);
	for (const char *f = fmt; *f && p < end; f++) {
		if (*f != '%') {
			*p++ = *f;
			continue;
		}
		switch (*++f) {
		case 's': {
			const char *a = va_arg(ap, const char *);
			p = put_str(p, end, a ? a : "(null)");
			break;
		}
		case 'd':
		case 'i': {
			int v = va_arg(ap, int);
			if (v < 0 && p < end)
				*p++ = '-';
			p = put_udec(p, end, v < 0 ? -(unsigned long long)v : (unsigned long long)v);
			break;
		}
		case 'u':
			p = put_udec(p, end, va_arg(ap, unsigned));
			break;
		case 'x':
			p = put_xdigits(p, end, va_arg(ap, unsigned));
			break;
		case 'p':
			p = put_hex(p, end, (uintptr_t)va_arg(ap, void *));
			break;
		case 'c':
			*p++ = (char)va_arg(ap, int);
			break;
		case '%':
			*p++ = '%';
			break;
		default:
			/* Strict: a conversion this simulator does not implement is
			   a test bug, not something to print wrongly. */
			va_end(ap);
			report("sceClibPrintf", fmt, fmt, "conversion not simulated", 1);
		}
	}
	va_end(ap);
	*p = 0;
	LOCK();
	memcpy(clib_last, buf, (size_t)(p - buf) + 1);
	clib_count++;
	UNLOCK();
	if (write(2, buf, (size_t)(p - buf)) < 0) { /* nowhere to report it */
	}
	return (int)(p - buf);
}

const char *sim_clib_printf_last(void)
{
	return clib_last;
}

unsigned sim_clib_printf_count(void)
{
	return clib_count;
}

/* ------------------------------------------------------------- LwMutex -- */
typedef struct {
	SceUInt32 magic;  /* LW_LIVE, or LW_DEAD once deleted */
	SceUInt32 check;  /* address of the work area ^ magic: not copied/moved */
	SceUInt32 attr;
	SceInt32 count;   /* lock count; 0 = free */
	unsigned long long owner;
	char name[8];     /* prefix of the name, for messages */
} lw_t;
typedef char lw_fits_work[(sizeof(lw_t) == sizeof(SceKernelLwMutexWork)) ? 1 : -1];

#define LW_LIVE 0x4C774D78u /* "LwMx" */
#define LW_DEAD 0x44656164u /* "Dead" */
#define LW_MISUSE ((int)0x80028181u) /* returned only if a misuse hook returns */

/* The calling thread's id: the current simulated thread on ARM, the calling
   pthread's on the host (defined with the threads below). */
static unsigned long long self_id(void);

static SceUInt32 lw_check(const void *work, SceUInt32 magic)
{
	return (SceUInt32)(uintptr_t)work ^ magic;
}

/* NULL if work holds a live mutex, else what is wrong (lock held). */
static const char *lw_state(const SceKernelLwMutexWork *work)
{
	const lw_t *m = (const lw_t *)work;
	if (!work)
		return "NULL work area";
	if ((uintptr_t)work & 7)
		return "work area not 8-byte aligned";
	if (m->magic == LW_DEAD && m->check == lw_check(work, LW_DEAD))
		return "used after sceKernelDeleteLwMutex";
	if (m->magic != LW_LIVE)
		return "work area was never passed to sceKernelCreateLwMutex (or is corrupted)";
	if (m->check != lw_check(work, LW_LIVE))
		return "work area was copied/moved after creation (or is corrupted)";
	return NULL;
}

static int lw_misuse(const char *call, const SceKernelLwMutexWork *work, const char *what)
{
	char name[9] = {0};
	if (work && !((uintptr_t)work & 7) && ((const lw_t *)work)->magic == LW_LIVE)
		memcpy(name, ((const lw_t *)work)->name, 8);
	UNLOCK();
	report(call, work, name, what, 0);
	return LW_MISUSE;
}

int sceKernelCreateLwMutex(SceKernelLwMutexWork *work, const char *name, unsigned int attr, int initCount, const void *opt)
{
	lw_t *m = (lw_t *)work;
	static const char fn[] = "sceKernelCreateLwMutex";
	(void)opt;
	LOCK();
	if (!work || ((uintptr_t)work & 7))
		return lw_misuse(fn, work, work ? "work area not 8-byte aligned" : "NULL work area");
	if (!lw_state(work))
		return lw_misuse(fn, work, "work area already holds a live mutex (created twice, never deleted)");
	if (attr & ~(SIM_LW_MUTEX_ATTR_RECURSIVE | SIM_LW_MUTEX_ATTR_TH_PRIO))
		return lw_misuse(fn, work, "unknown attribute bits");
	if (initCount < 0 || (initCount > 1 && !(attr & SIM_LW_MUTEX_ATTR_RECURSIVE)))
		return lw_misuse(fn, work, "bad initCount");
	memset(m, 0, sizeof *m);
	m->magic = LW_LIVE;
	m->check = lw_check(work, LW_LIVE);
	m->attr = attr;
	m->count = initCount;
	m->owner = initCount ? self_id() : 0;
	if (name)
		strncpy(m->name, name, sizeof m->name - 1);
	UNLOCK();
	return 0;
}

int sceKernelDeleteLwMutex(SceKernelLwMutexWork *work)
{
	lw_t *m = (lw_t *)work;
	const char *bad;
	LOCK();
	bad = lw_state(work);
	if (bad)
		return lw_misuse("sceKernelDeleteLwMutex", work, bad);
	if (m->count > 0)
		return lw_misuse("sceKernelDeleteLwMutex", work, "deleted while locked");
	m->magic = LW_DEAD;
	m->check = lw_check(work, LW_DEAD);
	UNLOCK();
	return 0;
}

/* Shared by Lock and TryLock. timeout: NULL = forever (Lock only). */
#if SIM_BAREMETAL
static int sched_can_wait(void); /* with the threads, below */
#endif
static int lw_lock(const char *fn, SceKernelLwMutexWork *work, int count, int try_only, unsigned int *timeout)
{
	lw_t *m = (lw_t *)work;
	unsigned long long me = self_id();
	const char *bad;
#if SIM_HOST_THREADS
	struct timespec deadline;
	if (timeout) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += *timeout / 1000000u;
		deadline.tv_nsec += (long)(*timeout % 1000000u) * 1000;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
#endif
	LOCK();
	bad = lw_state(work);
	if (bad)
		return lw_misuse(fn, work, bad);
	if (count <= 0)
		return lw_misuse(fn, work, "count <= 0");
	if (count > 1 && !(m->attr & SIM_LW_MUTEX_ATTR_RECURSIVE))
		return lw_misuse(fn, work, "count > 1 on a non-recursive mutex");
	if (m->count > 0 && m->owner == me) {
		if (!(m->attr & SIM_LW_MUTEX_ATTR_RECURSIVE))
			return lw_misuse(fn, work, "recursive lock of a non-recursive mutex (the Vita fails or deadlocks)");
		m->count += count;
		UNLOCK();
		return 0;
	}
	if (m->count > 0 && try_only) {
		UNLOCK();
		return SIM_ERR_LW_MUTEX_FAILED_TO_OWN;
	}
#if SIM_HOST_THREADS
	while (m->count > 0) {
		pthread_cond_t *cv = &g_cond[((uintptr_t)work >> 3) % NCOND];
		int rc = timeout ? pthread_cond_timedwait(cv, &g_lock, &deadline) : pthread_cond_wait(cv, &g_lock);
		bad = lw_state(work);
		if (bad)
			return lw_misuse(fn, work, bad);
		if (rc == ETIMEDOUT && m->count > 0) {
			*timeout = 0;
			UNLOCK();
			return SIM_ERR_WAIT_TIMEOUT;
		}
	}
#else
	/* runnable threads (sim_thread_spawn): wait as on the Vita, letting
	   the others run until the owner unlocks */
	while (m->count > 0 && sched_can_wait()) {
		UNLOCK();
		sim_yield();
		LOCK();
		bad = lw_state(work);
		if (bad)
			return lw_misuse(fn, work, bad);
	}
	if (m->count > 0) {
		/* another simulated thread holds it and nothing else can run: a
		   timed wait times out, an untimed one would never return */
		if (timeout) {
			*timeout = 0;
			UNLOCK();
			return SIM_ERR_WAIT_TIMEOUT;
		}
		return lw_misuse(fn, work, "locked by another simulated thread: this thread would wait forever (the simulator has no scheduler; switch back to the owner and unlock)");
	}
#endif
	m->count = count;
	m->owner = me;
	UNLOCK();
	return 0;
}

int sceKernelLockLwMutex(SceKernelLwMutexWork *work, int count, unsigned int *timeout)
{
	return lw_lock("sceKernelLockLwMutex", work, count, 0, timeout);
}

int sceKernelTryLockLwMutex(SceKernelLwMutexWork *work, int count)
{
	return lw_lock("sceKernelTryLockLwMutex", work, count, 1, NULL);
}

int sceKernelUnlockLwMutex(SceKernelLwMutexWork *work, int count)
{
	lw_t *m = (lw_t *)work;
	static const char fn[] = "sceKernelUnlockLwMutex";
	const char *bad;
	LOCK();
	bad = lw_state(work);
	if (bad)
		return lw_misuse(fn, work, bad);
	if (count <= 0)
		return lw_misuse(fn, work, "count <= 0");
	if (m->count == 0)
		return lw_misuse(fn, work, "unlock of a mutex that is not locked");
	if (m->owner != self_id())
		return lw_misuse(fn, work, "unlock by a thread that does not own the mutex");
	if (count > m->count)
		return lw_misuse(fn, work, "unlock count exceeds the lock count");
	m->count -= count;
	if (m->count == 0) {
		m->owner = 0;
#if SIM_HOST_THREADS
		pthread_cond_broadcast(&g_cond[((uintptr_t)work >> 3) % NCOND]);
#endif
	}
	UNLOCK();
	return 0;
}

/* ------------------------------------------------------ TLS and threads -- */
#define TLS_WORDS (SIM_TLS_AREA_SIZE / 4)
#define SIM_THREAD_PRIORITY 160        /* a user thread's default priority */
#define SIM_THREAD_AFFINITY 0x00070000 /* SCE_KERNEL_CPU_MASK_USER_ALL */
/* vita-headers: VITASDK_BUILD_ASSERT_EQ(0x80, SceKernelThreadInfo) */
typedef char thread_info_is_0x80[(sizeof(void *) != 4 || sizeof(SceKernelThreadInfo) == 0x80) ? 1 : -1];

static int valid_key(int key)
{
	return key >= 0 && key <= SIM_TLS_KEY_MAX;
}

/* Thread n (creation order, main = 0): 0x40010003 + 0x10 * n, > 0. */
static SceUID thread_id_of(unsigned n)
{
	return (SceUID)((SIM_MAIN_THREAD_ID + 0x10u * n) & 0x7FFFFFFFu); /* 3 mod 16: never 0 */
}

static void fill_info(SceKernelThreadInfo *info, SceUID thid, SceUInt32 status, int exit_status)
{
	char *p = info->name, *end = info->name + sizeof info->name - 1;
	memset((char *)info + sizeof info->size, 0, sizeof *info - sizeof info->size);
	info->processId = SIM_PROCESS_ID;
	if (thid == SIM_MAIN_THREAD_ID)
		put_str(p, end, "main_thread");
	else
		put_hex(put_str(p, end, "sim_thread_"), end, (uintptr_t)(SceUInt32)thid);
	info->status = status;
	info->initPriority = info->currentPriority = SIM_THREAD_PRIORITY;
	info->initCpuAffinityMask = 0; /* SCE_KERNEL_THREAD_CPU_AFFINITY_MASK_DEFAULT */
	info->currentCpuAffinityMask = SIM_THREAD_AFFINITY;
	info->exitStatus = exit_status;
	/* entry, stack, stackSize, cpu ids, clocks, counts: 0 (no real thread) */
}

int sim_tls_slot_offset(void)
{
#if SIM_TLS_LAYOUT_ABOVE
	return SIM_TLS_ABOVE_OFFSET;
#else
	return -SIM_TLS_AREA_SIZE;
#endif
}

#if SIM_BAREMETAL
/* ---- ARM: simulated threads, TPIDRURO through qemu-arm's set_tls ---- */
enum { TH_FREE, TH_ALIVE, TH_DORMANT, TH_KILLED }; /* KILLED: dormant-like */
typedef struct {
	SceUID id; /* 0 when free */
	int state;
	int exit_status;
} thr_t;

static thr_t thr[SIM_MAX_THREADS] = {{SIM_MAIN_THREAD_ID, TH_ALIVE, 0}}; /* [0]: main, forever */
/* .bss: zero at start-up, like a fresh thread's slots */
/* A thread's TLS block. Standard layout (Vita3K's model): the slots, then
   TPIDRURO = their end. SIM_TLS_LAYOUT_ABOVE (a build option: a layout the
   allocator's fast path does not expect): TLS_BELOW_WORDS words of
   non-zero garbage, then TPIDRURO, a header, then the slots; a fast path
   that read TPIDRURO - 0x800 + 4 * key would find garbage. */
#if SIM_TLS_LAYOUT_ABOVE
#define TLS_BELOW_WORDS TLS_WORDS
#define TLS_HEAD_WORDS (SIM_TLS_ABOVE_OFFSET / 4)
#define TLS_GARBAGE 0xB0D1E5u /* odd, not 0: never a valid pointer */
#else
#define TLS_BELOW_WORDS 0
#define TLS_HEAD_WORDS 0
#endif
static uint32_t tls_block[SIM_MAX_THREADS][TLS_BELOW_WORDS + TLS_HEAD_WORDS + TLS_WORDS] __attribute__((aligned(64)));
#define tls_mem(i) (tls_block[i] + TLS_BELOW_WORDS + TLS_HEAD_WORDS) /* the slots */
static unsigned cur;               /* index of the current thread */
static unsigned thread_serial = 1; /* n of the next thread id */
static int tp_ready;

static unsigned long long self_id(void)
{
	return (SceUInt32)thr[cur].id;
}

static uint32_t tp_of(unsigned i)
{
#if SIM_TLS_LAYOUT_ABOVE
	return (uint32_t)(uintptr_t)(tls_block[i] + TLS_BELOW_WORDS);
#else
	return (uint32_t)(uintptr_t)(tls_mem(i) + TLS_WORDS);
#endif
}

static uint32_t read_tpidruro(void)
{
	uint32_t v;
	__asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(v));
	return v;
}

/* Linux's ARM private syscall set_tls (__ARM_NR_set_tls = 0x0f0005, EABI:
   number in r7, value in r0, returns 0), implemented by qemu-arm in
   linux-user mode even for a bare-metal (rdimon) program. r7 is saved by
   hand: it is the Thumb frame pointer at -O0, which asm may not clobber. */
static void write_tpidruro(uint32_t v)
{
	register uint32_t r0 __asm__("r0") = v;
	__asm__ volatile("push {r7}\n\t"
	                 "movw r7, #0x0005\n\t"
	                 "movt r7, #0x000f\n\t"
	                 "svc #0\n\t"
	                 "pop {r7}"
	                 : "+r"(r0)
	                 :
	                 : "memory");
	if (r0 != 0 || read_tpidruro() != v)
		report("sim_kernel: set_tls", (void *)(uintptr_t)v, NULL,
		       "TPIDRURO could not be set (the ARM private syscall set_tls failed): run ARM tests under qemu-arm (linux-user mode)",
		       1);
}

/* A fresh TLS area: zeroed, then the slots the kernel fills. */
static void tls_fresh(unsigned i, SceUID id)
{
	memset(tls_block[i], 0, sizeof tls_block[i]);
#if SIM_TLS_LAYOUT_ABOVE
	{
		unsigned w;
		for (w = 0; w < TLS_BELOW_WORDS; w++)
			tls_block[i][w] = TLS_GARBAGE + 2u * w;
	}
#endif
	tls_mem(i)[SIM_TLS_KEY_PROCESS_ID] = SIM_PROCESS_ID;
	tls_mem(i)[SIM_TLS_KEY_THREAD_ID] = (uint32_t)id;
	tls_mem(i)[SIM_TLS_KEY_PRIORITY] = SIM_THREAD_PRIORITY;
	tls_mem(i)[SIM_TLS_KEY_CPU_AFFINITY] = SIM_THREAD_AFFINITY;
}

static void tp_boot(void)
{
	/* first call: the main thread is current, its area is still all zero */
	tls_fresh(cur, thr[cur].id);
	write_tpidruro(tp_of(cur));
	tp_ready = 1;
}
#define BOOT() do { if (!tp_ready) tp_boot(); } while (0)

void sim_kernel_start(void)
{
	BOOT();
}

/* Index of the alive or dormant thread thid (0: the current one), or -1. */
static int find_thread(SceUID thid)
{
	unsigned i;
	if (thid == SIM_THREAD_ID_SELF)
		return (int)cur;
	for (i = 0; i < SIM_MAX_THREADS; i++)
		if (thr[i].state != TH_FREE && thr[i].id == thid)
			return (int)i;
	return -1;
}

void *sceKernelGetTLSAddr(int key)
{
	uint32_t tp;
	BOOT();
	if (!valid_key(key))
		return NULL;
	tp = read_tpidruro(); /* as SceLibKernel does */
	if (tp != tp_of(cur))
		report("sceKernelGetTLSAddr", (void *)(uintptr_t)tp, NULL,
		       "TPIDRURO is not the current simulated thread's (changed behind the simulator's back)", 1);
	return (void *)(uintptr_t)(tp + (uint32_t)sim_tls_slot_offset() + 4u * (unsigned)key);
}

int sceKernelGetThreadId(void)
{
	BOOT();
	return thr[cur].id;
}

int sceKernelGetThreadInfo(SceUID thid, SceKernelThreadInfo *info)
{
	int i;
	BOOT();
	if (!info)
		return SIM_ERR_ILLEGAL_ADDR;
	if (info->size != sizeof *info) /* 0x80 on the Vita */
		return SIM_ERR_INVALID_ARGUMENT_SIZE;
	i = find_thread(thid);
	if (i < 0)
		return SIM_ERR_UNKNOWN_THREAD_ID;
	fill_info(info, thr[i].id,
	          thr[i].state == TH_DORMANT ? SIM_THREAD_STATUS_DORMANT
	          : thr[i].state == TH_KILLED ? SIM_THREAD_STATUS_DELETED
	          : (unsigned)i == cur       ? SIM_THREAD_STATUS_RUNNING
	                                     : SIM_THREAD_STATUS_READY,
	          thr[i].exit_status);
	return 0;
}

void *sceKernelGetThreadTLSAddr(SceUID thid, int key)
{
	int i;
	BOOT();
	i = find_thread(thid);
	if (i < 0 || !valid_key(key))
		return NULL;
	return &tls_mem(i)[key];
}

static SceUID thread_new(SceUID id)
{
	unsigned i;
	for (i = 0; i < SIM_MAX_THREADS; i++)
		if (thr[i].state == TH_FREE)
			break;
	if (i == SIM_MAX_THREADS)
		return SIM_ERR_NO_MEMORY;
	thr[i].id = id;
	thr[i].state = TH_ALIVE;
	thr[i].exit_status = 0;
	tls_fresh(i, id);
	return id;
}

SceUID sim_thread_create(void)
{
	SceUID id;
	BOOT();
	do /* skip ids that sim_thread_create_with_id handed out */
		id = thread_id_of(thread_serial++);
	while (find_thread(id) >= 0);
	return thread_new(id);
}

SceUID sim_thread_create_with_id(SceUID thid)
{
	BOOT();
	if (thid <= 0 || find_thread(thid) >= 0)
		return SIM_ERR_ILLEGAL_THREAD_ID;
	return thread_new(thid);
}

int sim_thread_switch(SceUID thid)
{
	int i;
	BOOT();
	i = thid == SIM_THREAD_ID_SELF ? -1 : find_thread(thid);
	if (i < 0)
		return SIM_ERR_UNKNOWN_THREAD_ID;
	if (thr[i].state != TH_ALIVE)
		return SIM_ERR_DORMANT;
	cur = (unsigned)i;
	write_tpidruro(tp_of(cur));
	return 0;
}

static void ctx_forget(unsigned i); /* with the runnable threads, below */

/* Common part of the two exits: thid's index, or an error (< 0). */
static int exiting(SceUID thid)
{
	int i = thid == SIM_THREAD_ID_SELF ? -1 : find_thread(thid);
	if (i < 0)
		return SIM_ERR_UNKNOWN_THREAD_ID;
	if (i == 0)
		return SIM_ERR_ILLEGAL_THREAD_ID; /* the main thread */
	ctx_forget((unsigned)i);
	if ((unsigned)i == cur) { /* the "scheduler" runs the main thread */
		cur = 0;
		write_tpidruro(tp_of(cur));
	}
	return i;
}

int sim_thread_exit(SceUID thid)
{
	int i;
	BOOT();
	i = exiting(thid);
	if (i < 0)
		return i;
	thr[i].id = 0;
	thr[i].state = TH_FREE;
	if (poison)
		memset(tls_mem(i), 0xDD, TLS_WORDS * 4);
	return 0;
}

/* Common part of the two exits that keep the thread queryable. */
static int exit_keep(SceUID thid, int state, int exit_status)
{
	int i;
	BOOT();
	i = thid == SIM_THREAD_ID_SELF ? -1 : find_thread(thid);
	if (i >= 0 && thr[i].state != TH_ALIVE)
		return SIM_ERR_DORMANT;
	i = exiting(thid);
	if (i < 0)
		return i;
	thr[i].state = state;
	thr[i].exit_status = exit_status;
	return 0;
}

int sim_thread_exit_dormant(SceUID thid, int exit_status)
{
	return exit_keep(thid, TH_DORMANT, exit_status);
}

int sim_thread_kill(SceUID thid)
{
	return exit_keep(thid, TH_KILLED, 0);
}

/* Only a thread that no longer runs can be deleted (NOT_DORMANT
   otherwise, the caller included: it is running). */
int sceKernelDeleteThread(SceUID thid)
{
	int i;
	BOOT();
	i = thid == SIM_THREAD_ID_SELF ? (int)cur : find_thread(thid);
	if (i < 0)
		return SIM_ERR_UNKNOWN_THREAD_ID;
	if (thr[i].state == TH_ALIVE)
		return SIM_ERR_NOT_DORMANT;
	return sim_thread_exit(thr[i].id);
}

/* ---- runnable simulated threads: own stacks, switched cooperatively ---- */
/* A spawned thread has a stack here and a saved context; the main thread's
   context is the program's own. Switching saves the callee-saved core and
   VFP registers (AAPCS, hard float) on the old stack and pops the new
   one's; a new thread's stack starts with a frame that "returns" into
   spawn_trampoline. Only spawned threads and the main thread run code;
   a thread made by sim_thread_create has no context and is never chosen. */
#define SPAWN_MAX 16
#define SPAWN_STACK (64 * 1024)
enum { CTX_NONE, CTX_READY, CTX_DONE };
static uint8_t spawn_stacks[SPAWN_MAX][SPAWN_STACK] __attribute__((aligned(16)));
static int spawn_stack_used[SPAWN_MAX];
static struct {
	int state;      /* CTX_* */
	int stack;      /* index in spawn_stacks */
	uint32_t sp;    /* saved stack pointer while not running */
	sim_entry_t entry;
	void *arg;
} ctx[SIM_MAX_THREADS];
static uint32_t sched_rng = 0x9E3779B9u;
static unsigned preempt_percent[SIM_PREEMPT_POINTS];
static unsigned preempt_hits[SIM_PREEMPT_POINTS], preempt_switches[SIM_PREEMPT_POINTS];

/* void ctx_switch(uint32_t *save_sp, uint32_t new_sp): saves r3-r11, lr
   (r3: keeps the frame 8-byte aligned) and d8-d15 on this stack, stores
   sp, loads new_sp and pops the same frame from it. */
__attribute__((naked, noinline)) static void ctx_switch(uint32_t *save_sp, uint32_t new_sp)
{
	__asm__ volatile("push {r3-r11, lr}\n\t"
	                 "vpush {d8-d15}\n\t"
	                 "mov r2, sp\n\t"
	                 "str r2, [r0]\n\t"
	                 "mov sp, r1\n\t"
	                 "vpop {d8-d15}\n\t"
	                 "pop {r3-r11, pc}\n\t");
	(void)save_sp;
	(void)new_sp;
}

static uint32_t sched_next_random(void)
{
	uint32_t x = sched_rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return sched_rng = x;
}

static int runnable(unsigned i)
{
	return thr[i].state == TH_ALIVE && (i == 0 || ctx[i].state == CTX_READY);
}

/* Another runnable thread, chosen at random; -1 if none. */
static int pick_other(void)
{
	unsigned i, n = 0, k;
	for (i = 0; i < SIM_MAX_THREADS; i++)
		n += i != cur && runnable(i);
	if (n == 0)
		return -1;
	k = sched_next_random() % n;
	for (i = 0; i < SIM_MAX_THREADS; i++)
		if (i != cur && runnable(i) && k-- == 0)
			return (int)i;
	return -1;
}

static void run(unsigned to, uint32_t *save_sp)
{
	cur = to;
	write_tpidruro(tp_of(cur));
	ctx_switch(save_sp, ctx[to].sp);
}

static void spawn_trampoline(void)
{
	unsigned me = cur;
	static uint32_t dead_sp;
	int to;
	ctx[me].entry(ctx[me].arg);
	/* returned: dormant, as a Vita thread that returns from its entry */
	ctx[me].state = CTX_DONE;
	spawn_stack_used[ctx[me].stack] = 0; /* reused only after the switch */
	thr[me].state = TH_DORMANT;
	thr[me].exit_status = 0;
	to = pick_other();
	if (to < 0)
		to = 0;
	run((unsigned)to, &dead_sp);
	report("sim_thread_spawn", NULL, NULL, "a finished thread was resumed", 1);
}

/* Thread i ends without returning from its entry (sim_thread_exit and
   friends, from another thread): its context and stack are dropped. */
static void ctx_forget(unsigned i)
{
	if (ctx[i].state != CTX_READY)
		return;
	if (i == cur)
		report("sim_thread_exit", NULL, NULL, "a spawned thread ends by returning from its entry, not by exiting itself", 1);
	ctx[i].state = CTX_NONE;
	spawn_stack_used[ctx[i].stack] = 0;
}

/* The running code belongs to a thread that has a context of its own. */
static int ctx_running(void)
{
	return cur == 0 || ctx[cur].state == CTX_READY;
}

static int sched_can_wait(void)
{
	return ctx_running() && pick_other() >= 0;
}

SceUID sim_thread_spawn(sim_entry_t entry, void *arg)
{
	SceUID id;
	int s, i;
	uint32_t *sp;
	BOOT();
	for (s = 0; s < SPAWN_MAX && spawn_stack_used[s]; s++)
		;
	if (s == SPAWN_MAX || !entry)
		return SIM_ERR_NO_MEMORY;
	id = sim_thread_create();
	if (id < 0)
		return id;
	i = find_thread(id);
	spawn_stack_used[s] = 1;
	ctx[i].state = CTX_READY;
	ctx[i].stack = s;
	ctx[i].entry = entry;
	ctx[i].arg = arg;
	/* the frame ctx_switch pops: d8-d15 (16 words), r3-r11 (9), pc */
	sp = (uint32_t *)(spawn_stacks[s] + SPAWN_STACK) - 26;
	memset(sp, 0, 25 * 4);
	sp[25] = (uint32_t)(uintptr_t)spawn_trampoline;
	ctx[i].sp = (uint32_t)(uintptr_t)sp;
	return id;
}

void sim_yield(void)
{
	int to;
	unsigned me;
	BOOT();
	if (!ctx_running())
		return;
	to = pick_other();
	if (to < 0)
		return;
	me = cur;
	run((unsigned)to, &ctx[me].sp);
	/* resumed: whoever switched back set cur = me */
}

void sim_sched_run(void)
{
	unsigned i;
	int any;
	BOOT();
	if (cur != 0)
		report("sim_sched_run", NULL, NULL, "must be called by the main thread", 1);
	do {
		any = 0;
		for (i = 1; i < SIM_MAX_THREADS; i++)
			any |= thr[i].state == TH_ALIVE && ctx[i].state == CTX_READY;
		if (any)
			sim_yield();
	} while (any);
}

void sim_preempt_config(unsigned seed, unsigned percent)
{
	unsigned i;
	sched_rng = seed ? seed : 0x9E3779B9u;
	for (i = 0; i < SIM_PREEMPT_POINTS; i++)
		preempt_percent[i] = percent;
}

void sim_preempt_set_point(unsigned id, unsigned percent)
{
	if (id < SIM_PREEMPT_POINTS)
		preempt_percent[id] = percent;
}

void sim_preempt_point(unsigned id)
{
	if (id >= SIM_PREEMPT_POINTS)
		return;
	preempt_hits[id]++;
	if (!preempt_percent[id] || !tp_ready || !ctx_running())
		return;
	if (sched_next_random() % 100 < preempt_percent[id]) {
		preempt_switches[id]++;
		sim_yield();
	}
}

void sim_preempt_counts(unsigned id, unsigned *hits, unsigned *switches)
{
	*hits = id < SIM_PREEMPT_POINTS ? preempt_hits[id] : 0;
	*switches = id < SIM_PREEMPT_POINTS ? preempt_switches[id] : 0;
}

SceUID sim_thread_current(void)
{
	BOOT();
	return thr[cur].id;
}

#else
/* ---- host: real pthreads; pointer-sized __thread slots ------------------ */
static __thread uintptr_t tls_slots[SIM_TLS_KEY_MAX + 1];
static __thread SceUID host_tid;
static unsigned host_serial; /* ids handed out so far (atomic) */

/* Lock-free (callers may hold g_lock): each pthread gets the next thread
   id on its first call, and the kernel's slots of its TLS are filled. */
static SceUID host_self(void)
{
	if (!host_tid) {
		host_tid = thread_id_of(__atomic_fetch_add(&host_serial, 1, __ATOMIC_RELAXED));
		tls_slots[SIM_TLS_KEY_PROCESS_ID] = SIM_PROCESS_ID;
		tls_slots[SIM_TLS_KEY_THREAD_ID] = (uintptr_t)host_tid;
		tls_slots[SIM_TLS_KEY_PRIORITY] = SIM_THREAD_PRIORITY;
		tls_slots[SIM_TLS_KEY_CPU_AFFINITY] = SIM_THREAD_AFFINITY;
	}
	return host_tid;
}

static unsigned long long self_id(void)
{
	return (SceUInt32)host_self();
}

void sim_kernel_start(void) { }

void *sceKernelGetTLSAddr(int key)
{
	host_self();
	return valid_key(key) ? (void *)&tls_slots[key] : NULL;
}

int sceKernelGetThreadId(void)
{
	return host_self();
}

/* The host does not see pthreads end: every id handed out counts as alive
   (status READY unless it is the caller's). */
int sceKernelGetThreadInfo(SceUID thid, SceKernelThreadInfo *info)
{
	SceUID me = host_self();
	unsigned n, handed = __atomic_load_n(&host_serial, __ATOMIC_RELAXED);
	if (!info)
		return SIM_ERR_ILLEGAL_ADDR;
	if (info->size != sizeof *info)
		return SIM_ERR_INVALID_ARGUMENT_SIZE;
	if (thid == SIM_THREAD_ID_SELF)
		thid = me;
	n = ((SceUInt32)thid - SIM_MAIN_THREAD_ID) / 0x10u;
	if (thid <= 0 || ((SceUInt32)thid - SIM_MAIN_THREAD_ID) % 0x10u || n >= handed || thread_id_of(n) != thid)
		return SIM_ERR_UNKNOWN_THREAD_ID;
	fill_info(info, thid, thid == me ? SIM_THREAD_STATUS_RUNNING : SIM_THREAD_STATUS_READY, 0);
	return 0;
}

/* The host gives only the calling pthread's own slots (thid 0 or its id);
   NULL for any other id. */
void *sceKernelGetThreadTLSAddr(SceUID thid, int key)
{
	SceUID me = host_self();
	return (thid == SIM_THREAD_ID_SELF || thid == me) && valid_key(key) ? (void *)&tls_slots[key] : NULL;
}

SceUID sim_thread_create(void) { return SIM_ERR_UNSUP; }
SceUID sim_thread_create_with_id(SceUID thid) { (void)thid; return SIM_ERR_UNSUP; }
int sim_thread_switch(SceUID thid) { (void)thid; return SIM_ERR_UNSUP; }
int sim_thread_exit(SceUID thid) { (void)thid; return SIM_ERR_UNSUP; }
int sim_thread_exit_dormant(SceUID thid, int exit_status) { (void)thid; (void)exit_status; return SIM_ERR_UNSUP; }
int sim_thread_kill(SceUID thid) { (void)thid; return SIM_ERR_UNSUP; }
int sceKernelDeleteThread(SceUID thid) { (void)thid; return SIM_ERR_UNSUP; }
SceUID sim_thread_current(void) { return host_self(); }
SceUID sim_thread_spawn(sim_entry_t entry, void *arg) { (void)entry; (void)arg; return SIM_ERR_UNSUP; }
void sim_yield(void) { }
void sim_sched_run(void) { }
void sim_preempt_config(unsigned seed, unsigned percent) { (void)seed; (void)percent; }
void sim_preempt_set_point(unsigned id, unsigned percent) { (void)id; (void)percent; }
void sim_preempt_point(unsigned id) { (void)id; }
void sim_preempt_counts(unsigned id, unsigned *hits, unsigned *switches) { (void)id; *hits = *switches = 0; }
#endif

/* ---------------------------------------------------- test control API -- */
void sim_set_poison(int on) { LOCK(); poison = on != 0; UNLOCK(); }
void sim_fail_alloc_after(int n) { LOCK(); fail_after = n < 0 ? -1 : n; UNLOCK(); }
void sim_fail_alloc_every(int n) { LOCK(); fail_every = n > 0 ? n : 0; every_count = 0; UNLOCK(); }
void sim_set_budget(unsigned main_bytes) { LOCK(); budget[CLS_MAIN] = main_bytes; UNLOCK(); }

void sim_set_budgets(unsigned main_bytes, unsigned cdram_bytes, unsigned phycont_bytes)
{
	LOCK();
	budget[CLS_MAIN] = main_bytes;
	budget[CLS_CDRAM] = cdram_bytes;
	budget[CLS_PHYCONT] = phycont_bytes;
	UNLOCK();
}

void sim_set_block_limit(int n)
{
	LOCK();
	block_limit = n < 0 ? 0 : n > SIM_MAX_BLOCKS ? SIM_MAX_BLOCKS : (unsigned)n;
	UNLOCK();
}

void sim_get_counters(sim_counters_t *out) { LOCK(); *out = ctr; UNLOCK(); }

void sim_reset_peaks(void)
{
	LOCK();
	ctr.peak_blocks = ctr.live_blocks;
	ctr.peak_bytes = ctr.live_bytes;
	UNLOCK();
}

int sim_live_block(unsigned i, sim_block_t *out)
{
	int ok;
	LOCK();
	ok = i < nblocks;
	if (ok) {
		out->uid = blocks[i].uid;
		out->base = pool + blocks[i].off;
		out->size = (SceSize)blocks[i].size;
		out->type = blocks[i].type;
		memcpy(out->name, blocks[i].name, sizeof out->name);
	}
	UNLOCK();
	return ok;
}

int sim_lwmutex_count(const SceKernelLwMutexWork *work)
{
	int n;
	LOCK();
	n = lw_state(work) ? -1 : ((const lw_t *)work)->count;
	UNLOCK();
	return n;
}

void sim_set_misuse_hook(void (*hook)(const char *msg)) { LOCK(); misuse_hook = hook; UNLOCK(); }
