/*
 * test_stats -- vitalloc_stats(): every counter moves as vitalloc.h
 * documents it, and the invariants between them hold.
 *
 *  - in_use grows and shrinks by exactly the usable size; allocations
 *    counts live blocks; in_use_peak / reserved_peak never drop;
 *  - malloc_calls: one per allocating call (malloc, calloc, memalign,
 *    aligned_alloc, valloc, pvalloc, posix_memalign, vitalloc_malloc,
 *    realloc(NULL, n));
 *  - free_calls: only non-NULL frees; realloc_calls: only realloc with a
 *    non-NULL pointer (vitalloc.h);
 *  - failed_calls: every call that failed for lack of memory (ENOMEM);
 *  - a large block takes its own source block (large_blocks,
 *    source_blocks, reserved) and a freed one above the trim threshold is
 *    given back at once; medium blocks grow the heap by segments; small
 *    ones make slabs;
 *  - invariants: in_use <= reserved, free_bytes <= reserved, source_blocks
 *    >= segments + large_blocks, slab_bytes >= slabs pages...
 */
#include "vt_test.h"

static void check_invariants(const vitalloc_stats_t *s)
{
	VT_CHECK_CMP(s->in_use, <=, s->in_use_peak);
	VT_CHECK_CMP(s->reserved, <=, s->reserved_peak);
	VT_CHECK_CMP(s->in_use, <=, s->reserved);
	VT_CHECK_CMP(s->free_bytes, <=, s->reserved);
	VT_CHECK_CMP(s->slab_bytes, >=, s->slabs * VT_PAGE);
	VT_CHECK_CMP(s->source_blocks, >=, s->segments + s->large_blocks);
	VT_CHECK_CMP(s->allocations, <=, s->malloc_calls);
	VT_CHECK_CMP(s->large_blocks, <=, s->allocations);
}

static void test_stats(void)
{
	vitalloc_stats_t s0 = vt_stats();
	check_invariants(&s0);
	VT_CHECK_CMP(s0.malloc_calls, >, 0); /* stdio already allocated */
	VT_CHECK_EQ(s0.limit, 0);

	/* vitalloc_stats(NULL) is harmless. */
	vitalloc_stats(NULL);

	/* malloc: +1 call, +1 allocation, +usable bytes. */
	void *p = malloc(100);
	VT_REQUIRE(p != NULL);
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.malloc_calls, s0.malloc_calls + 1);
	VT_CHECK_EQ(s1.allocations, s0.allocations + 1);
	VT_CHECK_EQ(s1.in_use, s0.in_use + malloc_usable_size(p));
	VT_CHECK_CMP(s1.in_use_peak, >=, s1.in_use);
	VT_CHECK_EQ(s1.free_calls, s0.free_calls);
	VT_CHECK_EQ(s1.realloc_calls, s0.realloc_calls);
	check_invariants(&s1);

	/* Every allocating call counts once. */
	void *c = calloc(2, 50);
	void *m = memalign(256, 10);
	void *a = aligned_alloc(64, 64);
	void *v = valloc(1);
	void *pv = pvalloc(1);
	void *vm = vitalloc_malloc(1);
	void *pm = NULL;
	VT_CHECK_EQ(posix_memalign(&pm, 32, 1), 0);
	VT_REQUIRE(c && m && a && v && pv && vm && pm);
	vitalloc_stats_t s2 = vt_stats();
	VT_CHECK_EQ(s2.malloc_calls, s1.malloc_calls + 7);
	VT_CHECK_EQ(s2.allocations, s1.allocations + 7);
	free(c);
	free(m);
	free(a);
	free(v);
	free(pv);
	vitalloc_free(vm);
	free(pm);
	vitalloc_stats_t s3 = vt_stats();
	VT_CHECK_EQ(s3.free_calls, s2.free_calls + 7);
	VT_CHECK_EQ(s3.allocations, s1.allocations);
	VT_CHECK_EQ(s3.in_use, s1.in_use);

	/* free(NULL) is not a free call. */
	free(NULL);
	VT_CHECK_EQ(vt_stats().free_calls, s3.free_calls);

	/* realloc with a pointer: one realloc call, no malloc/free call. */
	size_t u_old = malloc_usable_size(p);
	p = realloc(p, 5000);
	VT_REQUIRE(p != NULL);
	vitalloc_stats_t s4 = vt_stats();
	VT_CHECK_EQ(s4.realloc_calls, s3.realloc_calls + 1);
	VT_CHECK_EQ(s4.free_calls, s3.free_calls);
	VT_CHECK_EQ(s4.allocations, s3.allocations);
	VT_CHECK_EQ(s4.in_use, s3.in_use - u_old + malloc_usable_size(p));

	/* realloc(NULL, n): vitalloc.h documents realloc_calls as "realloc
	   calls with a non-null pointer" and malloc_calls as "allocating
	   calls", so this one counts as an allocating call, not a realloc. */
	void *r = realloc(NULL, 10);
	VT_REQUIRE(r != NULL);
	vitalloc_stats_t s5 = vt_stats();
	if (s5.realloc_calls != s4.realloc_calls || s5.malloc_calls != s4.malloc_calls + 1)
		VT_FAIL_AT("realloc(NULL, 10) counted as %llu realloc call(s) and %llu "
			   "malloc call(s); vitalloc.h says realloc_calls counts only "
			   "non-null pointers (expected 0 and 1)",
			   (unsigned long long)(s5.realloc_calls - s4.realloc_calls),
			   (unsigned long long)(s5.malloc_calls - s4.malloc_calls));
	vt_checks++;
	VT_CHECK_EQ(s5.allocations, s4.allocations + 1);
	free(r);
	s5 = vt_stats();

	/* A failure is counted: "calls that failed for lack of memory" --
	   every ENOMEM failure, whether the heap or the entry point sees it. */
	VT_CHECK(malloc(vt_size(SIZE_MAX)) == NULL);
	VT_CHECK_EQ(vt_stats().failed_calls, s5.failed_calls + 1);
	static const struct { const char *what; int which; } enomem[] = {
		{"malloc(SIZE_MAX / 2)", 0}, {"realloc(p, SIZE_MAX)", 1},
		{"memalign(64, SIZE_MAX)", 2}, {"pvalloc(SIZE_MAX)", 3},
		{"calloc(SIZE_MAX / 2 + 1, 2)", 4},
	};
	void *victim = malloc(10);
	VT_REQUIRE(victim != NULL);
	for (size_t i = 0; i < sizeof enomem / sizeof enomem[0]; i++) {
		uint64_t before = vt_stats().failed_calls;
		void *x = enomem[i].which == 0	 ? malloc(vt_size(SIZE_MAX / 2))
			  : enomem[i].which == 1 ? realloc(vt_ptr(victim), vt_size(SIZE_MAX))
			  : enomem[i].which == 2 ? memalign(64, vt_size(SIZE_MAX))
			  : enomem[i].which == 3 ? pvalloc(vt_size(SIZE_MAX))
						 : calloc(vt_size(SIZE_MAX / 2 + 1), 2);
		VT_CHECK(x == NULL);
		uint64_t after = vt_stats().failed_calls;
		if (after != before + 1)
			VT_FAIL_AT("%s failed with ENOMEM but failed_calls grew by %llu, not 1",
				   enomem[i].what, (unsigned long long)(after - before));
		vt_checks++;
	}
	free(victim);

	/* A large block: its own source block, reserved and peaks move. */
	vitalloc_stats_t s6 = vt_stats();
	void *big = malloc(6 * VT_MIB);
	VT_REQUIRE(big != NULL);
	vitalloc_stats_t s7 = vt_stats();
	VT_CHECK_EQ(s7.large_blocks, s6.large_blocks + 1);
	VT_CHECK_CMP(s7.source_blocks, >=, s6.source_blocks + 1);
	VT_CHECK_CMP(s7.reserved, >=, s6.reserved + 6 * VT_MIB);
	VT_CHECK_CMP(s7.reserved_peak, >=, s7.reserved);
	VT_CHECK_CMP(s7.in_use, >=, s6.in_use + 6 * VT_MIB);
	VT_CHECK_CMP(s7.in_use_peak, >=, s7.in_use);
	check_invariants(&s7);
	free(big);
	vitalloc_stats_t s8 = vt_stats();
	/* 6 MiB is above the trim threshold: given back at once (page-map
	 * nodes made for its address range stay: metadata is never given
	 * back, so compare with the moment it was held). */
	VT_CHECK_EQ(s8.large_blocks, s6.large_blocks);
	VT_CHECK_CMP(s8.reserved, <=, s7.reserved - 6 * VT_MIB);
	VT_CHECK_EQ(s8.source_blocks, s7.source_blocks - 1);
	VT_CHECK_EQ(s8.reserved_peak, s7.reserved_peak); /* peaks stay */
	VT_CHECK_EQ(s8.in_use_peak, s7.in_use_peak);

	/* Medium blocks until a new segment is needed. */
	enum { N = 400 };
	static void *blk[N];
	int n = 0;
	vitalloc_stats_t s9 = vt_stats();
	while (n < N) {
		blk[n] = malloc(30000);
		VT_REQUIRE(blk[n] != NULL);
		n++;
		if (vt_stats().segments > s9.segments)
			break;
	}
	vitalloc_stats_t s10 = vt_stats();
	VT_CHECK_CMP(s10.segments, >, s9.segments);
	VT_CHECK_CMP(s10.source_blocks, >, s9.source_blocks);
	VT_CHECK_CMP(s10.reserved, >, s9.reserved);
	check_invariants(&s10);
	/* Small objects make slabs. */
	void *sm[64];
	for (int i = 0; i < 64; i++) {
		sm[i] = malloc(200);
		VT_REQUIRE(sm[i] != NULL);
	}
	vitalloc_stats_t s11 = vt_stats();
	VT_CHECK_CMP(s11.slabs, >=, 1);
	VT_CHECK_CMP(s11.slab_bytes, >=, 64 * 200);
	check_invariants(&s11);
	for (int i = 0; i < 64; i++)
		free(sm[i]);
	for (int i = 0; i < n; i++)
		free(blk[i]);
	vitalloc_stats_t s12 = vt_stats();
	VT_CHECK_EQ(s12.allocations, s9.allocations);
	VT_CHECK_EQ(s12.in_use, s9.in_use);
	check_invariants(&s12);
	free(p);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_stats");
	test_stats();
	return vt_done("test_stats");
}
