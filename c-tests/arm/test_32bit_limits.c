/*
 * test_32bit_limits -- the C API's overflow checks at the limits of a
 * 32-bit size_t (the Vita's), on ARM with newlib, and the default
 * alignment of 8 bytes.
 *
 * Every request that cannot be represented or rounded in 32 bits fails
 * cleanly -- NULL with errno ENOMEM (EINVAL for a bad alignment, as
 * documented in vitalloc.h), posix_memalign returning ENOMEM with *memptr
 * and errno untouched, the _r forms setting the reent's errno -- without
 * asking the kernel for a wrapped-around small block (no memblock is
 * left behind, vitalloc_check() stays 0), and a failed realloc leaves the
 * old block intact. Among them: malloc(SIZE_MAX), malloc(0xFFFFFFF0),
 * calloc(0x10000, 0x10001) (the product wraps to 0x10000), calloc(2,
 * 0x80000000) (wraps to 0), memalign(1 << 30, 1 << 30), realloc(p,
 * 0xFFFFFFFF), posix_memalign(&p, 1u << 31, ...), valloc/pvalloc sizes
 * whose page rounding wraps, and requests over the 256 MiB budget.
 *
 * Alignment: _Alignof(max_align_t) == 8 and every malloc/calloc/realloc
 * result is 8-aligned, for every size 0..2100 and for mixed sizes.
 */
#include "vt_test.h"
#include "arm_sim.h"

#define MiB (1024u * 1024u)

static struct _reent reent;

typedef struct {
	const char *what;
	void *(*call)(size_t a, size_t b);
	size_t a, b;
	int want_errno; /* ENOMEM or EINVAL */
} case_t;

static void *c_malloc(size_t a, size_t b) { (void)b; return malloc(a); }
static void *c_calloc(size_t a, size_t b) { return calloc(a, b); }
static void *c_memalign(size_t a, size_t b) { return memalign(a, b); }
static void *c_aligned_alloc(size_t a, size_t b) { return aligned_alloc(a, b); }
static void *c_valloc(size_t a, size_t b) { (void)b; return valloc(a); }
static void *c_pvalloc(size_t a, size_t b) { (void)b; return pvalloc(a); }
static void *c_realloc_null(size_t a, size_t b) { (void)b; return realloc(NULL, a); }
static void *c_vmalloc(size_t a, size_t b) { (void)b; return vitalloc_malloc(a); }
static void *c_vcalloc(size_t a, size_t b) { return vitalloc_calloc(a, b); }
static void *c_vmemalign(size_t a, size_t b) { return vitalloc_memalign(a, b); }

static void check_no_leak(const char *what, size_t a, size_t b, as_census_t before)
{
	/* No new memblock (a failing call may give cached ones back). */
	as_census_t c = as_census();
	if (c.total > before.total || c.bytes > before.bytes)
		VT_FAIL_AT("%s(0x%llx, 0x%llx): memblocks %u -> %u, %llu -> %llu bytes", what,
			   VT_U(a), VT_U(b), before.total, c.total, before.bytes, c.bytes);
	vt_checks++;
	if (vitalloc_check() != 0)
		VT_FAIL_AT("%s(0x%llx, 0x%llx): heap check failed", what, VT_U(a), VT_U(b));
	vt_checks++;
}

static void test_impossible_requests(void)
{
	const size_t M = SIZE_MAX;
	const case_t cases[] = {
		{"malloc", c_malloc, M, 0, ENOMEM},
		{"malloc", c_malloc, 0xFFFFFFF0u, 0, ENOMEM},
		{"malloc", c_malloc, M - 7, 0, ENOMEM},
		{"malloc", c_malloc, M - 4095, 0, ENOMEM},
		{"malloc", c_malloc, M - (1u << 20), 0, ENOMEM},
		{"malloc", c_malloc, 0x80000000u, 0, ENOMEM},
		{"malloc", c_malloc, 0x7FFFFFFFu, 0, ENOMEM},
		{"malloc", c_malloc, 0x7FFFF001u, 0, ENOMEM},
		{"malloc", c_malloc, 300u * MiB, 0, ENOMEM},  /* over the budget */
		{"malloc", c_malloc, 257u * MiB, 0, ENOMEM},
		{"calloc", c_calloc, 0x10000, 0x10001, ENOMEM}, /* wraps to 0x10000 */
		{"calloc", c_calloc, 0x10001, 0x10000, ENOMEM},
		{"calloc", c_calloc, 2, 0x80000000u, ENOMEM},   /* wraps to 0 */
		{"calloc", c_calloc, 0x80000000u, 2, ENOMEM},
		{"calloc", c_calloc, M, 1, ENOMEM},
		{"calloc", c_calloc, 1, M, ENOMEM},
		{"calloc", c_calloc, M, M, ENOMEM},            /* wraps to 1 */
		{"calloc", c_calloc, 0x1000, 0x100001, ENOMEM},  /* wraps to 0x1000 */
		{"calloc", c_calloc, 65537, 65537, ENOMEM},     /* wraps to 0x20001 */
		{"memalign", c_memalign, 1u << 30, 1u << 30, ENOMEM},
		{"memalign", c_memalign, 1u << 31, 16, ENOMEM},
		{"memalign", c_memalign, 1u << 31, 1u << 31, ENOMEM},
		{"memalign", c_memalign, 8, M, ENOMEM},
		{"memalign", c_memalign, 4096, 0xFFFFF001u, ENOMEM}, /* rounds past 4 GiB */
		{"memalign", c_memalign, 1u << 20, M - (1u << 20) + 2, ENOMEM},
		{"memalign", c_memalign, 3, 16, EINVAL},
		{"memalign", c_memalign, 0x80000001u, 16, EINVAL},
		{"aligned_alloc", c_aligned_alloc, 8, M - 7, ENOMEM},
		{"aligned_alloc", c_aligned_alloc, 1u << 30, 1u << 30, ENOMEM},
		{"aligned_alloc", c_aligned_alloc, 1u << 31, 8, ENOMEM},
		{"valloc", c_valloc, M - 100, 0, ENOMEM},
		{"valloc", c_valloc, 0xFFFFF001u, 0, ENOMEM},
		{"pvalloc", c_pvalloc, 0xFFFFF001u, 0, ENOMEM}, /* page rounding wraps to 0 */
		{"pvalloc", c_pvalloc, M, 0, ENOMEM},
		{"realloc(NULL)", c_realloc_null, M, 0, ENOMEM},
		{"realloc(NULL)", c_realloc_null, 0xFFFFFFF9u, 0, ENOMEM},
		{"vitalloc_malloc", c_vmalloc, M, 0, ENOMEM},
		{"vitalloc_calloc", c_vcalloc, 0x10000, 0x10001, ENOMEM},
		{"vitalloc_memalign", c_vmemalign, 1u << 30, 1u << 30, ENOMEM},
	};
	vitalloc_stats_t s0 = vt_stats();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const case_t *t = &cases[i];
		as_census_t before = as_census();
		errno = 0;
		void *p = t->call(vt_size(t->a), vt_size(t->b));
		int e = errno;
		if (p != NULL || e != t->want_errno) {
			VT_FAIL_AT("%s(0x%llx, 0x%llx) = %p, errno %d (expected NULL, %s)", t->what,
				   VT_U(t->a), VT_U(t->b), p, e, t->want_errno == EINVAL ? "EINVAL" : "ENOMEM");
			if (p)
				free(p);
		}
		vt_checks++;
		check_no_leak(t->what, t->a, t->b, before);
	}
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.allocations, s0.allocations);
	VT_CHECK_EQ(s1.in_use, s0.in_use);
}

static void test_reentrant_forms(void)
{
	as_census_t before = as_census();
	const size_t M = SIZE_MAX;
	errno = 0;
	reent._errno = 0;
	VT_CHECK(_malloc_r(&reent, vt_size(M)) == NULL);
	VT_CHECK_EQ(reent._errno, ENOMEM);
	reent._errno = 0;
	VT_CHECK(_calloc_r(&reent, vt_size(0x10000), vt_size(0x10001)) == NULL);
	VT_CHECK_EQ(reent._errno, ENOMEM);
	reent._errno = 0;
	VT_CHECK(_memalign_r(&reent, vt_size(1u << 30), vt_size(1u << 30)) == NULL);
	VT_CHECK_EQ(reent._errno, ENOMEM);
	reent._errno = 0;
	VT_CHECK(_valloc_r(&reent, vt_size(0xFFFFF001u)) == NULL);
	VT_CHECK_EQ(reent._errno, ENOMEM);
	reent._errno = 0;
	VT_CHECK(_pvalloc_r(&reent, vt_size(0xFFFFF001u)) == NULL);
	VT_CHECK_EQ(reent._errno, ENOMEM);
	VT_CHECK_EQ(errno, 0); /* only the reent's errno */
	check_no_leak("_r forms", 0, 0, before);
}

static void test_realloc_limits(void)
{
	static const size_t olds[] = {24, 3000, 200000, 2u * MiB};
	static const size_t news[] = {0xFFFFFFFFu, 0xFFFFFFF0u, 0xFFFFF001u, 0x80000000u, 300u * MiB};
	for (size_t i = 0; i < sizeof olds / sizeof olds[0]; i++)
		for (size_t j = 0; j < sizeof news / sizeof news[0]; j++) {
			size_t n = olds[i];
			unsigned char *p = malloc(n);
			VT_REQUIRE(p != NULL);
			vt_fill_sparse(p, n, (unsigned)(i * 10 + j));
			as_census_t before = as_census();
			errno = 0;
			void *q = realloc(p, vt_size(news[j]));
			int e = errno;
			if (q != NULL || e != ENOMEM)
				VT_FAIL_AT("realloc(%llu-byte block, 0x%llx) = %p, errno %d (expected NULL, ENOMEM)",
					   VT_U(n), VT_U(news[j]), q, e);
			vt_checks++;
			check_no_leak("realloc", n, news[j], before);
			if (!q) {
				VT_CHECK(vt_verify_sparse(p, n, (unsigned)(i * 10 + j)));
				VT_CHECK_CMP(malloc_usable_size(p), >=, n);
				/* _realloc_r: same, errno in the reent. */
				reent._errno = 0;
				VT_CHECK(_realloc_r(&reent, p, vt_size(news[j])) == NULL);
				VT_CHECK_EQ(reent._errno, ENOMEM);
				VT_CHECK(vt_verify_sparse(p, n, (unsigned)(i * 10 + j)));
				free(p);
			} else {
				free(q);
			}
		}
	/* reallocf frees the block when it fails. */
	vitalloc_stats_t s0 = vt_stats();
	void *p = malloc(100);
	VT_REQUIRE(p != NULL);
	errno = 0;
	VT_CHECK(reallocf(p, vt_size(0xFFFFFFFFu)) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.allocations, s0.allocations);
	VT_HEAP_OK();
}

static void test_posix_memalign_limits(void)
{
	static const struct { size_t align, size; } cases[] = {
		{(size_t)1 << 31, 16},
		{(size_t)1 << 31, (size_t)1 << 31},
		{(size_t)1 << 30, (size_t)1 << 30},
		{8, SIZE_MAX},
		{4096, 0xFFFFF001u},
		{64, 0xFFFFFFC1u},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (int v = 0; v < 2; v++) {
			as_census_t before = as_census();
			void *out = (void *)(uintptr_t)0xbadc0de8u;
			errno = 4321;
			size_t al = vt_size(cases[i].align), n = vt_size(cases[i].size);
			int rc = v ? vitalloc_posix_memalign(&out, al, n) : posix_memalign(&out, al, n);
			if (rc != ENOMEM)
				VT_FAIL_AT("%s(&p, 0x%llx, 0x%llx) returned %d (expected ENOMEM)",
					   v ? "vitalloc_posix_memalign" : "posix_memalign", VT_U(al), VT_U(n), rc);
			vt_checks++;
			VT_CHECK(out == (void *)(uintptr_t)0xbadc0de8u);
			VT_CHECK_EQ(errno, 4321);
			check_no_leak("posix_memalign", al, n, before);
		}
	}
	/* Not a power of two at the top of the range: EINVAL. */
	void *out = NULL;
	VT_CHECK_EQ(posix_memalign(&out, vt_size(0x80000004u), 16), EINVAL);
	VT_CHECK_EQ(posix_memalign(&out, vt_size(SIZE_MAX), 16), EINVAL);
	VT_CHECK(out == NULL);
}

/* Large alignments that CAN be satisfied on the Vita's 32-bit space. */
static void test_big_alignments_work(void)
{
	for (size_t align = 1u << 20; align <= 64u * MiB; align <<= 1) {
		void *p = memalign(align, 100);
		VT_CHECK(p != NULL);
		if (p) {
			VT_CHECK(vt_aligned(p, align));
			AS_CHECK_VITALLOC(p, 100, "memalign(big alignment, 100)");
			memset(p, 0x5c, 100);
			free(p);
		}
	}
	VT_HEAP_OK();
}

static void test_default_alignment(void)
{
	VT_CHECK_EQ(sizeof(size_t), 4);
	VT_CHECK_EQ(sizeof(void *), 4);
	VT_CHECK_EQ(_Alignof(max_align_t), 8);
	enum { N = 2101 };
	static void *ptr[N];
	unsigned bad = 0;
	for (size_t n = 0; n < N; n++) {
		ptr[n] = (n % 3 == 1) ? calloc(1, n) : malloc(n);
		VT_REQUIRE(ptr[n] != NULL);
		if (!vt_aligned(ptr[n], 8) && ++bad <= 5)
			VT_FAIL_AT("malloc(%llu) = %p: not 8-aligned", VT_U(n), ptr[n]);
	}
	for (size_t n = 0; n < N; n++) {
		void *q = realloc(ptr[n], n + 13);
		VT_REQUIRE(q != NULL);
		if (!vt_aligned(q, 8) && ++bad <= 5)
			VT_FAIL_AT("realloc(, %llu) = %p: not 8-aligned", VT_U(n + 13), q);
		ptr[n] = q;
	}
	for (size_t n = 0; n < N; n++)
		free(ptr[n]);
	/* Mixed sizes, some large. */
	unsigned x = 7;
	for (int i = 0; i < 400; i++) {
		x = x * 1664525u + 1013904223u;
		size_t n = (x >> 8) % (i % 40 == 0 ? 3u * MiB : 70000u);
		void *p = malloc(n);
		VT_REQUIRE(p != NULL);
		if (!vt_aligned(p, 8) && ++bad <= 5)
			VT_FAIL_AT("malloc(%llu) = %p: not 8-aligned", VT_U(n), p);
		free(p);
	}
	VT_CHECK_EQ(bad, 0);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_32bit_limits");
	test_default_alignment();
	test_impossible_requests();
	test_reentrant_forms();
	test_realloc_limits();
	test_posix_memalign_limits();
	test_big_alignments_work();
	as_census_t c = as_census();
	VT_CHECK_EQ(c.newlib_heap, 0);
	VT_CHECK_EQ(c.total, c.vitalloc);
	return vt_done("test_32bit_limits");
}
