/*
 * test_align -- aligned allocation: memalign, aligned_alloc,
 * posix_memalign, valloc, pvalloc, their _r and vitalloc_* forms.
 *
 *  - every power-of-two alignment from 1 to 4 MiB (and 16 MiB once), with
 *    small, medium and large sizes, for each entry point: the pointer is
 *    aligned, usable size >= request, the memory is really usable (written
 *    and read back, while a second block of the same kind is live, so
 *    overlaps show), and it frees cleanly;
 *  - memalign/aligned_alloc (and _memalign_r, vitalloc_*) refuse
 *    non-power-of-two alignments (0, 3, 5, 6, 12, 24, 48, 100, 4097,
 *    SIZE_MAX...) with NULL + EINVAL (in reent->_errno for _memalign_r),
 *    also with sizes that could never be had (EINVAL wins);
 *  - posix_memalign returns EINVAL for alignments that are not a power of
 *    two multiple of sizeof(void *) (0, 1, 2, sizeof(void *)/2, 3, 12, 24,
 *    48...), leaving *memptr and errno untouched;
 *  - valloc is page (4096) aligned; pvalloc also rounds the size up to a
 *    whole page (pvalloc(0) is one page), all of it writable.
 */
#include "vt_test.h"

static struct _reent reent;

enum { A_MEMALIGN, A_ALIGNED_ALLOC, A_POSIX_MEMALIGN, A_RMEMALIGN,
       A_VMEMALIGN, A_VALIGNED_ALLOC, A_VPOSIX_MEMALIGN, A_COUNT };
static const char *const aname[A_COUNT] = {
	"memalign", "aligned_alloc", "posix_memalign", "_memalign_r",
	"vitalloc_memalign", "vitalloc_aligned_alloc", "vitalloc_posix_memalign",
};

static void *aligned(int f, size_t align, size_t n)
{
	void *p = NULL;
	int rc;
	switch (f) {
	case A_MEMALIGN: return memalign(align, n);
	case A_ALIGNED_ALLOC: return aligned_alloc(align, n);
	case A_RMEMALIGN: return _memalign_r(&reent, align, n);
	case A_VMEMALIGN: return vitalloc_memalign(align, n);
	case A_VALIGNED_ALLOC: return vitalloc_aligned_alloc(align, n);
	case A_POSIX_MEMALIGN:
		rc = posix_memalign(&p, align, n);
		VT_CHECK_EQ(rc, 0);
		return rc ? NULL : p;
	case A_VPOSIX_MEMALIGN:
		rc = vitalloc_posix_memalign(&p, align, n);
		VT_CHECK_EQ(rc, 0);
		return rc ? NULL : p;
	}
	return NULL;
}

static void test_powers_of_two(void)
{
	static const size_t sizes[] = {0, 1, 8, 100, 1000, 4096, 5000, 65536,
				       300000, 1u << 20, 3u << 20};
	for (int f = 0; f < A_COUNT; f++) {
		for (size_t align = 1; align <= 4 * VT_MIB; align <<= 1) {
			if ((f == A_POSIX_MEMALIGN || f == A_VPOSIX_MEMALIGN) &&
			    align < sizeof(void *))
				continue;
			for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
				size_t n = sizes[i];
				void *p[2];
				size_t us[2];
				for (int k = 0; k < 2; k++) {
					p[k] = aligned(f, align, n);
					if (!p[k]) {
						VT_FAIL_AT("%s(%llu, %llu) returned NULL (errno %d)",
							   aname[f], VT_U(align), VT_U(n), errno);
						exit(2);
					}
					if (!vt_aligned(p[k], align) ||
					    !vt_aligned(p[k], _Alignof(max_align_t)))
						VT_FAIL_AT("%s(%llu, %llu) = %p is misaligned",
							   aname[f], VT_U(align), VT_U(n), p[k]);
					us[k] = malloc_usable_size(p[k]);
					VT_CHECK_CMP(us[k], >=, n);
					if (us[k] <= 65536)
						vt_fill(p[k], us[k], (unsigned)(k + 1));
					else
						vt_fill_sparse(p[k], us[k], (unsigned)(k + 1));
				}
				for (int k = 0; k < 2; k++) {
					int ok = us[k] <= 65536
							 ? vt_verify(p[k], us[k], (unsigned)(k + 1))
							 : vt_verify_sparse(p[k], us[k], (unsigned)(k + 1));
					if (!ok)
						VT_FAIL_AT("%s(%llu, %llu): block overwritten",
							   aname[f], VT_U(align), VT_U(n));
					free(p[k]);
				}
			}
		}
		VT_HEAP_OK();
	}
	/* Beyond: 16 MiB alignment, small and large. */
	for (int k = 0; k < 2; k++) {
		size_t n = k ? 5 * VT_MIB : 64;
		void *p = memalign(16 * VT_MIB, n);
		VT_REQUIRE(p != NULL);
		VT_CHECK(vt_aligned(p, 16 * VT_MIB));
		vt_fill_sparse(p, n, 3);
		VT_CHECK(vt_verify_sparse(p, n, 3));
		free(p);
	}
	/* Many live medium blocks with odd alignments interleaved. */
	enum { N = 200 };
	static void *q[N];
	for (int i = 0; i < N; i++) {
		size_t align = (size_t)1 << (4 + i % 10);
		size_t n = 100 + (size_t)i * 53;
		q[i] = memalign(align, n);
		VT_REQUIRE(q[i] != NULL);
		VT_CHECK(vt_aligned(q[i], align));
		vt_fill(q[i], n, (unsigned)i);
	}
	for (int i = 0; i < N; i++) {
		VT_CHECK(vt_verify(q[i], 100 + (size_t)i * 53, (unsigned)i));
		free(q[i]);
	}
	VT_HEAP_OK();
}

static void test_bad_alignment_einval(void)
{
	const size_t bad[] = {0, 3, 5, 6, 7, 12, 20, 24, 48, 96, 100, 4097,
			      3 * 4096, SIZE_MAX, SIZE_MAX / 2,
			      SIZE_MAX / 2 + 2, ((size_t)1 << (VT_SIZE_BITS - 1)) + 1};
	const size_t sizes[] = {0, 1, 64, 5000, 2u << 20, SIZE_MAX};
	vitalloc_stats_t s0 = vt_stats();
	for (size_t a = 0; a < sizeof bad / sizeof bad[0]; a++)
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			size_t al = vt_size(bad[a]), n = vt_size(sizes[i]);
			for (int f = 0; f < A_COUNT; f++) {
				if (f == A_POSIX_MEMALIGN || f == A_VPOSIX_MEMALIGN)
					continue;
				errno = 0;
				reent._errno = 0;
				void *p = f == A_MEMALIGN	   ? memalign(al, n)
					  : f == A_ALIGNED_ALLOC ? aligned_alloc(al, n)
					  : f == A_RMEMALIGN	   ? _memalign_r(&reent, al, n)
					  : f == A_VMEMALIGN	   ? vitalloc_memalign(al, n)
								   : vitalloc_aligned_alloc(al, n);
				int e = f == A_RMEMALIGN ? reent._errno : errno;
				if (p != NULL || e != EINVAL)
					VT_FAIL_AT("%s(%llu, %llu) = %p, errno %d (expected NULL, EINVAL)",
						   aname[f], VT_U(al), VT_U(n), p, e);
				if (f == A_RMEMALIGN)
					VT_CHECK_EQ(errno, 0);
				vt_checks++;
			}
		}
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.allocations, s0.allocations);
	VT_HEAP_OK();
}

static void test_posix_memalign_einval(void)
{
	const size_t bad[] = {0, 1, 2, sizeof(void *) / 2, 3, 5, 12, 20, 24, 48,
			      100, 4097, SIZE_MAX, SIZE_MAX / 2};
	void *const sentinel = (void *)(uintptr_t)0xbadc0de0u;
	for (size_t a = 0; a < sizeof bad / sizeof bad[0]; a++)
		for (int v = 0; v < 2; v++) {
			void *out = sentinel;
			errno = 999;
			size_t al = vt_size(bad[a]);
			int rc = v ? vitalloc_posix_memalign(&out, al, 64)
				   : posix_memalign(&out, al, 64);
			if (rc != EINVAL)
				VT_FAIL_AT("%s(&p, %llu, 64) returned %d, expected EINVAL",
					   v ? "vitalloc_posix_memalign" : "posix_memalign",
					   VT_U(al), rc);
			VT_CHECK(out == sentinel);
			VT_CHECK_EQ(errno, 999);
			vt_checks++;
		}
	/* The smallest valid alignment, sizeof(void *), works. */
	void *p = NULL;
	VT_CHECK_EQ(posix_memalign(&p, sizeof(void *), 10), 0);
	VT_CHECK(p != NULL);
	free(p);
	/* Success leaves errno alone too. */
	errno = 999;
	p = NULL;
	VT_CHECK_EQ(posix_memalign(&p, 256, 1000), 0);
	VT_CHECK_EQ(errno, 999);
	VT_CHECK(p != NULL && vt_aligned(p, 256));
	free(p);
	VT_HEAP_OK();
}

static void test_valloc_pvalloc(void)
{
	static const size_t ns[] = {0, 1, 100, 4095, 4096, 4097, 8191, 8192,
				    100000, 1u << 20, (3u << 20) + 5};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		size_t n = ns[i];
		size_t rounded = (n + VT_PAGE - 1) / VT_PAGE * VT_PAGE;
		if (rounded == 0)
			rounded = VT_PAGE;
		for (int v = 0; v < 4; v++) {
			reent._errno = 0;
			void *p = v == 0   ? valloc(n)
				  : v == 1 ? _valloc_r(&reent, n)
				  : v == 2 ? pvalloc(n)
					   : _pvalloc_r(&reent, n);
			VT_REQUIRE(p != NULL);
			VT_CHECK(vt_aligned(p, VT_PAGE));
			size_t us = malloc_usable_size(p);
			VT_CHECK_CMP(us, >=, n);
			if (v >= 2) {
				VT_CHECK_CMP(us, >=, rounded);
				vt_fill(p, rounded, 6); /* the whole rounded size */
				VT_CHECK(vt_verify(p, rounded, 6));
			} else {
				vt_fill(p, us, 6);
				VT_CHECK(vt_verify(p, us, 6));
			}
			VT_CHECK_EQ(reent._errno, 0);
			free(p);
		}
	}
	/* pvalloc's rounding overflows for the last page of sizes. */
	for (size_t k = 0; k < VT_PAGE + 2; k++) {
		errno = 0;
		reent._errno = 0;
		VT_CHECK(pvalloc(vt_size(SIZE_MAX - k)) == NULL);
		VT_CHECK_EQ(errno, ENOMEM);
		VT_CHECK(_pvalloc_r(&reent, vt_size(SIZE_MAX - k)) == NULL);
		VT_CHECK_EQ(reent._errno, ENOMEM);
		errno = 0;
		VT_CHECK(valloc(vt_size(SIZE_MAX - k)) == NULL);
		VT_CHECK_EQ(errno, ENOMEM);
	}
	VT_HEAP_OK();
}

/* Small alignments are plain malloc; the result is still a normal block. */
static void test_small_alignments(void)
{
	for (size_t align = 1; align <= _Alignof(max_align_t); align <<= 1) {
		void *p = memalign(align, 24);
		void *q = aligned_alloc(align, 24);
		VT_REQUIRE(p && q);
		VT_CHECK(vt_aligned(p, _Alignof(max_align_t)));
		VT_CHECK(vt_aligned(q, _Alignof(max_align_t)));
		p = realloc(p, 5000); /* aligned blocks are reallocatable */
		VT_REQUIRE(p != NULL);
		free(p);
		free(q);
	}
	/* Over-aligned blocks can be realloc'ed (alignment is not kept, the
	   contents are). */
	unsigned char *p = memalign(4096, 300);
	VT_REQUIRE(p != NULL);
	vt_fill(p, 300, 2);
	p = realloc(p, 9000);
	VT_REQUIRE(p != NULL);
	VT_CHECK(vt_verify(p, 300, 2));
	free(p);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_align");
	test_powers_of_two();
	test_bad_alignment_einval();
	test_posix_memalign_einval();
	test_valloc_pvalloc();
	test_small_alignments();
	return vt_done("test_align");
}
