/*
 * test_errors -- failures: NULL + errno == ENOMEM, through every allocating
 * entry point (standard names, newlib _r names, vitalloc_* names).
 *
 *  - sizes that cannot be had: SIZE_MAX, every size from SIZE_MAX - 70000
 *    to SIZE_MAX (all of them: whatever rounding the allocator does --
 *    header, 16-byte, page or 64 KiB granule -- overflows somewhere in
 *    there), SIZE_MAX/2 + 1, SIZE_MAX/2 and its neighbours (more than the
 *    address space / the Vita's budget);
 *  - calloc's n * size overflow in both argument orders, including products
 *    that wrap to exactly 0 or to a small number;
 *  - a failed realloc leaves the block intact (contents, usable size) and
 *    still freeable; the _r variant reports through the reent struct;
 *  - reallocf frees the block when it fails;
 *  - posix_memalign returns ENOMEM and leaves *memptr untouched;
 *  - failed_calls counts the failures;
 *  (that errno is left alone where it must be is test_errno's subject.)
 *  - vitalloc_set_limit: allocations that would take the heap past the
 *    limit fail with ENOMEM, reserved never exceeds it, raising the limit
 *    (0 = none) makes them succeed again; stats.limit reports it.
 */
#include "vt_test.h"

static struct _reent reent;

enum { F_MALLOC, F_VMALLOC, F_RMALLOC, F_CALLOC1, F_CALLOC2, F_VCALLOC,
       F_RCALLOC, F_REALLOC_NULL, F_VREALLOC_NULL, F_RREALLOC_NULL,
       F_REALLOCF_NULL, F_RREALLOCF_NULL, F_MEMALIGN, F_VMEMALIGN,
       F_RMEMALIGN, F_ALIGNED_ALLOC, F_VALIGNED_ALLOC, F_VALLOC, F_RVALLOC,
       F_PVALLOC, F_RPVALLOC, F_MEMALIGN_BIG, F_COUNT };

static const char *const fname[F_COUNT] = {
	"malloc", "vitalloc_malloc", "_malloc_r", "calloc(1,n)", "calloc(n,1)",
	"vitalloc_calloc", "_calloc_r", "realloc(NULL)",
	"vitalloc_realloc(NULL)", "_realloc_r(NULL)", "reallocf(NULL)",
	"_reallocf_r(NULL)", "memalign(64)", "vitalloc_memalign(64)",
	"_memalign_r(64)", "aligned_alloc(32)", "vitalloc_aligned_alloc(32)",
	"valloc", "_valloc_r", "pvalloc", "_pvalloc_r", "memalign(1 MiB)",
};

/* Whether function f reports errors through `reent` (else errno). */
static int uses_reent(int f)
{
	return f == F_RMALLOC || f == F_RCALLOC || f == F_RREALLOC_NULL ||
	       f == F_RREALLOCF_NULL || f == F_RMEMALIGN || f == F_RVALLOC ||
	       f == F_RPVALLOC;
}

static void *call(int f, size_t n)
{
	switch (f) {
	case F_MALLOC: return malloc(n);
	case F_VMALLOC: return vitalloc_malloc(n);
	case F_RMALLOC: return _malloc_r(&reent, n);
	case F_CALLOC1: return calloc(1, n);
	case F_CALLOC2: return calloc(n, 1);
	case F_VCALLOC: return vitalloc_calloc(n, 1);
	case F_RCALLOC: return _calloc_r(&reent, 1, n);
	case F_REALLOC_NULL: return realloc(NULL, n);
	case F_VREALLOC_NULL: return vitalloc_realloc(NULL, n);
	case F_RREALLOC_NULL: return _realloc_r(&reent, NULL, n);
	case F_REALLOCF_NULL: return reallocf(NULL, n);
	case F_RREALLOCF_NULL: return _reallocf_r(&reent, NULL, n);
	case F_MEMALIGN: return memalign(64, n);
	case F_VMEMALIGN: return vitalloc_memalign(64, n);
	case F_RMEMALIGN: return _memalign_r(&reent, 64, n);
	case F_ALIGNED_ALLOC: return aligned_alloc(32, n);
	case F_VALIGNED_ALLOC: return vitalloc_aligned_alloc(32, n);
	case F_VALLOC: return valloc(n);
	case F_RVALLOC: return _valloc_r(&reent, n);
	case F_PVALLOC: return pvalloc(n);
	case F_RPVALLOC: return _pvalloc_r(&reent, n);
	case F_MEMALIGN_BIG: return memalign(VT_MIB, n);
	}
	return NULL;
}

static int failures_reported;

/* call(f, n) must return NULL with ENOMEM in the right place. */
static void expect_enomem(int f, size_t n)
{
	errno = 0;
	reent._errno = 0;
	void *p = call(f, n);
	int e = uses_reent(f) ? reent._errno : errno;
	if (p != NULL || e != ENOMEM) {
		vt_failures++;
		if (failures_reported++ < 40)
			fprintf(stderr,
				"%s:%d: %s(%llu = SIZE_MAX - %llu) returned %p, "
				"errno %d (expected NULL, ENOMEM%s)\n",
				__FILE__, __LINE__, fname[f], VT_U(n), VT_U(SIZE_MAX - n), p,
				e, uses_reent(f) ? " in reent->_errno" : "");
		if (p)
			free(p);
	}
	vt_checks++;
}

static void test_impossible_sizes(void)
{
	vitalloc_stats_t s0 = vt_stats();
	for (int f = 0; f < F_COUNT; f++) {
		unsigned long long attempts = 0;
		vitalloc_stats_t before = vt_stats();
		for (size_t k = 0; k <= 70000; k++, attempts++)
			expect_enomem(f, vt_size(SIZE_MAX - k));
		static const size_t halves[] = {0, 1, 2, 15, 16, 4095, 4096, 65536};
		for (size_t i = 0; i < sizeof halves / sizeof halves[0]; i++) {
			expect_enomem(f, vt_size(SIZE_MAX / 2 + 1 + halves[i]));
			expect_enomem(f, vt_size(SIZE_MAX / 2 + 1 - halves[i]));
			attempts += 2;
		}
		/* 3/4 and 5/8 of the address space. */
		expect_enomem(f, vt_size(SIZE_MAX / 4 * 3));
		expect_enomem(f, vt_size(SIZE_MAX / 8 * 5));
		attempts += 2;
		/* Every one of them counts as a failed call -- except, for
		   pvalloc, sizes whose page rounding overflows: vitalloc fails
		   those before reaching the heap (test_stats has that case). */
		uint64_t failed = vt_stats().failed_calls - before.failed_calls;
		if (f == F_PVALLOC || f == F_RPVALLOC)
			VT_CHECK_CMP(failed, >=, attempts - (VT_PAGE - 1));
		else if (failed != attempts)
			VT_FAIL_AT("%s: %llu failures, failed_calls grew by %llu",
				   fname[f], attempts, (unsigned long long)failed);
		vt_checks++;
	}
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.allocations, s0.allocations);
	VT_CHECK_EQ(s1.in_use, s0.in_use);
	VT_HEAP_OK();
}

static void test_calloc_overflow(void)
{
	const size_t half = (size_t)1 << (VT_SIZE_BITS / 2); /* half*half == 0 */
	const size_t pairs[][2] = {
		{SIZE_MAX / 2 + 1, 2},	     /* wraps to 0 */
		{half, half},		     /* wraps to 0 */
		{half + 1, half},	     /* wraps to half */
		{half * 16, half / 8},	     /* wraps to 0 */
		{SIZE_MAX, SIZE_MAX},	     /* wraps to 1 */
		{SIZE_MAX / 3 + 1, 3},	     /* wraps to 2 */
		{SIZE_MAX / 16 + 1, 16},     /* wraps to 0 */
		{SIZE_MAX / 4096 + 1, 4096}, /* wraps to 0 */
		{SIZE_MAX, 2},
		{(size_t)1 << (VT_SIZE_BITS - 1), (size_t)1 << (VT_SIZE_BITS - 1)},
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		for (int order = 0; order < 2; order++) {
			size_t a = vt_size(pairs[i][order]), b = vt_size(pairs[i][!order]);
			errno = 0;
			void *p = calloc(a, b);
			VT_CHECK(p == NULL);
			VT_CHECK_EQ(errno, ENOMEM);
			errno = 0;
			p = vitalloc_calloc(a, b);
			VT_CHECK(p == NULL);
			VT_CHECK_EQ(errno, ENOMEM);
			errno = 0;
			reent._errno = 0;
			p = _calloc_r(&reent, a, b);
			VT_CHECK(p == NULL);
			VT_CHECK_EQ(reent._errno, ENOMEM);
		}
	}
	/* Not an overflow: exactly SIZE_MAX would be wanted -- still ENOMEM. */
	errno = 0;
	VT_CHECK(calloc(vt_size(half - 1), vt_size(half + 1)) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	VT_HEAP_OK();
}

typedef void *(*re_fn)(void *, size_t);
static void *re_std(void *p, size_t n) { return realloc(p, n); }
static void *re_r(void *p, size_t n) { return _realloc_r(&reent, p, n); }

static void test_realloc_failure_keeps_block(void)
{
	static const size_t olds[] = {0, 24, 1000, 5000, 100000, 2u << 20};
	const size_t bad[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15,
			      SIZE_MAX - 4095, SIZE_MAX - 4096, SIZE_MAX - 65536,
			      SIZE_MAX / 2 + 1, SIZE_MAX / 2};
	re_fn fns[] = {re_std, vitalloc_realloc, re_r};
	for (int f = 0; f < 3; f++)
		for (size_t i = 0; i < sizeof olds / sizeof olds[0]; i++) {
			unsigned char *p = malloc(olds[i]);
			VT_REQUIRE(p != NULL);
			size_t us = malloc_usable_size(p);
			vt_fill(p, us, 77);
			for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
				vitalloc_stats_t before = vt_stats();
				errno = 0;
				reent._errno = 0;
				void *q = fns[f](p, vt_size(bad[b]));
				VT_CHECK(q == NULL);
				VT_CHECK_EQ(f == 2 ? reent._errno : errno, ENOMEM);
				vitalloc_stats_t after = vt_stats();
				VT_CHECK_EQ(after.allocations, before.allocations);
				VT_CHECK_EQ(after.in_use, before.in_use);
				VT_CHECK_EQ(malloc_usable_size(p), us);
				if (!vt_verify(p, us, 77))
					VT_FAIL_AT("failed realloc(%llu-byte block, "
						   "%llu) damaged the block",
						   VT_U(olds[i]), VT_U(bad[b]));
			}
			/* Still a live, resizable, freeable block. */
			unsigned char *r = realloc(p, us + 10);
			VT_REQUIRE(r != NULL);
			VT_CHECK(vt_verify(r, us, 77));
			free(r);
		}
	VT_HEAP_OK();
}

static void test_reallocf_frees_on_failure(void)
{
	static const size_t olds[] = {1, 100, 3000, 200000, 2u << 20};
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < sizeof olds / sizeof olds[0]; i++) {
			void *p = malloc(olds[i]);
			VT_REQUIRE(p != NULL);
			size_t us = malloc_usable_size(p);
			vitalloc_stats_t before = vt_stats();
			errno = 0;
			reent._errno = 0;
			void *q = f ? _reallocf_r(&reent, p, vt_size(SIZE_MAX - 8))
				    : reallocf(p, vt_size(SIZE_MAX - 8));
			vitalloc_stats_t after = vt_stats();
			VT_CHECK(q == NULL);
			VT_CHECK_EQ(f ? reent._errno : errno, ENOMEM);
			/* p was freed. */
			VT_CHECK_EQ(after.allocations, before.allocations - 1);
			VT_CHECK_EQ(before.in_use - after.in_use, us);
			VT_HEAP_OK();
		}
	/* Success: contents kept. */
	void *p = malloc(100);
	VT_REQUIRE(p != NULL);
	vt_fill(p, 100, 5);
	void *q = reallocf(p, 100000);
	VT_REQUIRE(q != NULL);
	VT_CHECK(vt_verify(q, 100, 5));
	q = _reallocf_r(&reent, q, 10);
	VT_REQUIRE(q != NULL);
	VT_CHECK(vt_verify(q, 10, 5));
	free(q);
	VT_HEAP_OK();
}

static void test_posix_memalign_enomem(void)
{
	const size_t bad[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 63, SIZE_MAX - 4096,
			      SIZE_MAX / 2 + 1, SIZE_MAX / 2};
	const size_t aligns[] = {sizeof(void *), 16, 64, 4096, VT_MIB};
	void *const sentinel = (void *)(uintptr_t)0x5eed;
	for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
		for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++)
			for (int v = 0; v < 2; v++) {
				void *out = sentinel;
				int rc = v ? vitalloc_posix_memalign(&out, aligns[a], vt_size(bad[b]))
					   : posix_memalign(&out, aligns[a], vt_size(bad[b]));
				VT_CHECK_EQ(rc, ENOMEM);
				VT_CHECK(out == sentinel);
			}
	/* A valid alignment so large that no block can honour it. (That errno
	   is left alone is test_errno's business.) */
	void *out = sentinel;
	VT_CHECK_EQ(posix_memalign(&out, vt_size((size_t)1 << (VT_SIZE_BITS - 1)), 16), ENOMEM);
	VT_CHECK(out == sentinel);
	errno = 0;
	VT_CHECK(memalign(vt_size((size_t)1 << (VT_SIZE_BITS - 1)), 16) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(aligned_alloc(vt_size((size_t)1 << (VT_SIZE_BITS - 2)), 1) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	VT_HEAP_OK();
}

static void test_limit(void)
{
	const size_t big = 8 * VT_MIB;
	vitalloc_stats_t s0 = vt_stats();
	VT_CHECK_EQ(s0.limit, 0);
	size_t limit = s0.reserved + VT_MIB;
	vitalloc_set_limit(limit);
	VT_CHECK_EQ(vt_stats().limit, limit);

	/* Big requests fail with ENOMEM, through every allocating call. */
	errno = 0;
	VT_CHECK(malloc(big) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(calloc(1, big) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(memalign(4096, big) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(vitalloc_malloc(big) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	reent._errno = 0;
	VT_CHECK(_malloc_r(&reent, big) == NULL);
	VT_CHECK_EQ(reent._errno, ENOMEM);
	void *out = NULL;
	VT_CHECK_EQ(posix_memalign(&out, 64, big), ENOMEM);
	VT_CHECK(out == NULL);
	unsigned char *small = malloc(3000);
	VT_REQUIRE(small != NULL);
	vt_fill(small, 3000, 8);
	errno = 0;
	VT_CHECK(realloc(vt_ptr(small), big) == NULL); /* fails: small stays valid */
	VT_CHECK_EQ(errno, ENOMEM);
	VT_CHECK(vt_verify(small, 3000, 8));

	/* Filling up to the limit: reserved never passes it. */
	enum { MAXP = 1024 };
	static void *p[MAXP];
	int n = 0;
	while (n < MAXP) {
		p[n] = malloc(48 * VT_KIB);
		if (!p[n])
			break;
		vt_fill_sparse(p[n], 48 * VT_KIB, (unsigned)n);
		n++;
	}
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_CMP(n, <, MAXP); /* it did stop */
	VT_CHECK_CMP(n, >=, 1);	  /* the limit left a mebibyte of room */
	VT_CHECK_CMP(s1.reserved, <=, limit);
	VT_CHECK_EQ(errno, ENOMEM);
	VT_HEAP_OK();

	/* No limit: the same requests succeed. */
	vitalloc_set_limit(0);
	VT_CHECK_EQ(vt_stats().limit, 0);
	void *b = malloc(big);
	VT_CHECK(b != NULL);
	if (b) {
		vt_fill_sparse(b, big, 1);
		VT_CHECK(vt_verify_sparse(b, big, 1));
		free(b);
	}
	unsigned char *r = realloc(small, big);
	VT_REQUIRE(r != NULL);
	VT_CHECK(vt_verify(r, 3000, 8));
	free(r);
	for (int i = 0; i < n; i++) {
		VT_CHECK(vt_verify_sparse(p[i], 48 * VT_KIB, (unsigned)i));
		free(p[i]);
	}

	/* A limit below what is already held releases nothing, and memory
	   the heap already has can still be handed out. */
	void *warm = malloc(40);
	VT_REQUIRE(warm != NULL);
	void *keep = malloc(40); /* keeps the slab alive */
	free(warm);
	vitalloc_stats_t s2 = vt_stats();
	vitalloc_set_limit(1);
	VT_CHECK_EQ(vt_stats().reserved, s2.reserved);
	void *again = malloc(40);
	VT_CHECK(again != NULL);
	errno = 0;
	VT_CHECK(malloc(2 * VT_MIB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	vitalloc_set_limit(0);
	free(again);
	free(keep);
	void *c = malloc(2 * VT_MIB);
	VT_CHECK(c != NULL);
	free(c);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_errors");
	test_impossible_sizes();
	test_calloc_overflow();
	test_realloc_failure_keeps_block();
	test_reallocf_frees_on_failure();
	test_posix_memalign_enomem();
	test_limit();
	return vt_done("test_errors");
}
