/*
 * single_block_test.c -- the CMake target vitalloc::single_block, for ARM
 * under qemu with the simulated Vita kernel: linking it (and nothing else)
 * compiles the package's vitalloc_single_block.c into the program with
 * VITALLOC_SINGLE_BLOCK_SIZE bytes (16 MiB here, set before find_package),
 * and vitalloc then serves every allocation from ONE memblock of that size:
 * the block holding malloc(1) -- the one vitaGL maps for the GPU -- holds
 * every later allocation, large ones included, and it is never given back.
 * Prints "single_block_test: ok" or "... FAILED".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_kernel.h"
#include "vitalloc.h"

#define MiB ((size_t)1024 * 1024)

static int failures;
#define CHECK(e)                                                                                                       \
	do {                                                                                                           \
		if (!(e)) {                                                                                            \
			printf("single_block_test: check failed: %s\n", #e);                                           \
			failures++;                                                                                    \
		}                                                                                                      \
	} while (0)

/* The live simulated memblock containing p (0 if none). */
static int block_of(const void *p, sim_block_t *out)
{
	unsigned i;
	for (i = 0; sim_live_block(i, out); i++)
		if ((uintptr_t)p >= (uintptr_t)out->base && (uintptr_t)p < (uintptr_t)out->base + out->size)
			return 1;
	return 0;
}

int main(void)
{
	sim_block_t heap, b;
	sim_counters_t c;
	vitalloc_stats_t s;
	void *ptrs[64];
	unsigned i;
	char *one = malloc(1);

	CHECK(VITALLOC_SINGLE_BLOCK_SIZE == 16u * 1024u * 1024u); /* the target's definition */
	CHECK(one != NULL);
	CHECK(block_of(one, &heap));
	printf("single_block_test: malloc(1) = %p in memblock \"%s\" of %u bytes at %p\n", (void *)one, heap.name,
	       (unsigned)heap.size, heap.base);
	CHECK(heap.size >= VITALLOC_SINGLE_BLOCK_SIZE && heap.size < VITALLOC_SINGLE_BLOCK_SIZE + MiB);

	/* Small, medium and large allocations: all inside that block. */
	for (i = 0; i < 64; i++) {
		size_t size = i % 8 == 7 ? 2 * MiB / 8 * (i % 3 + 1) : (size_t)16 << (i % 12);
		ptrs[i] = malloc(size);
		CHECK(ptrs[i] != NULL);
		if (ptrs[i]) {
			memset(ptrs[i], (int)i, size);
			CHECK(block_of(ptrs[i], &b) && b.uid == heap.uid);
		}
	}
	{
		char *large = malloc(3 * MiB); /* a memblock of its own in the normal mode */
		CHECK(large && block_of(large, &b) && b.uid == heap.uid);
		free(large);
	}
	vitalloc_stats(&s);
	CHECK(s.source_blocks == 1);
	sim_get_counters(&c);
	CHECK(c.live_blocks == 1 && c.peak_blocks == 1); /* nothing but the heap's block, ever */
	for (i = 0; i < 64; i++)
		free(ptrs[i]);
	free(one);
	vitalloc_trim(0);
	sim_get_counters(&c);
	CHECK(c.live_blocks == 1 && block_of(heap.base, &b) && b.uid == heap.uid); /* never given back */
	CHECK(vitalloc_check() == 0);
	printf("single_block_test: %s\n", failures ? "FAILED" : "ok");
	return failures != 0;
}
