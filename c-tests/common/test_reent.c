/*
 * test_reent -- newlib's reentrant entry points, called the way newlib's
 * own code calls them (stdio, strdup, dtoa...):
 *   _malloc_r _free_r _calloc_r _realloc_r _reallocf_r _memalign_r
 *   _valloc_r _pvalloc_r _malloc_usable_size_r _malloc_trim_r _mallinfo_r
 *   _malloc_stats_r _mallopt_r _mstats_r
 *
 * The struct _reent passed in is ours (on glibc a stand-in whose first
 * member is `int _errno`; on newlib the real one): a failure must store
 * its errno there; a success must not touch it. (That the thread's errno
 * is left alone is checked by test_errno.) Blocks move freely between the
 * _r and the plain names.
 */
#include "vt_test.h"

static struct _reent reent;

#define EXPECT_REENT_ERRNO(expr, err)                                          \
	do {                                                                   \
		errno = 0;                                                     \
		reent._errno = 0;                                              \
		void *vt_p_ = (expr);                                          \
		VT_CHECK(vt_p_ == NULL);                                       \
		VT_CHECK_EQ(reent._errno, err);                                \
	} while (0)

#define SENTINEL 0x7357

static void test_alloc_free(void)
{
	for (size_t n = 0; n < 3000; n += 7) {
		reent._errno = SENTINEL;
		errno = SENTINEL;
		unsigned char *p = _malloc_r(&reent, n);
		VT_REQUIRE(p != NULL);
		VT_CHECK(vt_aligned(p, _Alignof(max_align_t)));
		size_t us = _malloc_usable_size_r(&reent, p);
		VT_CHECK_CMP(us, >=, n);
		VT_CHECK_EQ(us, malloc_usable_size(p));
		VT_CHECK_EQ(us, vitalloc_usable_size(p));
		vt_fill(p, us, (unsigned)n);
		VT_CHECK(vt_verify(p, us, (unsigned)n));
		/* Mixed pairs: _malloc_r + free, malloc + _free_r. */
		if (n % 2)
			free(p);
		else
			_free_r(&reent, p);
		void *q = malloc(n);
		VT_REQUIRE(q != NULL);
		_free_r(&reent, q);
		VT_CHECK_EQ(reent._errno, SENTINEL);
	}
	vitalloc_stats_t a = vt_stats();
	_free_r(&reent, NULL);
	VT_CHECK_EQ(vt_stats().free_calls, a.free_calls);
	VT_CHECK_EQ(_malloc_usable_size_r(&reent, NULL), 0);
	EXPECT_REENT_ERRNO(_malloc_r(&reent, vt_size(SIZE_MAX)), ENOMEM);
	EXPECT_REENT_ERRNO(_malloc_r(&reent, vt_size(SIZE_MAX - 15)), ENOMEM);
	EXPECT_REENT_ERRNO(_malloc_r(&reent, vt_size(SIZE_MAX / 2 + 1)), ENOMEM);
	VT_HEAP_OK();
}

static void test_calloc_r(void)
{
	reent._errno = SENTINEL;
	unsigned char *d = _malloc_r(&reent, 5000);
	VT_REQUIRE(d != NULL);
	memset(d, 0xEE, 5000);
	_free_r(&reent, d);
	unsigned char *z = _calloc_r(&reent, 50, 100);
	VT_REQUIRE(z != NULL);
	VT_CHECK(vt_all_zero(z, 5000));
	VT_CHECK_EQ(reent._errno, SENTINEL);
	_free_r(&reent, z);
	EXPECT_REENT_ERRNO(_calloc_r(&reent, vt_size(SIZE_MAX / 2 + 1), 2), ENOMEM);
	EXPECT_REENT_ERRNO(_calloc_r(&reent, 2, vt_size(SIZE_MAX / 2 + 1)), ENOMEM);
	EXPECT_REENT_ERRNO(_calloc_r(&reent, 1, vt_size(SIZE_MAX)), ENOMEM);
	VT_HEAP_OK();
}

static void test_realloc_r(void)
{
	reent._errno = SENTINEL;
	unsigned char *p = _realloc_r(&reent, NULL, 10);
	VT_REQUIRE(p != NULL);
	vt_fill(p, 10, 1);
	p = _realloc_r(&reent, p, 20000);
	VT_REQUIRE(p != NULL);
	VT_CHECK(vt_verify(p, 10, 1));
	vt_fill(p, 20000, 2);
	p = _realloc_r(&reent, p, 3 * VT_MIB);
	VT_REQUIRE(p != NULL);
	VT_CHECK(vt_verify(p, 20000, 2));
	p = _realloc_r(&reent, p, 100);
	VT_REQUIRE(p != NULL);
	VT_CHECK(vt_verify(p, 100, 2));
	VT_CHECK_EQ(reent._errno, SENTINEL);

	/* Failure: NULL, ENOMEM in reent, block intact. */
	EXPECT_REENT_ERRNO(_realloc_r(&reent, p, vt_size(SIZE_MAX - 1)), ENOMEM);
	VT_CHECK(vt_verify(p, 100, 2));

	/* _realloc_r(p, 0): newlib's minimum allocation, not a free. */
	vitalloc_stats_t a = vt_stats();
	void *q = _realloc_r(&reent, p, 0);
	VT_CHECK(q != NULL);
	VT_CHECK_EQ(vt_stats().allocations, a.allocations);
	_free_r(&reent, q);

	/* _reallocf_r: success keeps, failure frees. */
	p = _reallocf_r(&reent, NULL, 64);
	VT_REQUIRE(p != NULL);
	vt_fill(p, 64, 3);
	p = _reallocf_r(&reent, p, 6000);
	VT_REQUIRE(p != NULL);
	VT_CHECK(vt_verify(p, 64, 3));
	a = vt_stats();
	EXPECT_REENT_ERRNO(_reallocf_r(&reent, p, vt_size(SIZE_MAX)), ENOMEM);
	VT_CHECK_EQ(vt_stats().allocations, a.allocations - 1);
	VT_HEAP_OK();
}

static void test_aligned_r(void)
{
	reent._errno = SENTINEL;
	for (size_t al = 1; al <= VT_MIB; al <<= 1) {
		void *p = _memalign_r(&reent, al, 333);
		VT_REQUIRE(p != NULL);
		VT_CHECK(vt_aligned(p, al));
		vt_fill(p, 333, 4);
		VT_CHECK(vt_verify(p, 333, 4));
		_free_r(&reent, p);
	}
	void *v = _valloc_r(&reent, 10);
	VT_REQUIRE(v != NULL);
	VT_CHECK(vt_aligned(v, VT_PAGE));
	_free_r(&reent, v);
	void *pv = _pvalloc_r(&reent, 10);
	VT_REQUIRE(pv != NULL);
	VT_CHECK(vt_aligned(pv, VT_PAGE));
	VT_CHECK_CMP(_malloc_usable_size_r(&reent, pv), >=, VT_PAGE);
	vt_fill(pv, VT_PAGE, 5);
	_free_r(&reent, pv);
	VT_CHECK_EQ(reent._errno, SENTINEL);

	EXPECT_REENT_ERRNO(_memalign_r(&reent, 24, 10), EINVAL);
	EXPECT_REENT_ERRNO(_memalign_r(&reent, 0, 10), EINVAL);
	EXPECT_REENT_ERRNO(_memalign_r(&reent, 3, 10), EINVAL);
	EXPECT_REENT_ERRNO(_memalign_r(&reent, 48, 10), EINVAL);
	EXPECT_REENT_ERRNO(_memalign_r(&reent, 64, vt_size(SIZE_MAX - 3)), ENOMEM);
	EXPECT_REENT_ERRNO(_valloc_r(&reent, vt_size(SIZE_MAX - 100)), ENOMEM);
	EXPECT_REENT_ERRNO(_pvalloc_r(&reent, vt_size(SIZE_MAX - 100)), ENOMEM);
	EXPECT_REENT_ERRNO(_pvalloc_r(&reent, vt_size(SIZE_MAX / 2 + 1)), ENOMEM);
	VT_HEAP_OK();
}

/* A NULL reent: vitalloc falls back to the thread's errno (src/ffi/api.rs;
   newlib itself would crash, so nothing relies on it, but it must not). */
static void test_null_reent(void)
{
	errno = 0;
	VT_CHECK(_malloc_r(NULL, vt_size(SIZE_MAX)) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(_memalign_r(NULL, 24, 1) == NULL);
	VT_CHECK_EQ(errno, EINVAL);
	void *p = _malloc_r(NULL, 10);
	VT_CHECK(p != NULL);
	_free_r(NULL, p);
}

static void test_info_r(void)
{
	/* _mallinfo_r: ten size_t fields, the same figures as
	   vitalloc_mallinfo. */
	VT_CHECK_EQ(sizeof(vt_mallinfo_r_t), 10 * sizeof(size_t));
	void *p = _malloc_r(&reent, 100000);
	VT_REQUIRE(p != NULL);
	vt_mallinfo_r_t m = _mallinfo_r(&reent);
	vitalloc_mallinfo_t v = vitalloc_mallinfo();
	VT_CHECK(memcmp(&m, &v, sizeof m) == 0);
	VT_CHECK_CMP(m.uordblks, >=, 100000);
	VT_CHECK_EQ(m.uordblks, vt_stats().in_use);
	_free_r(&reent, p);
	vt_mallinfo_r_t m2 = _mallinfo_r(&reent);
	VT_CHECK_CMP(m2.uordblks, <=, m.uordblks - 100000);

	/* _mallopt_r: 1 for the three parameters vitalloc honours, 0 else. */
	VT_CHECK_EQ(_mallopt_r(&reent, M_TRIM_THRESHOLD, (int)VT_DEFAULT_TRIM_THRESHOLD), 1);
	VT_CHECK_EQ(_mallopt_r(&reent, M_TOP_PAD, VT_DEFAULT_TOP_PAD), 1);
	VT_CHECK_EQ(_mallopt_r(&reent, M_MMAP_THRESHOLD, (int)VT_DEFAULT_MMAP_THRESHOLD), 1);
	VT_CHECK_EQ(_mallopt_r(&reent, 1 /* M_MXFAST */, 64), 0);
	VT_CHECK_EQ(_mallopt_r(&reent, 12345, 1), 0);

	/* _malloc_trim_r: a cached large block is released, then nothing. */
	void *big = _malloc_r(&reent, (3 * VT_MIB) / 2);
	VT_REQUIRE(big != NULL);
	_free_r(&reent, big);
	VT_CHECK_EQ(_malloc_trim_r(&reent, 0), 1);
	VT_CHECK_EQ(_malloc_trim_r(&reent, 0), 0);

	/* Printing must work and must not touch the reent's errno. */
	reent._errno = SENTINEL;
	_malloc_stats_r(&reent);
	_mstats_r(&reent, "test_reent");
	VT_CHECK_EQ(reent._errno, SENTINEL);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_reent");
	test_alloc_free();
	test_calloc_r();
	test_realloc_r();
	test_aligned_r();
	test_null_reent();
	test_info_r();
	return vt_done("test_reent");
}
