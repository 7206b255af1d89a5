/*
 * sim_selftest_heapsize.c -- a program that sets its own heap size, as
 * many Vita homebrews do: its strong _newlib_heap_size_user must win over
 * the weak 128 MiB default (which is then never linked), and the simulated
 * sbrk.o must reserve exactly that much.
 */
#include <stdio.h>
#include "sim_kernel.h"

unsigned int _newlib_heap_size_user = 32u * 1024u * 1024u;
int _get_vita_heap_size(void);

int main(void)
{
	sim_counters_t c;
	sim_block_t b;
	int ok;
	sim_get_counters(&c);
	ok = c.live_blocks == 1 && sim_live_block(0, &b) && b.size == 32u << 20 && b.type == SIM_MEMBLOCK_TYPE_USER_RW &&
	     _get_vita_heap_size() == 32 << 20;
	printf("sim_selftest_heapsize: %s (live blocks %u, heap %d bytes)\n", ok ? "ok" : "FAILED", c.live_blocks,
	       _get_vita_heap_size());
	return ok ? 0 : 1;
}
