/*
 * test_basic -- the everyday entry points through their standard names and
 * their vitalloc_* twins: malloc, free, calloc, realloc, reallocf, cfree,
 * malloc_usable_size, reallocarray (libc's, which must land in vitalloc).
 *
 *  - default alignment is _Alignof(max_align_t) (16 on x86_64, 8 on ARM);
 *  - malloc(0) returns unique non-NULL pointers; free(NULL) does nothing;
 *  - malloc_usable_size is >= the request and *all* of it is writable: we
 *    fill whole usable sizes of neighbouring blocks and verify none
 *    overwrote another; the in_use statistic grows by exactly that size;
 *  - calloc zeroes (also memory that was dirty before);
 *  - realloc keeps contents through growth and shrinking across the small,
 *    medium and large paths; realloc(NULL, n) is malloc(n);
 *  - realloc(p, 0) follows newlib (no REALLOC_ZERO_BYTES_FREES): it returns
 *    a non-NULL minimum-size allocation q; p must no longer be used (q may
 *    equal p: the shrink can happen in place); exactly one allocation
 *    remains live, and q is freed normally.
 */
#include "vt_test.h"

static const size_t sizes[] = {
	0,     1,     2,     3,     7,     8,     9,     15,     16,
	17,    24,    31,    32,    33,    48,    63,    64,     65,
	96,    100,   127,   128,   129,   255,   256,   257,    500,
	511,   512,   513,   768,   1000,  1023,  1024,  1025,   1500,
	2000,  2047,  2048,  2049,  3000,  4095,  4096,  4097,   5000,
	8191,  8192,  10000, 16384, 20000, 32768, 65535, 65536,  65537,
	100000, 262144, 500000, 1048575, 1048576, 1048577, 3145728,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

typedef struct {
	void *(*alloc)(size_t);
	void (*release)(void *);
	size_t (*usable)(void *);
	const char *name;
} family_t;

static void *vt_std_malloc(size_t n) { return malloc(n); }
static void vt_std_free(void *p) { free(p); }
static size_t vt_std_usable(void *p) { return malloc_usable_size(p); }
static void vt_cfree(void *p) { cfree(p); }

static const family_t families[] = {
	{vt_std_malloc, vt_std_free, vt_std_usable, "malloc/free"},
	{vitalloc_malloc, vitalloc_free, vitalloc_usable_size,
	 "vitalloc_malloc/vitalloc_free"},
	{vt_std_malloc, vt_cfree, vitalloc_usable_size, "malloc/cfree"},
};

/* Every size: alignment, usable >= n, whole usable size writable without
   touching the neighbours, in_use grows by exactly the usable size. */
static void test_sizes_and_usable(const family_t *f)
{
	const size_t align = _Alignof(max_align_t);
	void *p[NSIZES][3];
	size_t us[NSIZES][3];

	vitalloc_stats_t s0 = vt_stats();
	size_t expect_in_use = s0.in_use;
	for (size_t i = 0; i < NSIZES; i++) {
		for (int k = 0; k < 3; k++) {
			vitalloc_stats_t before = vt_stats();
			p[i][k] = f->alloc(sizes[i]);
			VT_REQUIRE(p[i][k] != NULL);
			vitalloc_stats_t after = vt_stats();
			us[i][k] = f->usable(p[i][k]);
			VT_CHECK(vt_aligned(p[i][k], align));
			VT_CHECK_CMP(us[i][k], >=, sizes[i]);
			VT_CHECK_EQ(after.in_use - before.in_use, us[i][k]);
			VT_CHECK_EQ(after.allocations, before.allocations + 1);
			VT_CHECK_EQ(after.malloc_calls, before.malloc_calls + 1);
			expect_in_use += us[i][k];
			/* The whole usable size, not just the request. */
			vt_fill(p[i][k], us[i][k], (unsigned)(i * 3 + k));
		}
	}
	VT_CHECK_EQ(vt_stats().in_use, expect_in_use);
	VT_HEAP_OK();
	/* Nothing overlapped: every block still holds its own pattern. */
	for (size_t i = 0; i < NSIZES; i++)
		for (int k = 0; k < 3; k++)
			if (!vt_verify(p[i][k], us[i][k], (unsigned)(i * 3 + k)))
				VT_FAIL_AT("%s: block of %llu bytes (usable %llu) "
					   "was overwritten by a neighbour",
					   f->name, VT_U(sizes[i]), VT_U(us[i][k]));
	for (size_t i = 0; i < NSIZES; i++)
		for (int k = 0; k < 3; k++) {
			vitalloc_stats_t before = vt_stats();
			f->release(p[i][k]);
			vitalloc_stats_t after = vt_stats();
			VT_CHECK_EQ(before.in_use - after.in_use, us[i][k]);
			VT_CHECK_EQ(after.allocations, before.allocations - 1);
			VT_CHECK_EQ(after.free_calls, before.free_calls + 1);
		}
	VT_CHECK_EQ(vt_stats().in_use, s0.in_use);
	VT_CHECK_EQ(vt_stats().allocations, s0.allocations);
	VT_HEAP_OK();
}

/* Many small blocks of each size class, written in full, in interleaved
   order, then freed in a scrambled order. */
static void test_dense_small(void)
{
	enum { N = 600 };
	static void *p[N];
	static size_t us[N];
	for (int i = 0; i < N; i++) {
		size_t n = (size_t)(i * 37) % 1100;
		p[i] = malloc(n);
		VT_REQUIRE(p[i] != NULL);
		us[i] = malloc_usable_size(p[i]);
		VT_CHECK_CMP(us[i], >=, n);
		vt_fill(p[i], us[i], (unsigned)i);
	}
	for (int i = 0; i < N; i++)
		VT_CHECK(vt_verify(p[i], us[i], (unsigned)i));
	for (int j = 0; j < N; j++) {
		int i = (j * 7919) % N; /* a permutation: 7919 is prime, N not a multiple */
		VT_CHECK(vt_verify(p[i], us[i], (unsigned)i));
		free(p[i]);
	}
	VT_HEAP_OK();
}

static void test_malloc_zero(void)
{
	enum { N = 64 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = malloc(vt_size(0));
		VT_REQUIRE(p[i] != NULL);
		VT_CHECK(vt_aligned(p[i], _Alignof(max_align_t)));
		size_t us = malloc_usable_size(p[i]);
		vt_fill(p[i], us, (unsigned)i);
		for (int j = 0; j < i; j++)
			VT_CHECK(p[i] != p[j]);
	}
	void *v = vitalloc_malloc(0);
	VT_REQUIRE(v != NULL);
	for (int i = 0; i < N; i++) {
		VT_CHECK(v != p[i]);
		VT_CHECK(vt_verify(p[i], malloc_usable_size(p[i]), (unsigned)i));
		free(p[i]);
	}
	vitalloc_free(v);
	VT_HEAP_OK();
}

static void test_free_null(void)
{
	vitalloc_stats_t a = vt_stats();
	free(NULL);
	cfree(NULL);
	vitalloc_free(NULL);
	vitalloc_stats_t b = vt_stats();
	VT_CHECK_EQ(b.free_calls, a.free_calls); /* "free calls with a non-null pointer" */
	VT_CHECK_EQ(b.allocations, a.allocations);
	VT_CHECK_EQ(b.in_use, a.in_use);
	VT_CHECK_EQ(malloc_usable_size(NULL), 0);
	VT_CHECK_EQ(vitalloc_usable_size(NULL), 0);
	VT_HEAP_OK();
}

static void test_calloc(void)
{
	static const size_t cs[] = {1, 7, 16, 100, 1000, 1024, 4000, 5000,
				    65536, 300000, 1048576, 2u << 20};
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		size_t n = cs[i];
		/* Dirty memory first, so that calloc has to clear it. */
		for (int round = 0; round < 2; round++) {
			unsigned char *d = malloc(n);
			VT_REQUIRE(d != NULL);
			memset(d, 0xA5, malloc_usable_size(d));
			free(d);
			unsigned char *z = round ? vitalloc_calloc(n, 1)
						 : calloc(1, n);
			VT_REQUIRE(z != NULL);
			VT_CHECK(vt_aligned(z, _Alignof(max_align_t)));
			VT_CHECK_CMP(malloc_usable_size(z), >=, n);
			if (!vt_all_zero(z, n))
				VT_FAIL_AT("calloc(%llu) is not zeroed", VT_U(n));
			vt_fill(z, malloc_usable_size(z), 9);
			free(z);
		}
	}
	/* n * size split both ways. */
	unsigned *a = calloc(1000, sizeof(unsigned));
	VT_REQUIRE(a != NULL);
	VT_CHECK(vt_all_zero(a, 1000 * sizeof(unsigned)));
	free(a);
	/* Zero-sized calloc: unique, non-NULL, freeable. */
	void *z1 = calloc(0, 16), *z2 = calloc(16, 0), *z3 = calloc(0, 0);
	void *z4 = vitalloc_calloc(0, 0);
	VT_CHECK(z1 && z2 && z3 && z4);
	VT_CHECK(z1 != z2 && z1 != z3 && z2 != z3 && z4 != z1 && z4 != z3);
	free(z1);
	free(z2);
	free(z3);
	vitalloc_free(z4);
	VT_HEAP_OK();
}

typedef void *(*realloc_fn)(void *, size_t);
static void *vt_std_realloc(void *p, size_t n) { return realloc(p, n); }
static void *vt_std_reallocf(void *p, size_t n) { return reallocf(p, n); }

static void test_realloc_chain(realloc_fn re, const char *name)
{
	static const size_t chain[] = {
		1,    8,     17,     100,   500,     1000,    1024,    1025,
		2000, 5000,  4000,   70000, 60000,   200000,  1048576, 1048577,
		3u << 20, 10u << 20, 9u << 20, 3u << 20, 600000, 70000, 5000,
		1100, 1024, 600, 100, 16, 1, 3000, 2u << 20, 12,
	};
	size_t have = 0;
	unsigned char *p = NULL;
	for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++) {
		size_t n = chain[i];
		vitalloc_stats_t before = vt_stats();
		unsigned char *q = re(p, n);
		vitalloc_stats_t after = vt_stats();
		if (!q) {
			VT_FAIL_AT("%s(%p, %llu) failed", name, (void *)p, VT_U(n));
			exit(2);
		}
		VT_CHECK(vt_aligned(q, _Alignof(max_align_t)));
		size_t us = malloc_usable_size(q);
		VT_CHECK_CMP(us, >=, n);
		size_t keep = have < n ? have : n;
		if (!vt_verify(q, keep, (unsigned)(i - 1)))
			VT_FAIL_AT("%s to %llu lost the first %llu bytes", name, VT_U(n),
				   VT_U(keep));
		/* One live block before and after (none before the first). */
		VT_CHECK_EQ(after.allocations, before.allocations + (p ? 0 : 1));
		VT_CHECK_EQ(after.in_use - before.in_use + (p ? have : 0), us);
		vt_fill(q, us, (unsigned)i);
		p = q;
		have = us;
		/* Between the hops, memory around must still be sane. */
		if (i % 8 == 7)
			VT_HEAP_OK();
	}
	free(p);
	VT_HEAP_OK();
}

static void test_realloc_null_and_same(void)
{
	/* realloc(NULL, n) allocates like malloc(n). */
	static const size_t ns[] = {0, 1, 100, 5000, 2u << 20};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		vitalloc_stats_t before = vt_stats();
		void *p = realloc(NULL, ns[i]);
		void *q = vitalloc_realloc(NULL, ns[i]);
		VT_REQUIRE(p != NULL && q != NULL && p != q);
		VT_CHECK(vt_aligned(p, _Alignof(max_align_t)));
		VT_CHECK_CMP(malloc_usable_size(p), >=, ns[i]);
		VT_CHECK_CMP(malloc_usable_size(q), >=, ns[i]);
		VT_CHECK_EQ(vt_stats().allocations, before.allocations + 2);
		vt_fill(p, malloc_usable_size(p), 1);
		vt_fill(q, malloc_usable_size(q), 2);
		VT_CHECK(vt_verify(p, malloc_usable_size(p), 1));
		/* Same size and a size within the usable size: still works. */
		size_t us = malloc_usable_size(p);
		void *p2 = realloc(p, us);
		VT_REQUIRE(p2 != NULL);
		VT_CHECK(vt_verify(p2, us, 1));
		free(p2);
		free(q);
	}
	VT_HEAP_OK();
}

/* realloc(p, 0), newlib's way. */
static void test_realloc_zero(void)
{
	static const size_t ns[] = {1, 16, 200, 1024, 5000, 100000, 2u << 20,
				    5u << 20};
	for (int which = 0; which < 3; which++)
		for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
			void *p = malloc(ns[i]);
			VT_REQUIRE(p != NULL);
			vt_fill(p, ns[i], 3);
			vitalloc_stats_t before = vt_stats();
			void *q = which == 0   ? realloc(p, vt_size(0))
				  : which == 1 ? vitalloc_realloc(p, 0)
					       : reallocf(p, vt_size(0));
			vitalloc_stats_t after = vt_stats();
			VT_CHECK(q != NULL);
			if (!q)
				continue;
			/* p is gone (or became q): one live block, not two. */
			VT_CHECK_EQ(after.allocations, before.allocations);
			VT_CHECK(vt_aligned(q, _Alignof(max_align_t)));
			/* The minimum allocation is usable like malloc(0)'s. */
			size_t us = malloc_usable_size(q);
			vt_fill(q, us, 4);
			void *other = malloc(0);
			VT_CHECK(other != q);
			free(other);
			VT_CHECK(vt_verify(q, us, 4));
			free(q);
			VT_HEAP_OK();
		}
}

/* libc's own reallocarray (glibc and newlib both implement it on top of
   realloc): the result must be vitalloc's. */
static void test_reallocarray(void)
{
#if VT_NEWLIB || (defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 26))
	unsigned *a = reallocarray(NULL, 100, sizeof(unsigned));
	VT_REQUIRE(a != NULL);
	VT_CHECK_CMP(vitalloc_usable_size(a), >=, 100 * sizeof(unsigned));
	for (unsigned i = 0; i < 100; i++)
		a[i] = i;
	unsigned *b = reallocarray(a, 5000, sizeof(unsigned));
	VT_REQUIRE(b != NULL);
	for (unsigned i = 0; i < 100; i++)
		VT_CHECK_EQ(b[i], i);
	errno = 0;
	void *c = reallocarray(vt_ptr(b), vt_size(SIZE_MAX / 2 + 1), 2);
	VT_CHECK(c == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	for (unsigned i = 0; i < 100; i++)
		VT_CHECK_EQ(b[i], i);
	free(b);
	VT_HEAP_OK();
#endif
}

int main(void)
{
	vt_start("test_basic");
	for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
		test_sizes_and_usable(&families[f]);
	test_dense_small();
	test_malloc_zero();
	test_free_null();
	test_calloc();
	test_realloc_chain(vt_std_realloc, "realloc");
	test_realloc_chain(vitalloc_realloc, "vitalloc_realloc");
	test_realloc_chain(vt_std_reallocf, "reallocf");
	test_realloc_null_and_same();
	test_realloc_zero();
	test_reallocarray();
	return vt_done("test_basic");
}
