/*
 * test_heap_size_user -- a program that sets VitaSDK's heap size, as many
 * homebrews do, links with vitalloc without a duplicate symbol (vitalloc
 * only refers to _newlib_heap_size_user weakly), reserves nothing for it,
 * and gets that size as vitalloc's upper bound (DESIGN.md section 1.5).
 *
 * Proves:
 *  - the limit is in place before any constructor (vitalloc's
 *    _init_vita_heap, called from the simulated crt0's .preinit_array,
 *    read it) and nothing was reserved: no 16 MiB block, no block at all;
 *  - vitalloc_stats().limit == 16 MiB and _get_vita_heap_size() == 16 MiB;
 *  - allocations beyond ~16 MiB in total fail with NULL + ENOMEM -- large
 *    (1 MiB), medium (64 KiB) and small (256 B) ones, calloc and memalign
 *    too -- while what vitalloc holds from the kernel never exceeds the
 *    limit; freeing memory makes allocations succeed again; the heap stays
 *    consistent throughout;
 *  - at each ENOMEM, vitalloc is really out of room: the headroom under the
 *    limit plus what it could give back (mallinfo().keepcost: the spare
 *    segment, the cached large block) is less than the request (+64 KiB),
 *    and it got there with a few dozen memblocks, not one per slab (the
 *    Vita allows ~2048 per process, shared with textures).
 */
#include "vt_test.h"
#include "arm_sim.h"

unsigned int _newlib_heap_size_user = 16 * 1024 * 1024;
int _get_vita_heap_size(void);

#define LIMIT (16u * AS_MIB)

static struct {
	int ran;
	size_t limit;
	sim_counters_t counters;
} at_ctor;

__attribute__((constructor(101))) static void before_everything(void)
{
	vitalloc_stats_t s;
	at_ctor.ran = 1;
	sim_get_counters(&at_ctor.counters);
	vitalloc_stats(&s);
	at_ctor.limit = s.limit;
}

static void check_within_limit(const char *when)
{
	vitalloc_stats_t s = vt_stats();
	as_census_t c = as_census();
	if (s.reserved > LIMIT || c.bytes > LIMIT || s.reserved_peak > LIMIT)
		VT_FAIL_AT("%s: vitalloc holds %llu bytes (peak %llu), the kernel %llu: over the 16 MiB limit",
			   when, VT_U(s.reserved), VT_U(s.reserved_peak), VT_U(c.bytes));
	vt_checks++;
	VT_CHECK_EQ(c.total, c.vitalloc);
	VT_CHECK_EQ(c.vitalloc, s.source_blocks);
}

/* At an ENOMEM: vitalloc must not have failed while holding free memory
   it could give back (mallinfo's keepcost: the spare segment and cached
   large block) that, with the headroom under the limit, would have made
   room for the request (plus 64 KiB for headers, a slab or a segment's
   rounding). And it must not have spent the kernel's memblocks one per
   small block to get there: a 16 MiB heap takes a few dozen memblocks. */
static void check_no_room(size_t size)
{
	vitalloc_stats_t s = vt_stats();
	vitalloc_mallinfo_t mi = vitalloc_mallinfo();
	size_t headroom = (s.reserved < LIMIT ? LIMIT - s.reserved : 0) + mi.keepcost;
	if (headroom >= size + 64 * 1024)
		VT_FAIL_AT("malloc(%llu) failed with ENOMEM while %llu KiB were free under the limit "
			   "and %llu KiB cached (keepcost): %llu KiB could have been had",
			   VT_U(size), VT_U((LIMIT - s.reserved) >> 10), VT_U(mi.keepcost >> 10),
			   VT_U(headroom >> 10));
	vt_checks++;
	as_census_t c = as_census();
	if (c.total > 40)
		VT_FAIL_AT("at the 16 MiB limit with blocks of %llu bytes, vitalloc holds %u memblocks "
			   "(%u segments): more than a few dozen",
			   VT_U(size), c.total, c.segment);
	vt_checks++;
}

/* Allocates blocks of `size` until one fails; returns how many. Checks the
   failure is NULL + ENOMEM. Keeps them in a list threaded through the
   blocks themselves (size >= sizeof(void *)). */
static void **fill(size_t size, size_t *count, size_t *bytes)
{
	void **head = NULL;
	*count = 0;
	*bytes = 0;
	for (;;) {
		errno = 0;
		void **p = malloc(size);
		if (!p) {
			VT_CHECK_EQ(errno, ENOMEM);
			break;
		}
		*p = head;
		head = p;
		(*count)++;
		*bytes += size;
		if (*bytes > 2 * LIMIT) {
			VT_FAIL_AT("malloc(%llu) still succeeds after %llu bytes: no limit",
				   VT_U(size), VT_U(*bytes));
			break;
		}
	}
	return head;
}

static void free_list(void **head)
{
	while (head) {
		void **next = *head;
		free(head);
		head = next;
	}
}

static void test_fill(size_t size, size_t min_bytes)
{
	size_t n, bytes;
	void **head = fill(size, &n, &bytes);
	printf("test_heap_size_user: %llu blocks of %llu bytes (%llu KiB) before ENOMEM\n",
	       VT_U(n), VT_U(size), VT_U(bytes >> 10));
	fflush(stdout);
	as_print_stats("full");
	as_print_census("full", as_census());
	check_no_room(size); /* nothing changed since the failed malloc */
	VT_CHECK_CMP(bytes, >=, min_bytes);
	VT_CHECK_CMP(bytes, <=, LIMIT);
	check_within_limit("full");
	VT_HEAP_OK();

	/* Other kinds of request fail too while full. */
	errno = 0;
	VT_CHECK(calloc(1, 2 * AS_MIB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(memalign(AS_MIB, AS_MIB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	/* (Those may have dropped caches: a repeat of the request may then
	   succeed, or fail again with ENOMEM.) */
	errno = 0;
	void *extra = malloc(size);
	if (extra)
		free(extra);
	else
		VT_CHECK_EQ(errno, ENOMEM);

	/* Freeing some makes room again. */
	for (size_t i = 0; i < 4 && head; i++) { /* the most recent four */
		void **next = *head;
		free(head);
		head = next;
	}
	void **keep = head;
	if (size < 1024) {
		/* Small blocks: free many more, so a whole slab frees up. */
		for (size_t i = 0; i < 2000 && keep; i++) {
			void **next = *keep;
			free(keep);
			keep = next;
		}
	}
	errno = 0;
	void **again = malloc(size);
	VT_CHECK(again != NULL);
	if (again) {
		*again = keep;
		keep = again;
	}
	check_within_limit("refilled");
	free_list(keep);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_heap_size_user");

	VT_CHECK(at_ctor.ran);
	VT_CHECK_EQ(at_ctor.limit, LIMIT);
	VT_CHECK_EQ(at_ctor.counters.alloc_calls, 0);
	VT_CHECK_EQ(at_ctor.counters.live_blocks, 0);

	as_census_t c0 = as_census();
	VT_CHECK_CMP(c0.largest, <, LIMIT);
	VT_CHECK_CMP(c0.bytes, <, AS_MIB);
	VT_CHECK_EQ(c0.newlib_heap, 0);
	VT_CHECK_EQ(vt_stats().limit, LIMIT);
	VT_CHECK_EQ(_get_vita_heap_size(), LIMIT);
	VT_CHECK_EQ(_newlib_heap_size_user, LIMIT); /* untouched */

	/* Single requests beyond the limit. */
	errno = 0;
	VT_CHECK(malloc(LIMIT + 1) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(calloc(17, AS_MIB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	errno = 0;
	VT_CHECK(memalign(AS_MIB, 17 * AS_MIB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	void *p = malloc(1000);
	VT_REQUIRE(p != NULL);
	errno = 0;
	VT_CHECK(realloc(p, LIMIT) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	free(p);
	check_within_limit("after single requests");

	test_fill(AS_MIB, 12 * AS_MIB);       /* large: a memblock each */
	test_fill(64 * 1024, 12 * AS_MIB);    /* medium: in segments */
	test_fill(256, 10 * AS_MIB);          /* small: slabs */
	test_fill(AS_MIB, 12 * AS_MIB);       /* large again after the others */

	VT_CHECK_EQ(vt_stats().limit, LIMIT);
	VT_CHECK_EQ(_get_vita_heap_size(), LIMIT);
	check_within_limit("at the end");
	return vt_done("test_heap_size_user");
}
