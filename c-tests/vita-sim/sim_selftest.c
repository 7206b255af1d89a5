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

/* sim_crt's .preinit_array entry must have run before every constructor. */
__attribute__((constructor(101))) static void first_constructor(void)
{
	sim_get_counters(&at_first_constructor);
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
static void misuse_hook(const char *msg)
{
	strncpy(misuse_msg, msg, sizeof misuse_msg - 1);
	longjmp(misuse_jb, 1);
}
#define EXPECT_MISUSE(stmt, what) do { misuse_msg[0] = 0; \
	if (!setjmp(misuse_jb)) { stmt; failures++; printf("FAIL %s:%d: no misuse: %s\n", __FILE__, __LINE__, #stmt); } \
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
		sceKernelUnlockLwMutex(&tmtx, 1); /* not the owner */
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

static void test_tls(void)
{
	uintptr_t *a = sceKernelGetTLSAddr(0x89), *b = sceKernelGetTLSAddr(0x8A);
	CHECK(a && b && a != b);
	CHECK_EQ(*a, 0);
	*a = (uintptr_t)&failures; /* holds a pointer on every platform */
	CHECK(*(uintptr_t *)sceKernelGetTLSAddr(0x89) == (uintptr_t)&failures);
	*a = 0;
	CHECK(sceKernelGetTLSAddr(-1) == NULL);
	CHECK(sceKernelGetTLSAddr(256) == NULL);
}

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
#endif
	sim_get_counters(&c);
	CHECK_EQ(c.live_blocks, 1); /* only the sbrk heap is left */
	printf("sim_selftest: %s (%d failure%s; %u memblock calls)\n", failures ? "FAILED" : "ok", failures,
	       failures == 1 ? "" : "s", c.alloc_calls + c.free_calls);
	return failures ? 1 : 0;
}
