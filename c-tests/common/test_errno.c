/*
 * test_errno -- where errno must NOT change.
 *
 *  - posix_memalign (and vitalloc_posix_memalign) report failures only
 *    through their return value: vitalloc.h says "`*memptr` is untouched
 *    on failure and `errno` is not changed" -- for bad alignments (EINVAL),
 *    sizes that overflow (ENOMEM before any system call), sizes the system
 *    refuses (ENOMEM from the block source), the heap limit, and successes;
 *  - newlib's _r entry points report through their struct _reent: the
 *    calling thread's errno must stay as it was, whether the failure is
 *    detected by vitalloc itself or by the block source (mmap on the host,
 *    sceKernelAllocMemBlock on the Vita), and on success.
 *
 * The size classes tried: "overflow" (SIZE_MAX - 16: rounding overflows),
 * "source" (SIZE_MAX / 2 and 3/4 of the address space, and a 64 GiB / 3 GiB
 * request: rounding works, the source refuses) and "limit"
 * (vitalloc_set_limit makes the heap refuse).
 */
#include "vt_test.h"

static struct _reent reent;
#define SENTINEL 8086

typedef struct {
	const char *what;
	size_t size;
	int limited; /* run with a heap limit just above what is held */
} case_t;

static const case_t *cases(size_t *n)
{
	static case_t c[5];
	c[0] = (case_t){"overflow", SIZE_MAX - 16, 0};
	c[1] = (case_t){"source (SIZE_MAX/2)", SIZE_MAX / 2, 0};
	c[2] = (case_t){"source (3/4 of the address space)", SIZE_MAX / 4 * 3, 0};
	/* More than the system gives (unless it overcommits without limit:
	   then the case is skipped): 64 TiB on 64-bit, 3 GiB on 32-bit. */
	c[3] = (case_t){"source (64 TiB or 3 GiB)",
			VT_SIZE_BITS == 64 ? (size_t)1 << (VT_SIZE_BITS == 64 ? 46 : 0)
					   : (size_t)3 << 30, 0};
	c[4] = (case_t){"limit", 16 * VT_MIB, 1};
	*n = 5;
	return c;
}

static void with_limit(int on)
{
	if (on)
		vitalloc_set_limit(vt_stats().reserved + 64 * VT_KIB);
	else
		vitalloc_set_limit(0);
}

static void test_posix_memalign_errno(void)
{
	size_t nc;
	const case_t *c = cases(&nc);
	void *const sentinel = (void *)(uintptr_t)0xfeed0;
	for (size_t i = 0; i < nc; i++)
		for (int v = 0; v < 2; v++)
			for (size_t align = sizeof(void *); align <= VT_MIB; align <<= 4) {
				void *out = sentinel;
				with_limit(c[i].limited);
				errno = SENTINEL;
				int rc = v ? vitalloc_posix_memalign(&out, align, vt_size(c[i].size))
					   : posix_memalign(&out, align, vt_size(c[i].size));
				int e = errno;
				with_limit(0);
				if (rc == 0 && i == 3) { /* the system granted it */
					free(out);
					continue;
				}
				VT_CHECK_EQ(rc, ENOMEM);
				VT_CHECK(out == sentinel);
				if (e != SENTINEL)
					VT_FAIL_AT("%s(&p, %llu, %llu) [%s]: errno changed to %d",
						   v ? "vitalloc_posix_memalign" : "posix_memalign",
						   VT_U(align), VT_U(c[i].size), c[i].what, e);
				vt_checks++;
			}
	/* A valid alignment too large to honour, and EINVAL. */
	void *out = sentinel;
	errno = SENTINEL;
	VT_CHECK_EQ(posix_memalign(&out, vt_size((size_t)1 << (VT_SIZE_BITS - 1)), 16), ENOMEM);
	VT_CHECK_EQ(errno, SENTINEL);
	errno = SENTINEL;
	VT_CHECK_EQ(posix_memalign(&out, vt_size(24), 16), EINVAL);
	VT_CHECK_EQ(errno, SENTINEL);
	VT_CHECK(out == sentinel);
	/* Success, small and large. */
	for (size_t n = 1; n <= 4 * VT_MIB; n *= 64) {
		errno = SENTINEL;
		VT_CHECK_EQ(posix_memalign(&out, 64, n), 0);
		VT_CHECK_EQ(errno, SENTINEL);
		free(out);
	}
	VT_HEAP_OK();
}

enum { R_MALLOC, R_CALLOC, R_REALLOC_NULL, R_REALLOC, R_REALLOCF, R_MEMALIGN,
       R_VALLOC, R_PVALLOC, R_COUNT };
static const char *const rname[R_COUNT] = {
	"_malloc_r", "_calloc_r", "_realloc_r(NULL)", "_realloc_r(block)",
	"_reallocf_r(block)", "_memalign_r", "_valloc_r", "_pvalloc_r",
};

static void *call_r(int f, size_t n, void *block)
{
	switch (f) {
	case R_MALLOC: return _malloc_r(&reent, n);
	case R_CALLOC: return _calloc_r(&reent, n, 1);
	case R_REALLOC_NULL: return _realloc_r(&reent, NULL, n);
	case R_REALLOC: return _realloc_r(&reent, block, n);
	case R_REALLOCF: return _reallocf_r(&reent, block, n);
	case R_MEMALIGN: return _memalign_r(&reent, 256, n);
	case R_VALLOC: return _valloc_r(&reent, n);
	case R_PVALLOC: return _pvalloc_r(&reent, n);
	}
	return NULL;
}

static void test_reent_leaves_errno(void)
{
	size_t nc;
	const case_t *c = cases(&nc);
	for (int f = 0; f < R_COUNT; f++)
		for (size_t i = 0; i < nc; i++) {
			void *block = malloc(100);
			VT_REQUIRE(block != NULL);
			with_limit(c[i].limited);
			errno = SENTINEL;
			reent._errno = 0;
			void *p = call_r(f, vt_size(c[i].size), block);
			int e = errno, re = reent._errno;
			with_limit(0);
			if (p != NULL && i == 3) { /* the system granted it */
				free(p);
				if (f != R_REALLOC && f != R_REALLOCF)
					free(block);
				continue;
			}
			VT_CHECK(p == NULL);
			VT_CHECK_EQ(re, ENOMEM);
			if (e != SENTINEL)
				VT_FAIL_AT("%s(%llu) [%s]: the thread's errno changed to %d "
					   "(only reent->_errno may)", rname[f], VT_U(c[i].size),
					   c[i].what, e);
			vt_checks++;
			if (f != R_REALLOCF) /* _reallocf_r freed it */
				free(block);
		}
	/* EINVAL, and successes. */
	errno = SENTINEL;
	reent._errno = 0;
	VT_CHECK(_memalign_r(&reent, 48, 10) == NULL);
	VT_CHECK_EQ(reent._errno, EINVAL);
	VT_CHECK_EQ(errno, SENTINEL);
	for (size_t n = 1; n <= 4 * VT_MIB; n *= 32) {
		errno = SENTINEL;
		reent._errno = SENTINEL;
		void *p = _malloc_r(&reent, n);
		VT_REQUIRE(p != NULL);
		p = _realloc_r(&reent, p, n * 3);
		VT_REQUIRE(p != NULL);
		_free_r(&reent, p);
		p = _memalign_r(&reent, 4096, n);
		VT_REQUIRE(p != NULL);
		_free_r(&reent, p);
		VT_CHECK_EQ(errno, SENTINEL);
		VT_CHECK_EQ(reent._errno, SENTINEL);
	}
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_errno");
	test_posix_memalign_errno();
	test_reent_leaves_errno();
	return vt_done("test_errno");
}
