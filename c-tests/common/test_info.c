/*
 * test_info -- the observability and tuning calls:
 *   vitalloc_mallinfo, mallinfo, vitalloc_check, malloc_trim,
 *   vitalloc_trim, mallopt, malloc_stats, mstats (vitalloc_stats: see
 *   test_stats).
 *
 *  - mallinfo / vitalloc_mallinfo: the documented mapping of each field
 *    to the statistics; uordblks grows by at least n after malloc(n) and
 *    shrinks back after free; mallinfo() (int fields on glibc, size_t on
 *    newlib) reports the same figures;
 *  - mallopt: 1 for M_TRIM_THRESHOLD (-1), M_TOP_PAD (-2),
 *    M_MMAP_THRESHOLD (-3), 0 for anything else (and negative values);
 *    M_MMAP_THRESHOLD and M_TRIM_THRESHOLD really change the behaviour;
 *  - malloc_trim / vitalloc_trim: 1 when cached memory was released (a
 *    freed large block kept for reuse; a whole segment of objects freed),
 *    0 when there was nothing to release; the pad keeps a spare segment;
 *  - malloc_stats / mstats print (their text is checked on the host by
 *    test_host_glibc).
 */
#include "vt_test.h"

#if defined(__GNUC__)
/* glibc marks mallinfo() deprecated (int fields); it is what we test. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif

/* The documented meaning of each field. */
static void check_mallinfo_mapping(void)
{
	vitalloc_stats_t s = vt_stats();
	vitalloc_mallinfo_t m = vitalloc_mallinfo();
	VT_CHECK_EQ(m.uordblks, s.in_use);
	VT_CHECK_EQ(m.smblks, s.slabs);
	VT_CHECK_EQ(m.fsmblks, s.slab_bytes);
	VT_CHECK_EQ(m.hblks, s.large_blocks);
	VT_CHECK_EQ(m.usmblks, s.reserved_peak);
	VT_CHECK_EQ(m.fordblks, s.free_bytes);
	VT_CHECK_CMP(m.arena + m.hblkhd, <=, s.reserved);
	VT_CHECK_CMP(m.fordblks, <=, m.arena);
	VT_CHECK_CMP(m.fsmblks, <=, m.arena);
	VT_CHECK_CMP(m.keepcost, <=, s.reserved);
	VT_CHECK_CMP(m.hblkhd, >=, m.hblks * VT_MIB); /* large blocks are >= 1 MiB by default */
	if (m.fordblks)
		VT_CHECK_CMP(m.ordblks, >=, 1);
}

static void compare_with_mallinfo(void)
{
	struct mallinfo mi = mallinfo();
	vitalloc_mallinfo_t v = vitalloc_mallinfo();
	/* Same figures, whatever the field type (int on glibc). */
	VT_CHECK_EQ((size_t)mi.arena, v.arena);
	VT_CHECK_EQ((size_t)mi.ordblks, v.ordblks);
	VT_CHECK_EQ((size_t)mi.smblks, v.smblks);
	VT_CHECK_EQ((size_t)mi.hblks, v.hblks);
	VT_CHECK_EQ((size_t)mi.hblkhd, v.hblkhd);
	VT_CHECK_EQ((size_t)mi.usmblks, v.usmblks);
	VT_CHECK_EQ((size_t)mi.fsmblks, v.fsmblks);
	VT_CHECK_EQ((size_t)mi.uordblks, v.uordblks);
	VT_CHECK_EQ((size_t)mi.fordblks, v.fordblks);
	VT_CHECK_EQ((size_t)mi.keepcost, v.keepcost);
}

static void test_mallinfo(void)
{
	VT_CHECK_EQ(sizeof(vitalloc_mallinfo_t), 10 * sizeof(size_t));
	check_mallinfo_mapping();
	compare_with_mallinfo();
	static const size_t ns[] = {1, 100, 1000, 5000, 100000, 900000, 3u << 20};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		vitalloc_mallinfo_t m0 = vitalloc_mallinfo();
		struct mallinfo g0 = mallinfo();
		void *p = malloc(ns[i]);
		VT_REQUIRE(p != NULL);
		vitalloc_mallinfo_t m1 = vitalloc_mallinfo();
		struct mallinfo g1 = mallinfo();
		VT_CHECK_CMP(m1.uordblks, >=, m0.uordblks + ns[i]);
		VT_CHECK_EQ(m1.uordblks - m0.uordblks, malloc_usable_size(p));
		VT_CHECK_CMP((size_t)g1.uordblks, >=, (size_t)g0.uordblks + ns[i]);
		if (ns[i] >= VT_DEFAULT_MMAP_THRESHOLD) {
			VT_CHECK_EQ(m1.hblks, m0.hblks + 1);
			VT_CHECK_CMP(m1.hblkhd, >=, m0.hblkhd + ns[i]);
		}
		check_mallinfo_mapping();
		compare_with_mallinfo();
		free(p);
		vitalloc_mallinfo_t m2 = vitalloc_mallinfo();
		VT_CHECK_EQ(m2.uordblks, m0.uordblks);
		VT_CHECK_EQ(m2.hblks, m0.hblks);
		check_mallinfo_mapping();
	}
	VT_HEAP_OK();
}

static void test_mallopt(void)
{
	/* The three parameters vitalloc honours. */
	VT_CHECK_EQ(mallopt(M_TRIM_THRESHOLD, 1 << 20), 1);
	VT_CHECK_EQ(mallopt(M_TOP_PAD, 64 << 10), 1);
	VT_CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 256 << 10), 1);
	/* Anything else: 0 (M_MXFAST 1, M_NLBLKS 2, M_GRAIN 3, M_KEEP 4,
	   M_MMAP_MAX -4, glibc's M_ARENA_MAX -8, nonsense). */
	static const int unknown[] = {1, 2, 3, 4, 0, -4, -5, -6, -7, -8, 12345,
				      -12345, INT_MAX, INT_MIN};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
		VT_CHECK_EQ(mallopt(unknown[i], 1), 0);
	/* Negative values are refused (and change nothing). */
	VT_CHECK_EQ(mallopt(M_MMAP_THRESHOLD, -1), 0);
	VT_CHECK_EQ(mallopt(M_TRIM_THRESHOLD, -1), 0);

	/* M_MMAP_THRESHOLD at 256 KiB: a 300 KiB request is a large block. */
	vitalloc_stats_t a = vt_stats();
	void *p = malloc(300 << 10);
	VT_REQUIRE(p != NULL);
	VT_CHECK_EQ(vt_stats().large_blocks, a.large_blocks + 1);
	free(p);
	/* Back to 1 MiB: it is a medium block again. */
	VT_CHECK_EQ(mallopt(M_MMAP_THRESHOLD, (int)VT_DEFAULT_MMAP_THRESHOLD), 1);
	a = vt_stats();
	p = malloc(300 << 10);
	VT_REQUIRE(p != NULL);
	VT_CHECK_EQ(vt_stats().large_blocks, a.large_blocks);
	free(p);

	/* M_TRIM_THRESHOLD 0: a freed large block is given back at once. */
	VT_CHECK_EQ(mallopt(M_TRIM_THRESHOLD, 0), 1);
	vitalloc_trim(0);
	a = vt_stats();
	p = malloc((3 * VT_MIB) / 2);
	VT_REQUIRE(p != NULL);
	free(p);
	VT_CHECK_EQ(vt_stats().reserved, a.reserved);
	VT_CHECK_EQ(vitalloc_mallinfo().keepcost, 0);
	/* Default (2 MiB): the same block is kept for reuse. */
	VT_CHECK_EQ(mallopt(M_TRIM_THRESHOLD, (int)VT_DEFAULT_TRIM_THRESHOLD), 1);
	p = malloc((3 * VT_MIB) / 2);
	VT_REQUIRE(p != NULL);
	free(p);
	VT_CHECK_CMP(vt_stats().reserved, >=, a.reserved + (3 * VT_MIB) / 2);
	VT_CHECK_CMP(vitalloc_mallinfo().keepcost, >=, (3 * VT_MIB) / 2);
	vitalloc_trim(0);

	VT_CHECK_EQ(mallopt(M_TOP_PAD, VT_DEFAULT_TOP_PAD), 1);
	VT_HEAP_OK();
}

typedef int (*trim_fn)(size_t);
static int trim_std(size_t pad) { return malloc_trim(pad); }

static void test_trim(trim_fn trim, const char *name)
{
	/* Start from nothing cached. */
	trim(0);
	VT_CHECK_EQ(trim(0), 0);
	vitalloc_stats_t s0 = vt_stats();

	/* 1. A freed large block below the trim threshold is cached; trim
	   gives it back. */
	void *big = malloc((3 * VT_MIB) / 2);
	VT_REQUIRE(big != NULL);
	vt_fill_sparse(big, (3 * VT_MIB) / 2, 1);
	free(big);
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_CMP(s1.reserved, >, s0.reserved);
	VT_CHECK_CMP(vitalloc_mallinfo().keepcost, >=, (3 * VT_MIB) / 2);
	if (trim(0) != 1)
		VT_FAIL_AT("%s(0) after freeing a cached large block did not return 1", name);
	VT_CHECK_EQ(vt_stats().reserved, s0.reserved);
	VT_CHECK_EQ(trim(0), 0);

	/* 2. A whole segment of objects (small and medium), all freed. */
	enum { N = 3000 };
	static void *p[N];
	int n = 0;
	size_t segs = vt_stats().segments;
	while (n < N) {
		p[n] = malloc(n % 3 ? 700 : 9000);
		VT_REQUIRE(p[n] != NULL);
		n++;
		if (vt_stats().segments >= segs + 2 && n % 100 == 0)
			break;
	}
	VT_CHECK_CMP(vt_stats().segments, >=, segs + 2);
	for (int i = n - 1; i >= 0; i--)
		free(p[i]);
	vitalloc_stats_t s2 = vt_stats();
	VT_CHECK_CMP(s2.reserved, >, s0.reserved); /* a spare segment (at least) is kept */
	if (trim(0) != 1)
		VT_FAIL_AT("%s(0) after freeing whole segments did not return 1", name);
	vitalloc_stats_t s3 = vt_stats();
	VT_CHECK_CMP(s3.reserved, <, s2.reserved);
	VT_CHECK_EQ(vitalloc_mallinfo().keepcost, 0);
	VT_CHECK_EQ(trim(0), 0);
	VT_CHECK_EQ(s3.allocations, s0.allocations);
	VT_HEAP_OK();

	/* 3. The pad: a spare segment smaller than the pad is kept. */
	n = 0;
	segs = vt_stats().segments;
	while (n < N) {
		p[n] = malloc(20000);
		VT_REQUIRE(p[n] != NULL);
		n++;
		if (vt_stats().segments > segs)
			break;
	}
	for (int i = n - 1; i >= 0; i--)
		free(p[i]);
	trim(SIZE_MAX); /* empty slabs may go; no segment is as large as the pad */
	size_t keep = vitalloc_mallinfo().keepcost;
	VT_CHECK_EQ(trim(SIZE_MAX), 0);
	VT_CHECK_EQ(vitalloc_mallinfo().keepcost, keep);
	if (keep > 0) {
		VT_CHECK_EQ(trim(keep - 1), 1);
		VT_CHECK_EQ(vitalloc_mallinfo().keepcost, 0);
	}
	VT_CHECK_EQ(trim(0), 0);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_info");
	VT_HEAP_OK();
	test_mallinfo();
	test_mallopt();
	test_trim(trim_std, "malloc_trim");
	test_trim(vitalloc_trim, "vitalloc_trim");
	/* Both print to stderr; the host test checks their text. */
	malloc_stats();
	mstats("test_info");
	return vt_done("test_info");
}
