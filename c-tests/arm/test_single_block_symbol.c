/* Single-block mode selected by the documented symbol (what the CMake target
 * vitalloc::single_block compiles in): one memblock of that size holds
 * malloc(1) and every later allocation, large ones included, from the first
 * allocation newlib makes at start-up on; the heap never takes a second
 * block, and vitalloc_set_single_block is refused once memory is held. */
#include "vt_test.h"
#include "arm_sim.h"

unsigned int vitalloc_single_block_size = 24u * AS_MIB;

static void hook(int event, const vitalloc_block_info_t *b, void *user)
{
	(void)b;
	if (event == VITALLOC_BLOCK_ACQUIRED)
		++*(unsigned *)user;
}

int main(void)
{
	vt_start("test_single_block_symbol");
	unsigned hooked = 0;
	vitalloc_set_block_hook(hook, &hooked);
	VT_CHECK_EQ(hooked, 1); /* the one block, replayed */

	sim_block_t only;
	void *one = malloc(1);
	VT_CHECK(as_block_of(one, &only));
	VT_CHECK_EQ(only.size, 24u * AS_MIB);
	VT_CHECK(as_starts_with(only.name, "vitalloc"));

	sim_counters_t c;
	sim_get_counters(&c);
	VT_CHECK_EQ(c.live_blocks, 1);

	void *p[6] = {malloc(100), malloc(70000), malloc(3 * AS_MIB), memalign(AS_MIB, 100),
		      calloc(1, 2 * AS_MIB), realloc(NULL, 5 * AS_MIB)};
	for (unsigned i = 0; i < 6; i++) {
		sim_block_t b;
		VT_CHECK(p[i] != NULL);
		VT_CHECK(as_block_of(p[i], &b) && b.uid == only.uid);
	}
	vitalloc_stats_t s = vt_stats();
	VT_CHECK_EQ(s.source_blocks, 1);
	VT_CHECK_EQ(s.large_blocks, 0);

	/* Past the block's size: NULL + ENOMEM, and no second block. */
	errno = 0;
	VT_CHECK(malloc(20u * AS_MIB) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	sim_get_counters(&c);
	VT_CHECK_EQ(c.live_blocks, 1);
	VT_CHECK_EQ(c.alloc_calls, 1);

	for (unsigned i = 0; i < 6; i++)
		free(p[i]);
	free(one);
	vitalloc_trim(0);
	sim_get_counters(&c);
	VT_CHECK_EQ(c.live_blocks, 1); /* never given back */
	VT_CHECK_EQ(c.free_calls, 0);
	VT_CHECK_EQ(vitalloc_set_single_block(AS_MIB), -1);
	VT_CHECK_EQ(hooked, 1);
	VT_HEAP_OK();
	return vt_done("test_single_block_symbol");
}
