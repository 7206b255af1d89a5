/*
 * test_reservation_without_vitalloc -- the control for test_reservation:
 * the same link WITHOUT libvitalloc.a (sim_crt.o, libsim_sbrk.a,
 * libsim_kernel.a, -lc: newlib's own malloc). Here the simulated VitaSDK
 * sbrk.o IS linked: before main its _init_vita_heap has reserved one
 * 128 MiB USER_RW memblock named "Newlib heap", even though the program
 * has not allocated yet, and newlib's malloc carves every block out of it
 * (the block count never changes). So the absence of that block in
 * test_reservation is vitalloc's doing, not the simulator's.
 *
 * Its link map is the positive control of check_link_map.cmake (newlib's
 * lib_a-mallocr.o and the simulated sbrk.o must show up in it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_kernel.h"

int _get_vita_heap_size(void);

static int failures;
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			failures++;                                            \
			printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #c);  \
		}                                                              \
	} while (0)

static sim_block_t heap;

static int in_heap(const void *p, size_t n)
{
	unsigned long a = (unsigned long)p, lo = (unsigned long)heap.base;
	return p && a >= lo && a - lo + n <= heap.size;
}

int main(void)
{
	sim_counters_t c;
	sim_get_counters(&c); /* before stdio allocates */
	int have = sim_live_block(0, &heap);
	sim_block_t extra;
	CHECK(c.live_blocks == 1);
	CHECK(c.alloc_calls == 1);
	CHECK(have);
	CHECK(!sim_live_block(1, &extra));
	CHECK(strcmp(heap.name, "Newlib heap") == 0);
	CHECK(heap.size == 128u << 20);
	CHECK(heap.type == SIM_MEMBLOCK_TYPE_USER_RW);
	CHECK(_get_vita_heap_size() == 128 << 20);

	printf("test_reservation_without_vitalloc: \"%s\" memblock of %u MiB reserved before main\n",
	       heap.name, (unsigned)(heap.size >> 20));
	fflush(stdout);
	/* newlib's allocations, the program's and libc's own, are in it. */
	char *p = malloc(100);
	char *q = malloc(3u << 20);
	char *d = strdup("newlib's strdup");
	CHECK(in_heap(p, 100));
	CHECK(in_heap(q, 3u << 20));
	CHECK(in_heap(d, 16));
	if (!(stdout->_flags & __SNBF))
		CHECK(in_heap(stdout->_bf._base, (size_t)stdout->_bf._size));
	free(p);
	free(q);
	free(d);
	sim_get_counters(&c);
	CHECK(c.live_blocks == 1); /* the heap never grows */
	CHECK(c.alloc_calls == 1);

	printf("test_reservation_without_vitalloc: %s\n", failures ? "FAILED" : "ok");
	return failures != 0;
}
