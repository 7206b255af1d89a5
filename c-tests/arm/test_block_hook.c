/* vitalloc_set_block_hook on the simulated Vita kernel: the hook's view of
 * the memblocks vitalloc holds (from the replay at installation, then every
 * acquisition and release) must equal the kernel's own list of live blocks
 * at every checkpoint: same bases, sizes, uids and memory type. */
#include "vt_test.h"
#include "arm_sim.h"

#define MAX_SEEN 256

typedef struct {
	void *base;
	size_t size;
	int uid;
	unsigned kind;
} seen_t;

static seen_t seen[MAX_SEEN];
static unsigned n_seen, acquired, released, bad_events, bad_type;

/* Runs with the heap locked: no allocation, no stdio. */
static void hook(int event, const vitalloc_block_info_t *b, void *user)
{
	if (user != (void *)&seen || b->mem_type != 0x0C20D060u /* USER_RW */)
		bad_type++;
	if (event == VITALLOC_BLOCK_ACQUIRED) {
		acquired++;
		if (n_seen < MAX_SEEN)
			seen[n_seen++] = (seen_t){b->base, b->size, b->uid, b->kind};
	} else if (event == VITALLOC_BLOCK_RELEASED) {
		released++;
		for (unsigned i = 0; i < n_seen; i++) {
			if (seen[i].base == b->base && seen[i].size == b->size && seen[i].uid == b->uid) {
				seen[i] = seen[--n_seen];
				return;
			}
		}
		bad_events++; /* released a block the hook never saw */
	} else {
		bad_events++;
	}
}

/* The hook's set of blocks equals the kernel's live blocks. */
static void check_matches_kernel(const char *when)
{
	sim_counters_t c;
	sim_get_counters(&c);
	VT_CHECK_EQ(n_seen, c.live_blocks);
	VT_CHECK_EQ(n_seen, vt_stats().source_blocks);
	unsigned matched = 0;
	sim_block_t b;
	for (unsigned i = 0; sim_live_block(i, &b); i++) {
		for (unsigned j = 0; j < n_seen; j++) {
			if (seen[j].base == b.base && seen[j].size == b.size && seen[j].uid == b.uid) {
				matched++;
				break;
			}
		}
	}
	VT_CHECK_EQ(matched, c.live_blocks);
	VT_CHECK_EQ(bad_events, 0);
	VT_CHECK_EQ(bad_type, 0);
	printf("  %s: %u blocks, hook and kernel agree on %u (acquired %u, released %u)\n",
	       when, n_seen, matched, acquired, released);
}

int main(void)
{
	vt_start("test_block_hook");
	/* newlib's start-up and vt_start already allocated: installing the
	   hook replays those blocks. */
	vitalloc_set_block_hook(hook, &seen);
	VT_CHECK_CMP(acquired, >=, 1);
	check_matches_kernel("after installing");

	enum { N = 400 };
	static void *p[N];
	for (unsigned i = 0; i < N; i++) {
		size_t n = i % 50 == 0 ? (size_t)(i / 50 + 1) * AS_MIB /* large */
			   : i % 3 == 0 ? 40000u + i * 100u /* medium */
					: 16u + i;          /* small */
		p[i] = malloc(n);
		VT_CHECK(p[i] != NULL);
	}
	check_matches_kernel("after 400 allocations");
	for (unsigned i = 0; i < N; i += 2)
		free(p[i]);
	check_matches_kernel("after freeing half");
	for (unsigned i = 1; i < N; i += 2)
		free(p[i]);
	vitalloc_trim(0);
	check_matches_kernel("after freeing all and trimming");
	VT_CHECK_CMP(released, >=, 8);

	/* Removed: nothing is reported any more. */
	vitalloc_set_block_hook(NULL, NULL);
	unsigned before = acquired + released;
	void *big = malloc(3 * AS_MIB);
	free(big);
	vitalloc_trim(0);
	VT_CHECK_EQ(acquired + released, before);
	VT_HEAP_OK();
	return vt_done("test_block_hook");
}
