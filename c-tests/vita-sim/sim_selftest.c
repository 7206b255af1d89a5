/*
 * sim_selftest.c -- tests the simulated Vita kernel itself (sim_kernel.c,
 * sim_sbrk.c, sim_crt.c), on the host and on ARM under qemu-arm.
 *
 * Linked like a VitaSDK program without vitalloc: sim_crt.o, then
 * libsim_sbrk.a, libsim_kernel.a, -lc. So the simulated sbrk.o has reserved
 * its 128 MiB "Newlib heap" block before main, and (on ARM) newlib's own
 * malloc, used by printf, lives in it. Must never rely on the simulator
 * being lenient: every check states what the real kernel would do.
 */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_kernel.h"

#ifdef __NEWLIB__
#include <reent.h>
#else
struct _reent { int _errno; };
#endif
#if !(defined(__arm__) && !defined(__linux__))
#define HOST_THREADS 1
#include <pthread.h>
#else
#define SIM_THREADS 1 /* simulated threads, TPIDRURO */
static uint32_t read_tpidruro(void)
{
	uint32_t v;
	__asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(v));
	return v;
}
#endif

void *_sbrk_r(struct _reent *r, ptrdiff_t incr);
int _get_vita_heap_size(void);

#define KiB 1024u
#define MiB (1024u * 1024u)
#define USER_RW SIM_MEMBLOCK_TYPE_USER_RW
#define UNCACHE SIM_MEMBLOCK_TYPE_USER_RW_UNCACHE
#define CDRAM SIM_MEMBLOCK_TYPE_USER_CDRAM_RW
#define PHYCONT SIM_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_RW
#define PHYCONT_NC SIM_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_NC_RW

static int failures;
#define CHECK(c) do { if (!(c)) { failures++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { failures++; printf("FAIL %s:%d: %s == %s (0x%llx != 0x%llx)\n", __FILE__, __LINE__, #a, #b, a_, b_); } } while (0)

static uintptr_t base_of(SceUID uid)
{
	void *b = NULL;
	CHECK_EQ(sceKernelGetMemBlockBase(uid, &b), 0);
	return (uintptr_t)b;
}

static SceUID alloc_aligned(SceUInt32 type, SceSize size, SceSize align)
{
	SceKernelAllocMemBlockOpt opt;
	memset(&opt, 0, sizeof opt);
	opt.size = sizeof opt;
	opt.attr = SIM_ALLOC_MEMBLOCK_ATTR_HAS_ALIGNMENT;
	opt.alignment = align;
	return sceKernelAllocMemBlock("aligned", type, size, &opt);
}

static int all_bytes(uintptr_t p, size_t n, unsigned char v)
{
	const unsigned char *c = (const unsigned char *)p;
	size_t i;
	for (i = 0; i < n; i++)
		if (c[i] != v)
			return 0;
	return 1;
}

/* ---- the simulated sbrk.o: runs first, before printf touches the heap -- */
static uintptr_t heap_base;
static sim_counters_t at_first_constructor;
#ifdef SIM_THREADS
static uint32_t tp_at_first_constructor;
#endif

/* sim_crt's .preinit_array entry must have run before every constructor. */
__attribute__((constructor(101))) static void first_constructor(void)
{
	sim_get_counters(&at_first_constructor);
#ifdef SIM_THREADS
	tp_at_first_constructor = read_tpidruro(); /* set before _init_vita_heap */
#endif
}

static void test_sbrk(void)
{
	sim_counters_t c;
	sim_block_t b;
	struct _reent r;
	char *p0, *p1;

	CHECK_EQ(at_first_constructor.live_blocks, 1); /* reserved before constructors */
	sim_get_counters(&c);
	CHECK_EQ(c.live_blocks, 1); /* reserved before main, even unused */
	CHECK(sim_live_block(0, &b));
	CHECK(strcmp(b.name, "Newlib heap") == 0);
	CHECK_EQ(b.size, 128 * MiB);
	CHECK_EQ(b.type, USER_RW);
	CHECK_EQ(_get_vita_heap_size(), 128 * MiB);
	heap_base = (uintptr_t)b.base;
	CHECK_EQ(heap_base % 8192, 4096);

	r._errno = 0;
	p0 = _sbrk_r(&r, 0);
	CHECK((uintptr_t)p0 >= heap_base && (uintptr_t)p0 <= heap_base + 128 * MiB);
	p1 = _sbrk_r(&r, 4096);
	CHECK(p1 == p0);
	CHECK(_sbrk_r(&r, 0) == p0 + 4096);
	p1[0] = 1;
	p1[4095] = 2;
	CHECK(_sbrk_r(&r, -4096) == p0 + 4096);
	CHECK(_sbrk_r(&r, 0) == p0);
	CHECK(_sbrk_r(&r, (ptrdiff_t)(129 * MiB)) == (void *)-1);
	CHECK_EQ(r._errno, ENOMEM);
	r._errno = 0;
	CHECK(_sbrk_r(&r, -(ptrdiff_t)(129 * MiB)) == (void *)-1);
	CHECK_EQ(r._errno, ENOMEM);
	CHECK(_sbrk_r(&r, 0) == p0);
#ifdef __NEWLIB__
	{ /* newlib's own malloc (the "without vitalloc" baseline) uses it */
		char *m = malloc(1000);
		CHECK(m && (uintptr_t)m >= heap_base && (uintptr_t)m < heap_base + 128 * MiB);
		free(m);
	}
#endif
}

/* ---- memblocks ---------------------------------------------------------- */
static void test_types_and_sizes(void)
{
	static const struct { SceUInt32 type; SceSize gran; int mem_type; } t[] = {
		{USER_RW, 4 * KiB, 0xD0}, {UNCACHE, 4 * KiB, 0x80}, {CDRAM, 256 * KiB, 0x80},
		{PHYCONT, 1 * MiB, 0xD0}, {PHYCONT_NC, 1 * MiB, 0x80},
	};
	unsigned i;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		SceUID uid;
		uintptr_t b;
		SceKernelMemBlockInfo info;
		CHECK_EQ(sceKernelAllocMemBlock("t", t[i].type, 0, NULL), SIM_ERR_ILLEGAL_MEMBLOCK_SIZE);
		CHECK_EQ(sceKernelAllocMemBlock("t", t[i].type, t[i].gran / 2, NULL), SIM_ERR_ILLEGAL_MEMBLOCK_SIZE);
		CHECK_EQ(sceKernelAllocMemBlock("t", t[i].type, t[i].gran + (t[i].gran > 4 * KiB ? 4 * KiB : 2 * KiB), NULL),
		         SIM_ERR_ILLEGAL_MEMBLOCK_SIZE);
		CHECK_EQ(sceKernelAllocMemBlock("t", t[i].type, 3 * t[i].gran + 1, NULL), SIM_ERR_ILLEGAL_MEMBLOCK_SIZE);
		uid = sceKernelAllocMemBlock("t", t[i].type, 2 * t[i].gran, NULL);
		CHECK(uid > 0);
		b = base_of(uid);
		CHECK_EQ(b % 8192, 4096); /* 4 KiB aligned, never 8 KiB */
		CHECK(all_bytes(b, 2 * t[i].gran, 0)); /* fresh memblocks are zeroed */
		memset(&info, 0, sizeof info);
		info.size = sizeof info;
		CHECK_EQ(sceKernelGetMemBlockInfoByAddr((void *)(b + 100), &info), 0);
		CHECK_EQ((uintptr_t)info.mappedBase, b);
		CHECK_EQ(info.mappedSize, 2 * t[i].gran);
		CHECK_EQ(info.type, t[i].type);
		CHECK_EQ(info.memoryType, t[i].mem_type);
		CHECK_EQ(info.access, 6);
		CHECK_EQ(sceKernelFreeMemBlock(uid), 0);
	}
	CHECK_EQ(sceKernelAllocMemBlock("t", 0x0C20D050u /* USER_RX */, 4096, NULL), SIM_ERR_ILLEGAL_MEMBLOCK_TYPE);
	CHECK_EQ(sceKernelAllocMemBlock("t", 0, 4096, NULL), SIM_ERR_ILLEGAL_MEMBLOCK_TYPE);
	CHECK_EQ(sceKernelAllocMemBlock(NULL, USER_RW, 4096, NULL), SIM_ERR_ILLEGAL_ADDR);
}

static void test_alignment(void)
{
	static const SceSize good[] = {4 * KiB, 8 * KiB, 64 * KiB, 1 * MiB, 16 * MiB};
	static const SceSize bad[] = {0, 1, 2048, 4097, 12 * KiB, 3 * MiB};
	SceKernelAllocMemBlockOpt opt;
	unsigned i;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		SceUID uid = alloc_aligned(USER_RW, 16 * KiB, good[i]);
		uintptr_t b;
		CHECK(uid > 0);
		b = base_of(uid);
		CHECK_EQ(b % good[i], 0);
		CHECK_EQ(b % (2 * (uintptr_t)good[i]), good[i]); /* not over-aligned */
		CHECK_EQ(sceKernelFreeMemBlock(uid), 0);
	}
	{ /* CDRAM with 256 KiB alignment */
		SceUID uid = alloc_aligned(CDRAM, 256 * KiB, 256 * KiB);
		CHECK(uid > 0);
		CHECK_EQ(base_of(uid) % (512 * KiB), 256 * KiB);
		CHECK_EQ(sceKernelFreeMemBlock(uid), 0);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ(alloc_aligned(USER_RW, 16 * KiB, bad[i]), SIM_ERR_ILLEGAL_ALIGNMENT);
	/* the option's own fields */
	memset(&opt, 0, sizeof opt);
	CHECK_EQ(sizeof opt, sizeof(void *) == 4 ? 0x40 : 0x48);
	CHECK_EQ(sceKernelAllocMemBlock("o", USER_RW, 4096, &opt), SIM_ERR_ILLEGAL_SIZE); /* size unset */
	opt.size = sizeof opt;
	opt.attr = 0x1;
	CHECK_EQ(sceKernelAllocMemBlock("o", USER_RW, 4096, &opt), SIM_ERR_ILLEGAL_ATTR);
	opt.attr = 0;
	opt.alignment = 1 * MiB; /* ignored without HAS_ALIGNMENT */
	{
		SceUID uid = sceKernelAllocMemBlock("o", USER_RW, 4096, &opt);
		CHECK(uid > 0);
		CHECK_EQ(base_of(uid) % 8192, 4096);
		CHECK_EQ(sceKernelFreeMemBlock(uid), 0);
	}
}

static void test_budget_and_free_size(void)
{
	SceKernelFreeMemorySizeInfo fm;
	SceUID a, b;
	memset(&fm, 0, sizeof fm);
	CHECK_EQ(sceKernelGetFreeMemorySize(&fm), SIM_ERR_ILLEGAL_SIZE);
	fm.size = sizeof fm;
	CHECK_EQ(sceKernelGetFreeMemorySize(&fm), 0);
	CHECK_EQ(fm.size_user, 128 * MiB); /* 256 MiB less the sbrk heap */
	CHECK_EQ(fm.size_cdram, 112 * MiB);
	CHECK_EQ(fm.size_phycont, 26 * MiB);

	a = sceKernelAllocMemBlock("big", USER_RW, 100 * MiB, NULL);
	CHECK(a > 0);
	CHECK_EQ(sceKernelAllocMemBlock("big", UNCACHE, 28 * MiB + 4 * KiB, NULL), SIM_ERR_NO_MEMORY);
	b = sceKernelAllocMemBlock("big", UNCACHE, 28 * MiB, NULL); /* exactly the rest */
	CHECK(b > 0);
	CHECK_EQ(sceKernelGetFreeMemorySize(&fm), 0);
	CHECK_EQ(fm.size_user, 0);
	CHECK_EQ(sceKernelAllocMemBlock("big", USER_RW, 4 * KiB, NULL), SIM_ERR_NO_MEMORY);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	CHECK_EQ(sceKernelFreeMemBlock(b), 0);

	a = sceKernelAllocMemBlock("cd", CDRAM, 112 * MiB, NULL);
	CHECK(a > 0);
	CHECK_EQ(sceKernelAllocMemBlock("cd", CDRAM, 256 * KiB, NULL), SIM_ERR_NO_MEMORY);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	CHECK_EQ(sceKernelAllocMemBlock("pc", PHYCONT, 27 * MiB, NULL), SIM_ERR_NO_MEMORY);
	a = sceKernelAllocMemBlock("pc", PHYCONT_NC, 26 * MiB, NULL);
	CHECK(a > 0);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);

	sim_set_budget(130 * MiB);
	CHECK_EQ(sceKernelAllocMemBlock("s", USER_RW, 3 * MiB, NULL), SIM_ERR_NO_MEMORY);
	a = sceKernelAllocMemBlock("s", USER_RW, 2 * MiB, NULL);
	CHECK(a > 0);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	sim_set_budget(256 * MiB);
	sim_set_budgets(256 * MiB, 112 * MiB, 26 * MiB);
}

static void test_block_limit(void)
{
	static SceUID uids[2048];
	sim_counters_t c;
	unsigned n = 0, i;
	sim_set_block_limit(4); /* the sbrk heap is one of them */
	for (i = 0; i < 3; i++)
		CHECK((uids[i] = sceKernelAllocMemBlock("l", USER_RW, 4096, NULL)) > 0);
	CHECK_EQ(sceKernelAllocMemBlock("l", USER_RW, 4096, NULL), SIM_ERR_UID_MAX_OPEN);
	for (i = 0; i < 3; i++)
		CHECK_EQ(sceKernelFreeMemBlock(uids[i]), 0);
	sim_set_block_limit(2048); /* the default */
	for (;;) {
		SceUID uid = sceKernelAllocMemBlock("l", USER_RW, 4096, NULL);
		if (uid < 0) {
			CHECK_EQ(uid, SIM_ERR_UID_MAX_OPEN);
			break;
		}
		if (n == sizeof uids / sizeof uids[0])
			break;
		uids[n++] = uid;
	}
	CHECK_EQ(n, 2047);
	sim_get_counters(&c);
	CHECK_EQ(c.live_blocks, 2048);
	for (i = 0; i < n; i++)
		CHECK_EQ(sceKernelFreeMemBlock(uids[i]), 0);
}

static void test_uids(void)
{
	SceUID uid = sceKernelAllocMemBlock("u", USER_RW, 4096, NULL);
	void *b = NULL;
	CHECK(uid > 0);
	CHECK_EQ(sceKernelFreeMemBlock(12345), SIM_ERR_INVALID_UID);
	CHECK_EQ(sceKernelFreeMemBlock(-1), SIM_ERR_INVALID_UID);
	CHECK_EQ(sceKernelGetMemBlockBase(12345, &b), SIM_ERR_INVALID_UID);
	CHECK_EQ(sceKernelGetMemBlockBase(uid, NULL), SIM_ERR_ILLEGAL_ADDR);
	CHECK_EQ(sceKernelFreeMemBlock(uid), 0);
	CHECK_EQ(sceKernelFreeMemBlock(uid), SIM_ERR_INVALID_UID); /* double free */
	CHECK_EQ(sceKernelGetMemBlockBase(uid, &b), SIM_ERR_INVALID_UID);
	{
		SceUID again = sceKernelAllocMemBlock("u", USER_RW, 4096, NULL);
		CHECK(again > 0 && again != uid); /* uids are not recycled */
		CHECK_EQ(sceKernelFreeMemBlock(again), 0);
	}
}

static void test_fault_injection_and_counters(void)
{
	sim_counters_t c0, c1;
	SceUID a, b;
	sim_get_counters(&c0);
	sim_fail_alloc_after(0);
	CHECK_EQ(sceKernelAllocMemBlock("f", USER_RW, 4096, NULL), SIM_ERR_NO_MEMORY);
	CHECK((a = sceKernelAllocMemBlock("f", USER_RW, 4096, NULL)) > 0); /* one-shot */
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);

	sim_fail_alloc_after(2);
	CHECK_EQ(sceKernelAllocMemBlock("f", USER_RW, 1, NULL), SIM_ERR_ILLEGAL_MEMBLOCK_SIZE); /* not counted */
	CHECK((a = sceKernelAllocMemBlock("f", USER_RW, 4096, NULL)) > 0);
	CHECK((b = sceKernelAllocMemBlock("f", USER_RW, 4096, NULL)) > 0);
	CHECK_EQ(sceKernelAllocMemBlock("f", USER_RW, 4096, NULL), SIM_ERR_NO_MEMORY);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	CHECK_EQ(sceKernelFreeMemBlock(b), 0);

	sim_fail_alloc_after(5);
	sim_fail_alloc_after(-1); /* disabled */
	sim_fail_alloc_every(3);
	CHECK((a = sceKernelAllocMemBlock("f", USER_RW, 4096, NULL)) > 0);
	CHECK((b = sceKernelAllocMemBlock("f", USER_RW, 4096, NULL)) > 0);
	CHECK_EQ(sceKernelAllocMemBlock("f", USER_RW, 4096, NULL), SIM_ERR_NO_MEMORY);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	CHECK_EQ(sceKernelFreeMemBlock(b), 0);
	sim_fail_alloc_every(0);

	sim_get_counters(&c1);
	CHECK_EQ(c1.alloc_calls - c0.alloc_calls, 9);
	CHECK_EQ(c1.free_calls - c0.free_calls, 5);
	CHECK_EQ(c1.failed_calls - c0.failed_calls, 4);
	CHECK_EQ(c1.live_blocks, c0.live_blocks);
	CHECK_EQ(c1.live_bytes, c0.live_bytes);

	sim_reset_peaks();
	a = sceKernelAllocMemBlock("p", USER_RW, 8 * MiB, NULL);
	b = sceKernelAllocMemBlock("p", USER_RW, 4 * MiB, NULL);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	CHECK_EQ(sceKernelFreeMemBlock(b), 0);
	sim_get_counters(&c1);
	CHECK_EQ(c1.peak_blocks, c0.live_blocks + 2);
	CHECK_EQ(c1.peak_bytes, c0.live_bytes + 12 * MiB);
	CHECK_EQ(c1.live_bytes, c0.live_bytes);
	sim_reset_peaks();
	sim_get_counters(&c1);
	CHECK_EQ(c1.peak_blocks, c1.live_blocks);
	CHECK_EQ(c1.peak_bytes, c1.live_bytes);
}

static void test_reuse_and_poison(void)
{
	SceUID a, b;
	uintptr_t pa, pb;
	sim_block_t blk;
	unsigned i, found = 0;
	a = sceKernelAllocMemBlock("r", USER_RW, 1 * MiB, NULL);
	pa = base_of(a);
	memset((void *)pa, 0x5A, 1 * MiB);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	b = sceKernelAllocMemBlock("r", USER_RW, 1 * MiB, NULL);
	pb = base_of(b);
	CHECK_EQ(pb, pa); /* first fit reuses the freed range */
	CHECK(all_bytes(pb, 1 * MiB, 0)); /* ...zeroed again */
	for (i = 0; sim_live_block(i, &blk); i++)
		if (blk.uid == b) {
			found = 1;
			CHECK((uintptr_t)blk.base == pb && blk.size == 1 * MiB && blk.type == USER_RW);
			CHECK(strcmp(blk.name, "r") == 0);
		}
	CHECK(found);
	CHECK_EQ(sceKernelFreeMemBlock(b), 0);

	sim_set_poison(1);
	a = sceKernelAllocMemBlock("r", USER_RW, 64 * KiB, NULL);
	CHECK(all_bytes(base_of(a), 64 * KiB, 0xA5));
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	sim_set_poison(0);
	a = sceKernelAllocMemBlock("r", USER_RW, 64 * KiB, NULL);
	CHECK(all_bytes(base_of(a), 64 * KiB, 0));
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
}

static void test_find(void)
{
	static int not_a_block;
	SceUID a = sceKernelAllocMemBlock("find", UNCACHE, 64 * KiB, NULL);
	uintptr_t b = base_of(a);
	SceKernelMemBlockInfo info;
	CHECK_EQ(sceKernelFindMemBlockByAddr((void *)b, 0), a);
	CHECK_EQ(sceKernelFindMemBlockByAddr((void *)(b + 64 * KiB - 1), 0), a);
	CHECK_EQ(sceKernelFindMemBlockByAddr((void *)b, 64 * KiB), a);
	CHECK_EQ(sceKernelFindMemBlockByAddr((void *)(b + 4096), 60 * KiB), a);
	CHECK(sceKernelFindMemBlockByAddr((void *)b, 64 * KiB + 1) < 0);
	CHECK(sceKernelFindMemBlockByAddr((void *)(b + 64 * KiB), 0) < 0);
	CHECK(sceKernelFindMemBlockByAddr((void *)(b - 1), 0) != a);
	CHECK(sceKernelFindMemBlockByAddr((void *)(b - 1), 2) < 0); /* straddles two blocks at most */
	CHECK(sceKernelFindMemBlockByAddr(&not_a_block, 0) < 0);
	memset(&info, 0, sizeof info);
	CHECK_EQ(sceKernelGetMemBlockInfoByAddr((void *)b, &info), SIM_ERR_ILLEGAL_SIZE);
	info.size = sizeof info;
	CHECK_EQ(sceKernelGetMemBlockInfoByAddr(&not_a_block, &info), SIM_ERR_ILLEGAL_ADDR);
	CHECK_EQ(sceKernelGetMemBlockInfoByAddr((void *)(b + 64 * KiB - 1), &info), 0);
	CHECK_EQ((uintptr_t)info.mappedBase, b);
	CHECK_EQ(info.memoryType, 0x80);
	CHECK_EQ(sceKernelFreeMemBlock(a), 0);
	CHECK(sceKernelFindMemBlockByAddr((void *)b, 0) < 0);
	{ /* vitaGL asks about a malloc(1) pointer: on ARM it is in the sbrk heap */
		void *m = malloc(1);
		info.size = sizeof info;
#ifdef __NEWLIB__
		CHECK_EQ(sceKernelGetMemBlockInfoByAddr(m, &info), 0);
		CHECK_EQ((uintptr_t)info.mappedBase, heap_base);
		CHECK_EQ(info.type, USER_RW);
#else
		CHECK(sceKernelGetMemBlockInfoByAddr(m, &info) < 0); /* glibc's heap */
#endif
		free(m);
	}
}

/* ---- LwMutex ------------------------------------------------------------ */
static jmp_buf misuse_jb;
static char misuse_msg[256];
static volatile int misuse_armed; /* misuse_jb is valid */
/* Misuse inside EXPECT_MISUSE jumps back to it; anywhere else it is a
   failure, and the hook returns (the call then returns an error) rather
   than jump into a stale jmp_buf. */
static void misuse_hook(const char *msg)
{
	strncpy(misuse_msg, msg, sizeof misuse_msg - 1);
	if (misuse_armed) {
		misuse_armed = 0;
		longjmp(misuse_jb, 1);
	}
	failures++;
	printf("FAIL unexpected misuse: %s\n", msg);
}
#define EXPECT_MISUSE(stmt, what) do { misuse_msg[0] = 0; \
	if (!setjmp(misuse_jb)) { misuse_armed = 1; stmt; misuse_armed = 0; failures++; \
		printf("FAIL %s:%d: no misuse: %s\n", __FILE__, __LINE__, #stmt); } \
	else CHECK(strstr(misuse_msg, what) != NULL); } while (0)

static SceKernelLwMutexWork mtx, rmtx, zero_mtx;

static void test_lwmutex(void)
{
	CHECK_EQ(sizeof(SceKernelLwMutexWork), 32);
	sim_set_misuse_hook(misuse_hook);

	CHECK_EQ(sim_lwmutex_count(&mtx), -1);
	CHECK_EQ(sceKernelCreateLwMutex(&mtx, "plain", 0, 0, NULL), 0);
	CHECK_EQ(sim_lwmutex_count(&mtx), 0);
	CHECK_EQ(sceKernelLockLwMutex(&mtx, 1, NULL), 0);
	CHECK_EQ(sim_lwmutex_count(&mtx), 1);
	EXPECT_MISUSE(sceKernelLockLwMutex(&mtx, 1, NULL), "recursive lock of a non-recursive");
	EXPECT_MISUSE(sceKernelTryLockLwMutex(&mtx, 1), "recursive lock of a non-recursive");
	EXPECT_MISUSE(sceKernelDeleteLwMutex(&mtx), "deleted while locked");
	EXPECT_MISUSE(sceKernelUnlockLwMutex(&mtx, 2), "exceeds");
	CHECK(strstr(misuse_msg, "sceKernelUnlockLwMutex(0x") == misuse_msg + 12);
	CHECK(strstr(misuse_msg, "\"plain\"") != NULL);
	CHECK_EQ(sceKernelUnlockLwMutex(&mtx, 1), 0);
	EXPECT_MISUSE(sceKernelUnlockLwMutex(&mtx, 1), "not locked");
	EXPECT_MISUSE(sceKernelLockLwMutex(&mtx, 2, NULL), "non-recursive");
	EXPECT_MISUSE(sceKernelLockLwMutex(&mtx, 0, NULL), "count <= 0");
	EXPECT_MISUSE(sceKernelCreateLwMutex(&mtx, "again", 0, 0, NULL), "created twice");
	CHECK_EQ(sceKernelTryLockLwMutex(&mtx, 1), 0);
	CHECK_EQ(sceKernelUnlockLwMutex(&mtx, 1), 0);
	CHECK_EQ(sceKernelDeleteLwMutex(&mtx), 0);
	EXPECT_MISUSE(sceKernelLockLwMutex(&mtx, 1, NULL), "after sceKernelDeleteLwMutex");
	EXPECT_MISUSE(sceKernelUnlockLwMutex(&mtx, 1), "after sceKernelDeleteLwMutex");
	EXPECT_MISUSE(sceKernelDeleteLwMutex(&mtx), "after sceKernelDeleteLwMutex");
	EXPECT_MISUSE(sceKernelLockLwMutex(&zero_mtx, 1, NULL), "never passed to sceKernelCreateLwMutex");
	EXPECT_MISUSE(sceKernelUnlockLwMutex(&zero_mtx, 1), "never passed");
	EXPECT_MISUSE(sceKernelTryLockLwMutex(&zero_mtx, 1), "never passed");
	EXPECT_MISUSE(sceKernelCreateLwMutex(&zero_mtx, "x", 0x100, 0, NULL), "unknown attribute");
	EXPECT_MISUSE(sceKernelCreateLwMutex(&zero_mtx, "x", 0, 2, NULL), "initCount");
	{ /* a copied work area is not a mutex */
		static SceKernelLwMutexWork copy;
		CHECK_EQ(sceKernelCreateLwMutex(&mtx, "plain", 0, 0, NULL), 0); /* re-create after delete */
		memcpy(&copy, &mtx, sizeof copy);
		EXPECT_MISUSE(sceKernelLockLwMutex(&copy, 1, NULL), "copied");
		CHECK_EQ(sceKernelDeleteLwMutex(&mtx), 0);
	}

	CHECK_EQ(sceKernelCreateLwMutex(&rmtx, "recursive", SIM_LW_MUTEX_ATTR_RECURSIVE, 1, NULL), 0);
	CHECK_EQ(sim_lwmutex_count(&rmtx), 1); /* initCount 1: created locked */
	CHECK_EQ(sceKernelLockLwMutex(&rmtx, 1, NULL), 0);
	CHECK_EQ(sceKernelTryLockLwMutex(&rmtx, 1), 0);
	CHECK_EQ(sceKernelLockLwMutex(&rmtx, 2, NULL), 0);
	CHECK_EQ(sim_lwmutex_count(&rmtx), 5);
	CHECK_EQ(sceKernelUnlockLwMutex(&rmtx, 3), 0);
	CHECK_EQ(sceKernelUnlockLwMutex(&rmtx, 1), 0);
	CHECK_EQ(sceKernelUnlockLwMutex(&rmtx, 1), 0);
	CHECK_EQ(sim_lwmutex_count(&rmtx), 0);
	EXPECT_MISUSE(sceKernelUnlockLwMutex(&rmtx, 1), "not locked");
	CHECK_EQ(sceKernelDeleteLwMutex(&rmtx), 0);
	sim_set_misuse_hook(NULL);
}

#ifdef HOST_THREADS
static SceKernelLwMutexWork tmtx;
static long shared_counter;
static int thread_fail;

static void *worker(void *arg)
{
	int i;
	(void)arg;
	for (i = 0; i < 200000; i++) {
		if (sceKernelLockLwMutex(&tmtx, 1, NULL) != 0)
			thread_fail = 1;
		shared_counter++; /* a data race if the mutex did not exclude */
		if (sceKernelUnlockLwMutex(&tmtx, 1) != 0)
			thread_fail = 1;
	}
	return NULL;
}

static void *contender(void *arg)
{
	unsigned timeout = 20000; /* 20 ms */
	uintptr_t *tls = sceKernelGetTLSAddr(0x89);
	(void)arg;
	if (sceKernelTryLockLwMutex(&tmtx, 1) != SIM_ERR_LW_MUTEX_FAILED_TO_OWN)
		thread_fail |= 2;
	if (sceKernelLockLwMutex(&tmtx, 1, &timeout) != SIM_ERR_WAIT_TIMEOUT || timeout != 0)
		thread_fail |= 4;
	if (!setjmp(misuse_jb)) {
		misuse_armed = 1;
		sceKernelUnlockLwMutex(&tmtx, 1); /* not the owner */
		misuse_armed = 0;
		thread_fail |= 8;
	} else if (!strstr(misuse_msg, "does not own")) {
		thread_fail |= 16;
	}
	if (!tls || *tls != 0) /* each thread has its own, zeroed slots */
		thread_fail |= 32;
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];
	int i;
	CHECK_EQ(sceKernelCreateLwMutex(&tmtx, "threads", 0, 0, NULL), 0);
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(shared_counter, 800000);
	CHECK_EQ(thread_fail, 0);

	sim_set_misuse_hook(misuse_hook);
	*(uintptr_t *)sceKernelGetTLSAddr(0x89) = 42;
	CHECK_EQ(sceKernelLockLwMutex(&tmtx, 1, NULL), 0);
	pthread_create(&t[0], NULL, contender, NULL);
	pthread_join(t[0], NULL);
	CHECK_EQ(thread_fail, 0);
	CHECK_EQ(sceKernelUnlockLwMutex(&tmtx, 1), 0);
	CHECK_EQ(sceKernelDeleteLwMutex(&tmtx), 0);
	sim_set_misuse_hook(NULL);
}
#endif

/* ---- TLS slots and threads ---------------------------------------------- */
static const int kernel_keys[] = {SIM_TLS_KEY_PROCESS_ID, SIM_TLS_KEY_THREAD_ID, SIM_TLS_KEY_PRIORITY,
                                  SIM_TLS_KEY_CPU_AFFINITY};

static int is_kernel_key(int key)
{
	unsigned i;
	for (i = 0; i < sizeof kernel_keys / sizeof kernel_keys[0]; i++)
		if (key == kernel_keys[i])
			return 1;
	return 0;
}

/* Slot width: 4 bytes on the Vita (ARM), a pointer on the host. */
typedef uintptr_t slot_t;
#ifdef SIM_THREADS
typedef char slot_is_4_bytes[sizeof(slot_t) == 4 ? 1 : -1];
#endif

/* A fresh thread's slots: 0 except those the kernel fills (process id,
   thread id, priority, affinity). thid: whose slots (0: the caller's). */
static int fresh_slots(SceUID thid, SceUID expect_id)
{
	int key, ok = 1;
	for (key = 0; key <= SIM_TLS_KEY_MAX; key++) {
		slot_t *p = thid ? sceKernelGetThreadTLSAddr(thid, key) : sceKernelGetTLSAddr(key);
		if (!p)
			return 0;
		if (key == SIM_TLS_KEY_PROCESS_ID)
			ok &= *p == SIM_PROCESS_ID;
		else if (key == SIM_TLS_KEY_THREAD_ID)
			ok &= *p == (slot_t)(SceUInt32)expect_id;
		else if (!is_kernel_key(key))
			ok &= *p == 0;
		else
			ok &= *p != 0;
	}
	return ok;
}

static void test_tls(void)
{
	slot_t *a = sceKernelGetTLSAddr(0x89), *b = sceKernelGetTLSAddr(0x8A);
	CHECK(a && b && a != b);
	CHECK_EQ((uintptr_t)b - (uintptr_t)a, sizeof(slot_t));
	CHECK(fresh_slots(0, sceKernelGetThreadId()));
	CHECK_EQ(*(slot_t *)sceKernelGetTLSAddr(SIM_TLS_KEY_THREAD_ID), (SceUInt32)sceKernelGetThreadId());
	*a = (uintptr_t)&failures; /* holds a pointer on every platform */
	CHECK(*(uintptr_t *)sceKernelGetTLSAddr(0x89) == (uintptr_t)&failures);
	*a = 0;
	CHECK(sceKernelGetTLSAddr(0) != NULL);
	CHECK(sceKernelGetTLSAddr(0x100) != NULL); /* keys 0..0x100 (Vita3K) */
	CHECK(sceKernelGetTLSAddr(-1) == NULL);
	CHECK(sceKernelGetTLSAddr(0x101) == NULL);
	CHECK(sceKernelGetThreadTLSAddr(SIM_THREAD_ID_SELF, 0x89) == a);
	CHECK(sceKernelGetThreadTLSAddr(sceKernelGetThreadId(), 0x89) == a);
	CHECK(sceKernelGetThreadTLSAddr(sceKernelGetThreadId(), 0x101) == NULL);
	CHECK(sceKernelGetThreadTLSAddr(sceKernelGetThreadId(), -1) == NULL);
	CHECK(sceKernelGetThreadTLSAddr(0x7FFFFFF3, 0x89) == NULL); /* no such thread */
}

static int get_info(SceUID thid, SceKernelThreadInfo *info)
{
	memset(info, 0x5A, sizeof *info);
	info->size = sizeof *info;
	return sceKernelGetThreadInfo(thid, info);
}

static void test_thread_info_common(void)
{
	SceKernelThreadInfo info;
	SceUID me = sceKernelGetThreadId();
	CHECK(me > 0);
	CHECK_EQ(sim_thread_current(), me);
#ifdef SIM_THREADS
	CHECK_EQ(sizeof info, 0x80); /* vita-headers' VITASDK_BUILD_ASSERT_EQ */
	CHECK_EQ(offsetof(SceKernelThreadInfo, runClocks), 0x60);
#endif
	CHECK_EQ(get_info(me, &info), 0);
	CHECK_EQ(info.size, sizeof info);
	CHECK_EQ(info.processId, SIM_PROCESS_ID);
	CHECK_EQ(info.status, SIM_THREAD_STATUS_RUNNING);
	CHECK(memchr(info.name, 0, sizeof info.name) != NULL && info.name[0]);
	CHECK_EQ(info.exitStatus, 0);
	CHECK_EQ(info.reserved, 0);
	CHECK_EQ(get_info(SIM_THREAD_ID_SELF, &info), 0);
	CHECK_EQ(info.status, SIM_THREAD_STATUS_RUNNING);
	CHECK_EQ(get_info(0x7FFFFFF3, &info), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK_EQ(get_info(-1, &info), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK_EQ(get_info(me + 1, &info), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK_EQ(sceKernelGetThreadInfo(me, NULL), SIM_ERR_ILLEGAL_ADDR);
	memset(&info, 0, sizeof info);
	CHECK_EQ(sceKernelGetThreadInfo(me, &info), SIM_ERR_INVALID_ARGUMENT_SIZE); /* size unset */
	info.size = sizeof info - 4;
	CHECK_EQ(sceKernelGetThreadInfo(me, &info), SIM_ERR_INVALID_ARGUMENT_SIZE);
	info.size = sizeof info + 4;
	CHECK_EQ(sceKernelGetThreadInfo(me, &info), SIM_ERR_INVALID_ARGUMENT_SIZE);
	info.size = 0;
	CHECK_EQ(sceKernelGetThreadInfo(0x7FFFFFF3, &info), SIM_ERR_INVALID_ARGUMENT_SIZE); /* size first */
}

#ifdef SIM_THREADS
/* sceKernelGetTLSAddr(k) == TPIDRURO + sim_tls_slot_offset() + 4k (-0x800
   + 4k normally) for the current thread. */
static int layout_ok(void)
{
	static const int keys[] = {0, 1, 2, 8, 9, 0x40, 0x88, 0x89, 0xFF, 0x100};
	uint32_t tp = read_tpidruro();
	unsigned i;
	int ok = tp != 0;
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		uintptr_t want = tp + (uint32_t)sim_tls_slot_offset() + 4u * (unsigned)keys[i];
		ok &= (uintptr_t)sceKernelGetTLSAddr(keys[i]) == want;
		ok &= (uintptr_t)sceKernelGetThreadTLSAddr(SIM_THREAD_ID_SELF, keys[i]) == want;
		ok &= (uintptr_t)sceKernelGetThreadTLSAddr(sceKernelGetThreadId(), keys[i]) == want;
	}
	return ok;
}

static uint32_t *slot_of(SceUID thid, int key)
{
	return sceKernelGetThreadTLSAddr(thid, key);
}

static void test_sim_threads(void)
{
	const SceUID main_id = SIM_MAIN_THREAD_ID;
	SceKernelThreadInfo info;
	uint32_t main_tp = read_tpidruro(), *t1_slot, *p;
	SceUID t1, t2, t3, t4, ids[SIM_MAX_THREADS];
	int n, i;

	/* start-up: TPIDRURO was set (by sim_crt, before _init_vita_heap and
	   every constructor) to the end of the main thread's area */
	CHECK(tp_at_first_constructor != 0);
	CHECK_EQ(tp_at_first_constructor, main_tp);
	CHECK_EQ(sceKernelGetThreadId(), main_id);
	CHECK(layout_ok());
	CHECK_EQ((uintptr_t)sceKernelGetTLSAddr(0) - (uint32_t)sim_tls_slot_offset(), main_tp);
	if (sim_tls_slot_offset() > 0) /* the other layout: garbage below */
		CHECK(*(uint32_t *)(main_tp - 0x800 + 4 * 0xE7) != 0 && *(uint32_t *)(main_tp - 4) != 0);
	test_thread_info_common();
	CHECK_EQ(get_info(main_id, &info), 0);
	CHECK(strcmp(info.name, "main_thread") == 0);
	CHECK_EQ(info.currentCpuAffinityMask, 0x70000);

	/* a new thread: fresh slots, its own area, not current */
	*slot_of(main_id, 0x89) = 0x1234;
	t1 = sim_thread_create();
	CHECK_EQ(t1, 0x40010013); /* 0x40010003 + 0x10 * n */
	CHECK_EQ(sceKernelGetThreadId(), main_id);
	CHECK_EQ(read_tpidruro(), main_tp);
	CHECK(fresh_slots(t1, t1));
	t1_slot = slot_of(t1, 0x89);
	CHECK(t1_slot && t1_slot != slot_of(main_id, 0x89));
	CHECK_EQ(get_info(t1, &info), 0);
	CHECK_EQ(info.status, SIM_THREAD_STATUS_READY);
	CHECK_EQ(info.processId, SIM_PROCESS_ID);
	CHECK(strcmp(info.name, "sim_thread_0x40010013") == 0);
	CHECK_EQ(sceKernelFreeMemBlock(t1), SIM_ERR_INVALID_UID); /* not a memblock */

	/* switching changes TPIDRURO, the id and the slots */
	CHECK_EQ(sim_thread_switch(t1), 0);
	CHECK_EQ(sceKernelGetThreadId(), t1);
	CHECK_EQ(sim_thread_current(), t1);
	CHECK(read_tpidruro() != main_tp);
	CHECK_EQ((uintptr_t)t1_slot, read_tpidruro() + (uint32_t)sim_tls_slot_offset() + 4 * 0x89);
	CHECK(layout_ok());
	CHECK(fresh_slots(0, t1));
	CHECK(sceKernelGetTLSAddr(0x89) == t1_slot);
	*(uint32_t *)sceKernelGetTLSAddr(0x89) = 0x5678;
	CHECK_EQ(get_info(SIM_THREAD_ID_SELF, &info), 0);
	CHECK_EQ(info.status, SIM_THREAD_STATUS_RUNNING);
	CHECK_EQ(get_info(main_id, &info), 0);
	CHECK_EQ(info.status, SIM_THREAD_STATUS_READY);
	CHECK_EQ(*slot_of(main_id, 0x89), 0x1234); /* another thread's slot */
	CHECK_EQ(sim_thread_switch(t1), 0);        /* already current */
	CHECK_EQ(sim_thread_switch(main_id), 0);
	CHECK_EQ(read_tpidruro(), main_tp);
	CHECK_EQ(*(uint32_t *)sceKernelGetTLSAddr(0x89), 0x1234);
	CHECK_EQ(*slot_of(t1, 0x89), 0x5678);
	CHECK_EQ(sim_thread_switch(0x7FFFFFF3), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK_EQ(sim_thread_switch(SIM_THREAD_ID_SELF), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK_EQ(sceKernelGetThreadId(), main_id);

	/* exit: gone for GetThreadInfo / GetThreadTLSAddr / switch */
	CHECK_EQ(sim_thread_exit(t1), 0);
	CHECK_EQ(get_info(t1, &info), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK(slot_of(t1, 0x89) == NULL);
	CHECK(slot_of(t1, 0) == NULL);
	CHECK_EQ(sim_thread_switch(t1), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK_EQ(sim_thread_exit(t1), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK_EQ(sim_thread_exit(main_id), SIM_ERR_ILLEGAL_THREAD_ID);
	CHECK_EQ(sim_thread_exit_dormant(main_id, 0), SIM_ERR_ILLEGAL_THREAD_ID);
	CHECK_EQ(sim_thread_exit(0x7FFFFFF3), SIM_ERR_UNKNOWN_THREAD_ID);

	/* its TLS area goes, zeroed, to the next thread, which gets a new id */
	t2 = sim_thread_create();
	CHECK(t2 > 0 && t2 != t1 && t2 != main_id);
	CHECK(slot_of(t2, 0x89) == t1_slot);
	CHECK(fresh_slots(t2, t2));

	/* id reuse: a new thread with the dead thread's id */
	t3 = sim_thread_create_with_id(t1);
	CHECK_EQ(t3, t1);
	CHECK_EQ(get_info(t1, &info), 0);
	CHECK_EQ(info.status, SIM_THREAD_STATUS_READY);
	CHECK(fresh_slots(t1, t1));
	CHECK(slot_of(t1, 0x89) != t1_slot); /* another area: t2 has the old one */
	CHECK_EQ(sim_thread_create_with_id(t1), SIM_ERR_ILLEGAL_THREAD_ID);   /* in use */
	CHECK_EQ(sim_thread_create_with_id(main_id), SIM_ERR_ILLEGAL_THREAD_ID);
	CHECK_EQ(sim_thread_create_with_id(0), SIM_ERR_ILLEGAL_THREAD_ID);
	CHECK_EQ(sim_thread_create_with_id(-5), SIM_ERR_ILLEGAL_THREAD_ID);
	{ /* sim_thread_create skips an id sim_thread_create_with_id took */
		SceUID next = t2 + 0x10, t;
		CHECK_EQ(sim_thread_create_with_id(next), next);
		t = sim_thread_create();
		CHECK(t > 0 && t != next && t != t1 && t != t2);
		CHECK_EQ(sim_thread_exit(t), 0);
		CHECK_EQ(sim_thread_exit(next), 0);
	}

	/* a thread exiting while current: the main thread runs next */
	CHECK_EQ(sim_thread_switch(t3), 0);
	CHECK_EQ(sim_thread_exit(t3), 0);
	CHECK_EQ(sceKernelGetThreadId(), main_id);
	CHECK_EQ(read_tpidruro(), main_tp);
	CHECK(layout_ok());

	/* dormant: exited, not deleted */
	t4 = sim_thread_create();
	*slot_of(t4, 0x89) = 77;
	CHECK_EQ(sim_thread_switch(t4), 0);
	CHECK_EQ(sim_thread_exit_dormant(t4, 7), 0);
	CHECK_EQ(sceKernelGetThreadId(), main_id);
	CHECK_EQ(get_info(t4, &info), 0);
	CHECK_EQ(info.status, SIM_THREAD_STATUS_DORMANT);
	CHECK_EQ(info.exitStatus, 7);
	CHECK(slot_of(t4, 0x89) && *slot_of(t4, 0x89) == 77); /* kept */
	CHECK_EQ(sim_thread_switch(t4), SIM_ERR_DORMANT);
	CHECK_EQ(sim_thread_exit_dormant(t4, 8), SIM_ERR_DORMANT);
	CHECK_EQ(sim_thread_kill(t4), SIM_ERR_DORMANT);
	CHECK_EQ(sim_thread_exit(t4), 0);
	CHECK_EQ(get_info(t4, &info), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK(slot_of(t4, 0x89) == NULL);

	/* sceKernelDeleteThread: only a thread that no longer runs */
	t4 = sim_thread_create();
	CHECK_EQ(sceKernelDeleteThread(t4), SIM_ERR_NOT_DORMANT);
	CHECK_EQ(sceKernelDeleteThread(SIM_THREAD_ID_SELF), SIM_ERR_NOT_DORMANT);
	CHECK_EQ(sceKernelDeleteThread(main_id), SIM_ERR_NOT_DORMANT);
	CHECK_EQ(sim_thread_exit_dormant(t4, 3), 0);
	CHECK_EQ(sceKernelDeleteThread(t4), 0);
	CHECK_EQ(get_info(t4, &info), SIM_ERR_UNKNOWN_THREAD_ID);
	CHECK_EQ(sceKernelDeleteThread(t4), SIM_ERR_UNKNOWN_THREAD_ID);

	/* killed by the thread manager: queryable as DELETED until deleted */
	t4 = sim_thread_create();
	CHECK_EQ(sim_thread_switch(t4), 0);
	CHECK_EQ(sim_thread_kill(t4), 0);
	CHECK_EQ(sceKernelGetThreadId(), main_id);
	CHECK_EQ(get_info(t4, &info), 0);
	CHECK_EQ(info.status, SIM_THREAD_STATUS_DELETED);
	CHECK(slot_of(t4, 0x89) != NULL);
	CHECK_EQ(sim_thread_switch(t4), SIM_ERR_DORMANT);
	CHECK_EQ(sceKernelDeleteThread(t4), 0);
	CHECK_EQ(get_info(t4, &info), SIM_ERR_UNKNOWN_THREAD_ID);

	/* poison: a dead thread's area reads 0xDD...; a new thread's is zeroed */
	sim_set_poison(1);
	t4 = sim_thread_create();
	p = slot_of(t4, 0x89);
	*p = 1;
	CHECK_EQ(sim_thread_exit(t4), 0);
	CHECK_EQ(*p, 0xDDDDDDDDu);
	sim_set_poison(0);
	t4 = sim_thread_create();
	CHECK(slot_of(t4, 0x89) == p);
	CHECK(fresh_slots(t4, t4));
	CHECK_EQ(sim_thread_exit(t4), 0);

	/* the table: SIM_MAX_THREADS threads (main and t2 among them) */
	for (n = 0; n < SIM_MAX_THREADS; n++) {
		ids[n] = sim_thread_create();
		if (ids[n] < 0)
			break;
	}
	CHECK_EQ(n, SIM_MAX_THREADS - 2);
	CHECK_EQ(ids[n], SIM_ERR_NO_MEMORY);
	CHECK_EQ(sim_thread_create_with_id(t1), SIM_ERR_NO_MEMORY);
	for (i = 0; i < n; i++) {
		CHECK_EQ(sim_thread_switch(ids[i]), 0);
		CHECK(layout_ok());
		CHECK(fresh_slots(0, ids[i]));
	}
	for (i = 0; i < n; i++)
		CHECK_EQ(sim_thread_exit(ids[i]), 0);
	CHECK_EQ(sceKernelGetThreadId(), main_id);
	CHECK_EQ(sim_thread_exit(t2), 0);
	CHECK_EQ(read_tpidruro(), main_tp);
	CHECK_EQ(*(uint32_t *)sceKernelGetTLSAddr(0x89), 0x1234);
	*(uint32_t *)sceKernelGetTLSAddr(0x89) = 0;
}

/* An LwMutex belongs to the simulated thread that locked it. */
static SceKernelLwMutexWork sw_mtx, sw_rmtx;

static void test_lwmutex_across_switches(void)
{
	const SceUID main_id = SIM_MAIN_THREAD_ID;
	SceUID t = sim_thread_create(), u = sim_thread_create();
	unsigned timeout = 1000;
	CHECK(t > 0 && u > 0);
	sim_set_misuse_hook(misuse_hook);
	CHECK_EQ(sceKernelCreateLwMutex(&sw_mtx, "switch", 0, 0, NULL), 0);
	CHECK_EQ(sceKernelCreateLwMutex(&sw_rmtx, "rswitch", SIM_LW_MUTEX_ATTR_RECURSIVE, 0, NULL), 0);

	/* main holds it; t may run (preemption), but does not own it */
	CHECK_EQ(sceKernelLockLwMutex(&sw_mtx, 1, NULL), 0);
	CHECK_EQ(sim_thread_switch(t), 0);
	EXPECT_MISUSE(sceKernelUnlockLwMutex(&sw_mtx, 1), "does not own");
	CHECK_EQ(sceKernelTryLockLwMutex(&sw_mtx, 1), SIM_ERR_LW_MUTEX_FAILED_TO_OWN);
	CHECK_EQ(sceKernelLockLwMutex(&sw_mtx, 1, &timeout), SIM_ERR_WAIT_TIMEOUT);
	CHECK_EQ(timeout, 0);
	EXPECT_MISUSE(sceKernelLockLwMutex(&sw_mtx, 1, NULL), "locked by another simulated thread");
	EXPECT_MISUSE(sceKernelDeleteLwMutex(&sw_mtx), "deleted while locked");
	CHECK_EQ(sim_lwmutex_count(&sw_mtx), 1);
	CHECK_EQ(sim_thread_switch(main_id), 0);
	CHECK_EQ(sceKernelUnlockLwMutex(&sw_mtx, 1), 0);
	CHECK_EQ(sim_thread_switch(t), 0);
	CHECK_EQ(sceKernelLockLwMutex(&sw_mtx, 1, NULL), 0); /* now free */
	EXPECT_MISUSE(sceKernelLockLwMutex(&sw_mtx, 1, NULL), "recursive lock of a non-recursive");

	/* t holds both, is switched away from; main cannot take them */
	CHECK_EQ(sceKernelLockLwMutex(&sw_rmtx, 2, NULL), 0);
	CHECK_EQ(sim_thread_switch(u), 0);
	CHECK_EQ(sceKernelTryLockLwMutex(&sw_rmtx, 1), SIM_ERR_LW_MUTEX_FAILED_TO_OWN);
	EXPECT_MISUSE(sceKernelUnlockLwMutex(&sw_rmtx, 1), "does not own");
	CHECK_EQ(sim_thread_switch(main_id), 0);
	EXPECT_MISUSE(sceKernelLockLwMutex(&sw_rmtx, 1, NULL), "locked by another simulated thread");
	CHECK_EQ(sim_thread_switch(t), 0);
	CHECK_EQ(sceKernelLockLwMutex(&sw_rmtx, 1, NULL), 0); /* recursion by the owner */
	CHECK_EQ(sim_lwmutex_count(&sw_rmtx), 3);
	CHECK_EQ(sceKernelUnlockLwMutex(&sw_rmtx, 3), 0);
	CHECK_EQ(sim_lwmutex_count(&sw_rmtx), 0);

	/* a holder that exits keeps it locked (LwMutexes are not robust) */
	CHECK_EQ(sim_thread_exit(t), 0);
	CHECK_EQ(sceKernelGetThreadId(), main_id);
	CHECK_EQ(sim_lwmutex_count(&sw_mtx), 1);
	CHECK_EQ(sceKernelTryLockLwMutex(&sw_mtx, 1), SIM_ERR_LW_MUTEX_FAILED_TO_OWN);
	EXPECT_MISUSE(sceKernelUnlockLwMutex(&sw_mtx, 1), "does not own");
	/* the owner is recorded by thread id: a thread reusing the id owns it */
	CHECK_EQ(sim_thread_create_with_id(t), t);
	CHECK_EQ(sim_thread_switch(t), 0);
	CHECK_EQ(sceKernelUnlockLwMutex(&sw_mtx, 1), 0);
	CHECK_EQ(sim_thread_exit(t), 0);

	CHECK_EQ(sceKernelDeleteLwMutex(&sw_mtx), 0);
	CHECK_EQ(sceKernelDeleteLwMutex(&sw_rmtx), 0);
	CHECK_EQ(sim_thread_exit(u), 0);
	sim_set_misuse_hook(NULL);
}
#endif

#ifdef HOST_THREADS
static SceUID other_tid;
static void *other_pthread(void *arg)
{
	(void)arg;
	other_tid = sceKernelGetThreadId();
	return NULL;
}

/* Host: pthreads are the threads; the sim_thread_* calls are unsupported. */
static void test_thread_calls_host(void)
{
	SceKernelThreadInfo info;
	SceUID me = sceKernelGetThreadId();
	pthread_t th;
	test_thread_info_common();
	CHECK_EQ(sim_thread_create(), SIM_ERR_UNSUP);
	CHECK_EQ(sim_thread_create_with_id(me + 0x10), SIM_ERR_UNSUP);
	CHECK_EQ(sim_thread_switch(me), SIM_ERR_UNSUP);
	CHECK_EQ(sim_thread_exit(me), SIM_ERR_UNSUP);
	CHECK_EQ(sim_thread_exit_dormant(me, 0), SIM_ERR_UNSUP);
	CHECK_EQ(sim_thread_kill(me), SIM_ERR_UNSUP);
	CHECK_EQ(sceKernelDeleteThread(me), SIM_ERR_UNSUP);
	sim_kernel_start(); /* nothing to do */
	CHECK_EQ(sceKernelGetThreadId(), me);
	pthread_create(&th, NULL, other_pthread, NULL);
	pthread_join(th, NULL);
	CHECK(other_tid > 0 && other_tid != me);
	CHECK_EQ((other_tid - me) % 0x10, 0);
	CHECK_EQ(get_info(other_tid, &info), 0); /* pthread exits are not seen */
	CHECK_EQ(info.status, SIM_THREAD_STATUS_READY);
	CHECK(sceKernelGetThreadTLSAddr(other_tid, 0x89) == NULL); /* only one's own */
	CHECK(sceKernelGetThreadTLSAddr(me, 0x89) == sceKernelGetTLSAddr(0x89));
	CHECK_EQ(get_info(other_tid + 0x10 * 1000, &info), SIM_ERR_UNKNOWN_THREAD_ID);
}
#endif

#ifdef SIM_THREADS
/* Runnable threads: each runs on its own stack as itself (id, TLS slot),
   keeps its locals and callee-saved registers across switches, waits for
   an LwMutex another thread holds by letting it run, and is dormant once
   its entry returns. */
static SceKernelLwMutexWork spawn_mutex;
static int spawn_steps[3], spawn_order[64], spawn_n, spawn_bad;

static void spawn_body(void *arg)
{
	int k = (int)(uintptr_t)arg;
	SceUID me = sceKernelGetThreadId();
	volatile double f = 1.5 * k; /* lives in a VFP register across switches */
	int i;
	*(uint32_t *)sceKernelGetTLSAddr(0x89) = 0xA0u + (uint32_t)k;
	for (i = 0; i < 5; i++) {
		if (spawn_n < 64)
			spawn_order[spawn_n++] = k;
		if (k == 0 && i == 1) { /* hold the mutex across switches */
			sceKernelLockLwMutex(&spawn_mutex, 1, NULL);
			sim_yield();
			sim_yield();
			sceKernelUnlockLwMutex(&spawn_mutex, 1);
		} else if (k != 0 && i == 2) {
			sceKernelLockLwMutex(&spawn_mutex, 1, NULL); /* may wait */
			sceKernelUnlockLwMutex(&spawn_mutex, 1);
		}
		sim_yield();
		spawn_bad |= sceKernelGetThreadId() != me;
		spawn_bad |= *(uint32_t *)sceKernelGetTLSAddr(0x89) != 0xA0u + (uint32_t)k;
		spawn_bad |= f != 1.5 * k;
		spawn_steps[k]++;
	}
}

static void test_spawn(void)
{
	SceUID t[3];
	SceKernelThreadInfo info;
	int k, switched = 0;
	CHECK_EQ(sceKernelCreateLwMutex(&spawn_mutex, "spawn", 0, 0, NULL), 0);
	sim_preempt_config(12345, 0);
	for (k = 0; k < 3; k++) {
		t[k] = sim_thread_spawn(spawn_body, (void *)(uintptr_t)k);
		CHECK(t[k] > 0);
	}
	CHECK_EQ(sceKernelGetThreadId(), SIM_MAIN_THREAD_ID); /* not started yet */
	sim_sched_run();
	CHECK_EQ(sceKernelGetThreadId(), SIM_MAIN_THREAD_ID);
	CHECK_EQ(spawn_bad, 0);
	for (k = 0; k < 3; k++) {
		CHECK_EQ(spawn_steps[k], 5);
		CHECK_EQ(get_info(t[k], &info), 0);
		CHECK_EQ(info.status, SIM_THREAD_STATUS_DORMANT);
		CHECK_EQ(sim_thread_switch(t[k]), SIM_ERR_DORMANT);
		CHECK_EQ(sceKernelDeleteThread(t[k]), 0);
	}
	for (k = 1; k < spawn_n; k++)
		switched += spawn_order[k] != spawn_order[k - 1];
	CHECK(switched >= 3); /* they interleaved */
	CHECK_EQ(sim_lwmutex_count(&spawn_mutex), 0);
	CHECK_EQ(sceKernelDeleteLwMutex(&spawn_mutex), 0);
	/* preemption points: percent 100 switches whenever another can run */
	sim_preempt_config(7, 100);
	sim_preempt_point(3); /* only main: nothing to switch to */
	{
		unsigned hits, sw;
		sim_preempt_counts(3, &hits, &sw);
		CHECK_EQ(hits, 1u);
		CHECK_EQ(sw, 1u); /* decided to switch, found no one: returns */
	}
	sim_preempt_config(0, 0);
	CHECK_EQ(sceKernelGetThreadId(), SIM_MAIN_THREAD_ID);
}
#endif

int main(void)
{
	sim_counters_t c;
	test_sbrk(); /* first: before printf allocates */
	test_types_and_sizes();
	test_alignment();
	test_budget_and_free_size();
	test_block_limit();
	test_uids();
	test_fault_injection_and_counters();
	test_reuse_and_poison();
	test_find();
	test_tls();
	test_lwmutex();
#ifdef HOST_THREADS
	test_threads();
	test_thread_calls_host();
#else
	test_sim_threads();
	test_lwmutex_across_switches();
	test_spawn();
#endif
	sim_get_counters(&c);
	CHECK_EQ(c.live_blocks, 1); /* only the sbrk heap is left */
	printf("sim_selftest: %s (%d failure%s; %u memblock calls)\n", failures ? "FAILED" : "ok", failures,
	       failures == 1 ? "" : "s", c.alloc_calls + c.free_calls);
	return failures ? 1 : 0;
}
