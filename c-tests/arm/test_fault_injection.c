/*
 * test_fault_injection -- every failure the simulated Vita kernel can give
 * vitalloc becomes NULL + ENOMEM (never a crash, a corrupted heap or a
 * lost block), and the heap recovers.
 *
 *  1. One failure at every point: a fixed sequence of requests (small;
 *     medium ones that need new segments; large >= 1 MiB; memalign 64 KiB
 *     and 1 MiB aligned; aligned_alloc, posix_memalign, valloc, pvalloc,
 *     _malloc_r; calloc; realloc growth across the small, medium and large
 *     tiers and back) is run once to count its kernel calls K, then for
 *     n = 0 .. K + 2 with sim_fail_alloc_after(n): each request either
 *     succeeds (aligned, writable, contents kept) or returns NULL with
 *     errno == ENOMEM (posix_memalign: returns ENOMEM, errno untouched;
 *     _malloc_r: ENOMEM in the reent); a failed realloc leaves the old
 *     block intact (verified); vitalloc_check() == 0 after each request;
 *     the failure did happen; every block is verified and freed after each
 *     run, and no memblock leaks (vitalloc's count == the kernel's).
 *     Then, with injection off, the sequence succeeds in full.
 *  2. The block-count limit (sim_set_block_limit): UID_MAX_OPEN from the
 *     kernel gives NULL + ENOMEM for large and medium requests; raising
 *     the limit again makes them succeed.
 *  3. The memory budget (sim_set_budget): NO_MEMORY likewise.
 *  4. sim_fail_alloc_every(3) under a random workload (malloc, calloc,
 *     realloc, memalign, free, trim) of mixed sizes with every block's
 *     contents verified; vitalloc's failed_calls counts the failures.
 *  5. The very first memblock request of the process is refused (run first
 *     in main, before anything allocates): after everything is freed,
 *     vitalloc_trim(0) leaves only metadata memblocks -- no segment is
 *     stranded by the heap that served the first call.
 *  6. A NULL only when the kernel refused: after the budget was hit and
 *     lifted (96 budgets, each leaving segments and metadata in another
 *     state), medium and aligned requests that need a new segment
 *     (memalign(64 KiB, 300 KiB) among them) succeed unless the kernel
 *     refused one of that call's requests. (The one such NULL known, a
 *     page-map leaf taking the room a new segment's records were promised,
 *     needs the metadata chunk to hold the leaf plus less than a span
 *     descriptor: heap::tests::a_new_segment_never_fails_for_metadata_the_
 *     leaf_took sets that up exactly; here it is only a regression net.)
 */
#include "vt_test.h"
#include "arm_sim.h"

#define KiB 1024u
#define MiB (1024u * 1024u)

/* ------------------------------------------------------ live blocks ---- */
typedef struct {
	unsigned char *p;
	size_t n;
	unsigned seed;
} slot_t;

enum { MAXLIVE = 8192 };
static slot_t live[MAXLIVE];
static unsigned nlive;
static unsigned seed_counter = 1;
static unsigned nulls;     /* requests that returned NULL/ENOMEM */
static int verbose_fail;   /* report which request failed */

static void fill_block(unsigned char *p, size_t n, unsigned seed)
{
	if (n <= 16 * KiB)
		vt_fill(p, n, seed);
	else
		vt_fill_sparse(p, n, seed);
}

static int verify_block(const unsigned char *p, size_t n, unsigned seed)
{
	return n <= 16 * KiB ? vt_verify(p, n, seed) : vt_verify_sparse(p, n, seed);
}

/* The first `keep` bytes of a block of n bytes filled by fill_block(p, n,
   seed) (after a realloc to a smaller size, only they are left). */
static int verify_prefix(const unsigned char *p, size_t n, unsigned seed, size_t keep)
{
	if (keep >= n)
		return verify_block(p, n, seed);
	if (n <= 16 * KiB)
		return vt_verify(p, keep, seed);
	for (size_t i = 0; i < keep; i += 512)
		if (p[i] != vt_byte(seed, i))
			return 0;
	for (size_t i = n - 64; i < keep; i++)
		if (p[i] != vt_byte(seed, i))
			return 0;
	return 1;
}

/* A successful allocation of n bytes aligned to align: checked, filled, kept. */
static void keep(void *vp, size_t n, size_t align, const char *what)
{
	unsigned char *p = vp;
	if (!vt_aligned(p, align < 8 ? 8 : align))
		VT_FAIL_AT("%s: %p not aligned to %llu", what, vp, VT_U(align < 8 ? 8 : align));
	vt_checks++;
	if (vitalloc_usable_size(p) < n)
		VT_FAIL_AT("%s: usable size %llu < %llu", what, VT_U(vitalloc_usable_size(p)), VT_U(n));
	vt_checks++;
	unsigned seed = seed_counter++;
	fill_block(p, n, seed);
	VT_REQUIRE(nlive < MAXLIVE);
	live[nlive].p = p;
	live[nlive].n = n;
	live[nlive].seed = seed;
	nlive++;
}

/* A NULL result: must come with ENOMEM. */
static void failed(int err, const char *what, size_t n)
{
	nulls++;
	if (err != ENOMEM)
		VT_FAIL_AT("%s(%llu) returned NULL with errno %d, not ENOMEM", what, VT_U(n), err);
	vt_checks++;
	if (verbose_fail) {
		printf("    %s(%llu) -> NULL, ENOMEM\n", what, VT_U(n));
		fflush(stdout);
	}
}

static void check_heap(const char *when, size_t n)
{
	if (vitalloc_check() != 0)
		VT_FAIL_AT("vitalloc_check() failed after %s(%llu)", when, VT_U(n));
	vt_checks++;
}

static void free_all(void)
{
	for (unsigned i = 0; i < nlive; i++) {
		if (!verify_block(live[i].p, live[i].n, live[i].seed))
			VT_FAIL_AT("block %p of %llu bytes was overwritten", (void *)live[i].p, VT_U(live[i].n));
		vt_checks++;
		free(live[i].p);
	}
	nlive = 0;
}

/* ------------------------------------------------- the request kinds ---- */
static void do_malloc(size_t n)
{
	errno = 0;
	void *p = malloc(n);
	if (p)
		keep(p, n, 8, "malloc");
	else
		failed(errno, "malloc", n);
	check_heap("malloc", n);
}

static void do_calloc(size_t k, size_t n)
{
	errno = 0;
	unsigned char *p = calloc(k, n);
	if (p) {
		size_t t = k * n;
		if (!(p[0] == 0 && p[t / 2] == 0 && p[t - 1] == 0 &&
		      vt_all_zero(p, t < 4096 ? t : 4096)))
			VT_FAIL_AT("calloc(%llu, %llu) not zeroed", VT_U(k), VT_U(n));
		vt_checks++;
		keep(p, t, 8, "calloc");
	} else {
		failed(errno, "calloc", k * n);
	}
	check_heap("calloc", k * n);
}

/* memalign and aligned_alloc share their contract (newlib's aligned_alloc
 * calls memalign): one checker for both. */
static void do_aligned_with(void *(*fn)(size_t, size_t), const char *name, size_t align, size_t n)
{
	errno = 0;
	void *p = fn(align, n);
	if (p)
		keep(p, n, align, name);
	else
		failed(errno, name, n);
	check_heap(name, n);
}

static void do_memalign(size_t align, size_t n) { do_aligned_with(memalign, "memalign", align, n); }
static void do_aligned_alloc(size_t align, size_t n) { do_aligned_with(aligned_alloc, "aligned_alloc", align, n); }

static void do_posix_memalign(size_t align, size_t n)
{
	void *p = (void *)(uintptr_t)0x5a5a5a58u;
	errno = 777;
	int rc = posix_memalign(&p, align, n);
	if (rc == 0) {
		keep(p, n, align, "posix_memalign");
	} else {
		failed(rc, "posix_memalign", n);
		VT_CHECK(p == (void *)(uintptr_t)0x5a5a5a58u);
	}
	VT_CHECK_EQ(errno, 777);
	check_heap("posix_memalign", n);
}

static void do_valloc(size_t n)
{
	errno = 0;
	void *p = valloc(n);
	if (p)
		keep(p, n, 4096, "valloc");
	else
		failed(errno, "valloc", n);
	check_heap("valloc", n);
}

static void do_pvalloc(size_t n)
{
	errno = 0;
	void *p = pvalloc(n);
	if (p)
		keep(p, (n + 4095) & ~(size_t)4095, 4096, "pvalloc");
	else
		failed(errno, "pvalloc", n);
	check_heap("pvalloc", n);
}

static void do_malloc_r(size_t n)
{
	struct _reent r;
	memset(&r, 0, sizeof r);
	errno = 0;
	void *p = _malloc_r(&r, n);
	if (p) {
		keep(p, n, 8, "_malloc_r");
	} else {
		failed(r._errno, "_malloc_r", n);
		VT_CHECK_EQ(errno, 0); /* the reent's errno, not the global one */
	}
	check_heap("_malloc_r", n);
}

/* realloc of the most recent live block to n bytes: on failure the old
   block must be intact and stays live. */
static void do_realloc_last(size_t n)
{
	if (!nlive)
		return;
	slot_t *s = &live[nlive - 1];
	errno = 0;
	unsigned char *q = realloc(s->p, n);
	if (q) {
		if (!verify_prefix(q, s->n, s->seed, n))
			VT_FAIL_AT("realloc(%llu -> %llu) lost the contents", VT_U(s->n), VT_U(n));
		vt_checks++;
		if (!vt_aligned(q, 8) || vitalloc_usable_size(q) < n)
			VT_FAIL_AT("realloc(%llu -> %llu) = %p: misaligned or short", VT_U(s->n), VT_U(n), (void *)q);
		vt_checks++;
		s->p = q;
		s->n = n;
		s->seed = seed_counter++;
		fill_block(q, n, s->seed);
	} else {
		failed(errno, "realloc", n);
		if (!verify_block(s->p, s->n, s->seed))
			VT_FAIL_AT("failed realloc(%llu -> %llu) damaged the old block", VT_U(s->n), VT_U(n));
		vt_checks++;
	}
	check_heap("realloc", n);
}

static void free_last(void)
{
	if (!nlive)
		return;
	slot_t *s = &live[--nlive];
	if (!verify_block(s->p, s->n, s->seed))
		VT_FAIL_AT("block %p of %llu bytes overwritten", (void *)s->p, VT_U(s->n));
	vt_checks++;
	free(s->p);
	check_heap("free", s->n);
}

/* The fixed sequence of part 1. */
static void sequence(void)
{
	/* small */
	for (unsigned i = 0; i < 120; i++)
		do_malloc(1 + (i * 37) % 1024);
	/* medium, needing new segments (the first one is 64 KiB) */
	do_malloc(48 * KiB);
	do_malloc(200 * KiB);
	do_malloc(500 * KiB);
	do_malloc(900 * KiB);
	do_malloc(700 * KiB);
	/* large */
	do_malloc(1 * MiB);
	do_malloc(3 * MiB + 5);
	/* aligned */
	do_memalign(64 * KiB, 100 * KiB);
	do_memalign(64 * KiB, 100);
	do_memalign(1 * MiB, 2 * MiB);
	do_memalign(1 * MiB, 1000);
	do_aligned_alloc(1 * MiB, 1 * MiB);
	do_posix_memalign(64 * KiB, 300 * KiB);
	do_valloc(10000);
	do_pvalloc(5000);
	do_malloc_r(300 * KiB);
	/* calloc */
	do_calloc(50, 100);
	do_calloc(1000, 1000);
	do_calloc(1, 5 * MiB);
	/* realloc growth across the tiers, then back down */
	do_malloc(100);
	do_realloc_last(900);        /* small -> small/medium */
	do_realloc_last(2000);       /* -> medium */
	do_realloc_last(60 * KiB);
	do_realloc_last(700 * KiB);  /* -> medium, maybe a new segment */
	do_realloc_last(2 * MiB);    /* -> large */
	do_realloc_last(6 * MiB);    /* large -> larger */
	do_realloc_last(300 * KiB);  /* large -> medium */
	do_realloc_last(50);         /* -> small */
	/* a second wave after some frees: reuse and new segments */
	for (unsigned i = 0; i < 10; i++)
		free_last();
	for (unsigned i = 0; i < 6; i++)
		do_malloc((i + 1) * 150 * KiB);
	do_malloc(2 * MiB);
}

/* Frees everything, trims, and checks that vitalloc holds exactly the
   memblocks the kernel has, and no foreign ones. */
static void reset(const char *when)
{
	free_all();
	vitalloc_trim(0);
	VT_HEAP_OK();
	as_census_t c = as_census();
	vitalloc_stats_t s = vt_stats();
	if (c.vitalloc != s.source_blocks || c.other || c.newlib_heap)
		VT_FAIL_AT("%s: kernel has %u vitalloc memblocks (+%u foreign), vitalloc says %llu",
			   when, c.vitalloc, c.other + c.newlib_heap, VT_U(s.source_blocks));
	vt_checks++;
}

static void test_fail_at_every_point(void)
{
	sim_counters_t k0, k1;
	/* Count the sequence's kernel calls, from the state each run starts in
	   (a first run grows the page map's metadata once for all). */
	sequence();
	reset("warm-up");
	sim_get_counters(&k0);
	nulls = 0;
	sequence();
	sim_get_counters(&k1);
	VT_CHECK_EQ(nulls, 0);
	reset("counting run");
	as_census_t base = as_census();
	int calls = (int)(k1.alloc_calls - k0.alloc_calls);
	printf("test_fault_injection: the sequence makes %d AllocMemBlock calls; injecting a "
	       "failure at each\n", calls);
	fflush(stdout);
	VT_CHECK_CMP(calls, >=, 10);

	unsigned total_nulls = 0, fired = 0;
	for (int n = 0; n <= calls + 2; n++) {
		sim_get_counters(&k0);
		vitalloc_stats_t s0 = vt_stats();
		nulls = 0;
		sim_fail_alloc_after(n);
		sequence();
		sim_fail_alloc_after(-1);
		sim_get_counters(&k1);
		vitalloc_stats_t s1 = vt_stats();
		unsigned kfailed = k1.failed_calls - k0.failed_calls;
		fired += kfailed;
		total_nulls += nulls;
		if (n < calls && kfailed != 1)
			VT_FAIL_AT("n = %d: %u kernel failures happened, expected the one injected", n, kfailed);
		vt_checks++;
		/* Each NULL counted by vitalloc as a failed call. */
		VT_CHECK_EQ(s1.failed_calls - s0.failed_calls, nulls);
		reset("after an injected failure");
		as_census_t c = as_census();
		VT_CHECK_CMP(c.vitalloc, <=, base.vitalloc + 1);
	}
	printf("test_fault_injection: %u injected kernel failures gave %u NULL results\n",
	       fired, total_nulls);
	fflush(stdout);
	VT_CHECK_CMP(total_nulls, >=, (unsigned)calls / 2);

	/* Injection off: everything succeeds. */
	nulls = 0;
	sequence();
	VT_CHECK_EQ(nulls, 0);
	reset("after recovery");
}

/* ------------------------------------ NULL only when the kernel refused -- */
static unsigned unexplained; /* NULLs without a kernel refusal (part 6) */

/* memalign(align, n) (align 0: malloc) that must succeed unless the kernel
   refuses a request during the call. */
static void served_unless_refused(size_t align, size_t n, const char *when, unsigned trial)
{
	sim_counters_t k0, k1;
	sim_get_counters(&k0);
	errno = 0;
	void *p = align ? memalign(align, n) : malloc(n);
	int err = errno;
	sim_get_counters(&k1);
	if (p) {
		keep(p, n, align, align ? "memalign" : "malloc");
	} else {
		VT_CHECK_EQ(err, ENOMEM);
		if (k1.failed_calls == k0.failed_calls) {
			unexplained++;
			VT_FAIL_AT("trial %u, %s: %s(%llu, %llu) returned NULL though the kernel "
				   "refused none of its %u requests",
				   trial, when, align ? "memalign" : "malloc", VT_U(align), VT_U(n),
				   k1.alloc_calls - k0.alloc_calls);
		}
	}
	vt_checks++;
	check_heap(when, n);
}

/* Requests of size n until one fails (at most max); returns the count. */
static unsigned until_null(size_t n, unsigned max)
{
	unsigned got = 0;
	unsigned before = nulls;
	while (got < max && nulls == before) {
		do_malloc(n);
		if (nulls == before)
			got++;
	}
	return got;
}

static void test_block_limit(void)
{
	reset("before the block limit");
	as_census_t c = as_census();
	sim_set_block_limit((int)c.total + 3);
	nulls = 0;
	/* Medium requests fill what segments can be had, then fail ... */
	unsigned medium = until_null(200 * KiB, 2000);
	VT_CHECK_EQ(nulls, 1);
	VT_CHECK_CMP(medium, <, 2000);
	/* ... and large ones (a memblock each) too. */
	unsigned large = until_null(1 * MiB, 50);
	VT_CHECK_CMP(large, <=, 3);
	VT_CHECK_EQ(nulls, 2);
	errno = 0;
	VT_CHECK(memalign(MiB, 2 * MiB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(calloc(1, 5 * MiB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	VT_CHECK_CMP(as_census().total, <=, c.total + 3);
	VT_HEAP_OK();
	printf("test_fault_injection: block limit %u: %u medium, %u large blocks before ENOMEM\n",
	       c.total + 3, medium, large);
	fflush(stdout);
	sim_set_block_limit(2048);
	unsigned before = nulls;
	do_malloc(1 * MiB);
	do_malloc(200 * KiB);
	do_memalign(MiB, 2 * MiB);
	VT_CHECK_EQ(nulls, before);
	reset("after the block limit");
}

static void test_budget(void)
{
	reset("before the budget");
	sim_counters_t k;
	sim_get_counters(&k);
	sim_set_budget((unsigned)k.live_bytes + 8 * MiB);
	nulls = 0;
	unsigned large = until_null(1 * MiB, 50);
	VT_CHECK_EQ(nulls, 1);
	VT_CHECK_CMP(large, <=, 8);
	unsigned medium = until_null(100 * KiB, 2000);
	VT_CHECK_EQ(nulls, 2);
	VT_CHECK_CMP(medium, <, 2000);
	unsigned small = until_null(512, 6000);
	VT_CHECK_EQ(nulls, 3);
	errno = 0;
	VT_CHECK(calloc(3, MiB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	VT_HEAP_OK();
	printf("test_fault_injection: budget +8 MiB: %u large, %u medium, %u small blocks before ENOMEM\n",
	       large, medium, small);
	fflush(stdout);
	as_print_census("at the budget", as_census());
	/* Raising the budget makes room again: at once, for requests that
	   need a new segment (memalign(64 KiB, 300 KiB) once returned NULL
	   here with nothing refused), and for the rest. */
	sim_set_budget(256 * MiB);
	unsigned before = nulls;
	served_unless_refused(64 * KiB, 300 * KiB, "the budget lifted", 0);
	do_malloc(1 * MiB);
	do_malloc(100 * KiB);
	do_calloc(3, MiB);
	VT_CHECK_EQ(nulls, before);
	reset("after the budget");
}

/* ------------------------------------------- random workload, every 3 -- */
static uint32_t rng = 0x2545f491u;
static unsigned next_rand(void)
{
	return vt_xorshift(&rng);
}

static size_t random_size(void)
{
	unsigned r = next_rand() % 100;
	if (r < 50)
		return 1 + next_rand() % 1024;
	if (r < 80)
		return 1024 + next_rand() % (64 * KiB);
	if (r < 93)
		return 64 * KiB + next_rand() % (960 * KiB);
	return MiB + next_rand() % (3 * MiB);
}

static void test_fail_every_third(void)
{
	reset("before fail_every");
	vitalloc_stats_t s0 = vt_stats();
	sim_counters_t k0, k1;
	sim_get_counters(&k0);
	nulls = 0;
	sim_fail_alloc_every(3);
	for (unsigned op = 0; op < 20000; op++) {
		unsigned r = next_rand() % 100;
		if (nlive >= 200 || (nlive && r < 40)) {
			/* free a random block (swap it to the end first) */
			unsigned i = next_rand() % nlive;
			slot_t t = live[i];
			live[i] = live[nlive - 1];
			live[nlive - 1] = t;
			free_last();
		} else if (r < 60) {
			do_malloc(random_size());
		} else if (r < 68) {
			size_t n = random_size();
			do_calloc(1, n);
		} else if (r < 80 && nlive) {
			unsigned i = next_rand() % nlive;
			slot_t t = live[i];
			live[i] = live[nlive - 1];
			live[nlive - 1] = t;
			do_realloc_last(random_size());
		} else if (r < 90) {
			do_memalign((size_t)1 << (3 + next_rand() % 18), random_size());
		} else if (r < 92) {
			vitalloc_trim(0);
			check_heap("vitalloc_trim", 0);
		} else {
			do_malloc(next_rand() % 200);
		}
	}
	sim_fail_alloc_every(0);
	sim_get_counters(&k1);
	vitalloc_stats_t s1 = vt_stats();
	printf("test_fault_injection: fail every 3rd call: %u kernel calls, %u failed, %u NULL "
	       "results, %u blocks live\n",
	       k1.alloc_calls - k0.alloc_calls, k1.failed_calls - k0.failed_calls, nulls, nlive);
	fflush(stdout);
	VT_CHECK_CMP(k1.failed_calls - k0.failed_calls, >=, 20);
	VT_CHECK_CMP(nulls, >, 0);
	VT_CHECK_EQ(s1.failed_calls - s0.failed_calls, nulls);
	/* Recovery: everything works again. */
	unsigned before = nulls;
	do_malloc(5 * MiB);
	do_malloc(300 * KiB);
	do_memalign(MiB, 3 * MiB);
	VT_CHECK_EQ(nulls, before);
	reset("after fail_every");
}

/* ------------------------------------------ the first request refused -- */
/* Part 5. Runs before anything else in the process has allocated. */
static void test_first_request_refused(void)
{
	sim_counters_t k0, k1;
	sim_get_counters(&k0);
	/* The premise: nothing obtained a memblock before main. */
	VT_CHECK_EQ(k0.alloc_calls, 0);
	sim_fail_alloc_after(0);
	errno = 0;
	void *first = malloc(100);
	int err = errno;
	sim_fail_alloc_after(-1);
	sim_get_counters(&k1);
	VT_CHECK_EQ(k1.failed_calls - k0.failed_calls, 1);
	if (!first)
		VT_CHECK_EQ(err, ENOMEM);
	/* A workload over every tier, then everything freed. */
	void *p[64];
	unsigned n = 0;
	for (unsigned i = 0; i < 40; i++)
		p[n++] = malloc(1 + (i * 97) % 4000);
	p[n++] = malloc(48 * KiB);
	p[n++] = malloc(200 * KiB);
	p[n++] = memalign(64 * KiB, 300 * KiB);
	p[n++] = malloc(1 * MiB);
	for (unsigned i = 0; i < n; i++)
		VT_CHECK(p[i] != NULL);
	free(first);
	for (unsigned i = 0; i < n; i++)
		free(p[i]);
	vitalloc_trim(0);
	VT_HEAP_OK();
	as_census_t c = as_census();
	vitalloc_stats_t s = vt_stats();
	if (c.segment || c.large || c.vitalloc != s.source_blocks) {
		as_print_census("after the first request was refused, all freed and trimmed", c);
		as_print_blocks();
		VT_FAIL_AT("first request refused: after trim(0) vitalloc holds %u segment and %u "
			   "large memblocks (%u in all, %llu KiB; it counts %llu), not its metadata alone",
			   c.segment, c.large, c.vitalloc, VT_U(c.vitalloc_bytes >> 10),
			   VT_U(s.source_blocks));
	}
	vt_checks++;
}

static void test_null_only_when_refused(void)
{
	reset("before the budget trials");
	unexplained = 0;
	unsigned trials = 0, hit = 0;
	for (unsigned t = 0; t < 96; t++) {
		sim_counters_t k;
		sim_get_counters(&k);
		/* Budgets a little above what is held, 4 KiB apart (each trial's
		   failures leave segments and metadata chunks of other sizes). */
		sim_set_budget((unsigned)k.live_bytes + 1 * MiB + (t % 48) * 4 * KiB +
			       (t / 48) * 192 * KiB);
		nulls = 0;
		/* Fill with a mix until the budget refuses. */
		for (unsigned i = 0; nulls == 0 && i < 400; i++) {
			switch ((i + t) % 4) {
			case 0: do_malloc(24 + (i * 40) % 2000); break;
			case 1: do_malloc(20 * KiB + (t % 7) * 4 * KiB); break;
			case 2: do_malloc(100 * KiB + (i % 5) * 4 * KiB); break;
			default: do_memalign(64 * KiB, 40 * KiB + (t % 3) * 4 * KiB); break;
			}
		}
		if (nulls)
			hit++;
		/* Lifted: requests that need new segments. */
		sim_set_budget(256 * MiB);
		served_unless_refused(64 * KiB, 300 * KiB, "after the budget", t);
		served_unless_refused(64 * KiB, 300 * KiB, "after the budget", t);
		served_unless_refused(0, 600 * KiB, "after the budget", t);
		served_unless_refused(256 * KiB, 200 * KiB, "after the budget", t);
		trials++;
		free_all();
		if (t % 8 == 7)
			reset("between budget trials");
	}
	reset("after the budget trials");
	printf("test_fault_injection: %u budget trials (%u reached the budget): %u NULL results "
	       "the kernel did not cause\n", trials, hit, unexplained);
	fflush(stdout);
	VT_CHECK_CMP(hit, >=, trials / 2);
	VT_CHECK_EQ(unexplained, 0);
}

int main(void)
{
	/* First: it needs a process in which nothing has allocated yet. */
	test_first_request_refused();
	vt_start("test_fault_injection");
	test_fail_at_every_point();
	test_block_limit();
	test_budget();
	test_fail_every_third();
	test_null_only_when_refused();
	return vt_done("test_fault_injection");
}
