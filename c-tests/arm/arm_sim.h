/*
 * arm_sim.h -- helpers shared by the ARM-only tests (c-tests/arm): they look
 * at the simulated Vita kernel's live memblocks (sim_kernel.h's test-control
 * API) to prove where memory came from.
 *
 *   as_block_of(p, &b)       the live memblock holding p (1 if any)
 *   as_in_vitalloc(p, n)     [p, p + n) lies inside one live memblock whose
 *                            name starts with "vitalloc"
 *   AS_CHECK_VITALLOC(p, n, what)   a vt_test check of the above
 *   as_census(&c)            counts of the live memblocks by name
 *   as_print_blocks()        lists them (for failure reports)
 *   as_find_lwmutexes(...)   the live LwMutex work areas in the program's
 *                            .data/.bss (sim_lwmutex_count() >= 0)
 *
 * Include after vt_test.h. Nothing here allocates (stdio is used only for
 * reports, after the streams have their buffers).
 */
#ifndef ARM_SIM_H
#define ARM_SIM_H

#include <stdint.h>
#include <string.h>

#include "sim_kernel.h"

#define AS_MIB (1024u * 1024u)

static inline int as_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The live memblock containing p, if any. */
static inline int as_block_of(const void *p, sim_block_t *out)
{
	sim_block_t b;
	uintptr_t a = (uintptr_t)p;
	for (unsigned i = 0; sim_live_block(i, &b); i++) {
		uintptr_t lo = (uintptr_t)b.base;
		if (a >= lo && a - lo < b.size) {
			if (out)
				*out = b;
			return 1;
		}
	}
	return 0;
}

/* 1 if [p, p + n) (n >= 1 counted as at least one byte) lies within one
   live memblock named "vitalloc...". */
static inline int as_in_vitalloc(const void *p, size_t n)
{
	sim_block_t b;
	if (!p || !as_block_of(p, &b) || !as_starts_with(b.name, "vitalloc"))
		return 0;
	if (n == 0)
		n = 1;
	return (uintptr_t)p - (uintptr_t)b.base + n <= b.size;
}

/* Reports the block p is in (or that it is in none) when the check fails. */
#define AS_CHECK_VITALLOC(p, n, what)                                          \
	do {                                                                   \
		const void *as_p_ = (const void *)(p);                         \
		size_t as_n_ = (size_t)(n);                                    \
		vt_checks++;                                                   \
		if (!as_in_vitalloc(as_p_, as_n_)) {                           \
			sim_block_t as_b_;                                     \
			if (as_block_of(as_p_, &as_b_))                        \
				VT_FAIL_AT("%s: %p (+%llu bytes) is in memblock " \
					   "\"%s\" [%p, +0x%llx), not wholly "  \
					   "in a vitalloc memblock",            \
					   what, as_p_, VT_U(as_n_), as_b_.name, \
					   as_b_.base, VT_U(as_b_.size));      \
			else                                                   \
				VT_FAIL_AT("%s: %p (+%llu bytes) is in no "    \
					   "live memblock",                    \
					   what, as_p_, VT_U(as_n_));          \
		}                                                              \
	} while (0)

typedef struct {
	unsigned total;         /* live memblocks */
	unsigned vitalloc;      /* named "vitalloc..." */
	unsigned segment;       /* "vitalloc_segment" */
	unsigned large;         /* "vitalloc_large" */
	unsigned meta;          /* "vitalloc_meta" */
	unsigned newlib_heap;   /* "Newlib heap" (the simulated sbrk.o's) */
	unsigned other;         /* anything else */
	unsigned long long bytes, vitalloc_bytes;
	unsigned long long largest;
} as_census_t;

static inline as_census_t as_census(void)
{
	as_census_t c;
	sim_block_t b;
	memset(&c, 0, sizeof c);
	for (unsigned i = 0; sim_live_block(i, &b); i++) {
		c.total++;
		c.bytes += b.size;
		if (b.size > c.largest)
			c.largest = b.size;
		if (as_starts_with(b.name, "vitalloc")) {
			c.vitalloc++;
			c.vitalloc_bytes += b.size;
			if (strcmp(b.name, "vitalloc_segment") == 0)
				c.segment++;
			else if (strcmp(b.name, "vitalloc_large") == 0)
				c.large++;
			else if (strcmp(b.name, "vitalloc_meta") == 0)
				c.meta++;
		} else if (strcmp(b.name, "Newlib heap") == 0) {
			c.newlib_heap++;
		} else {
			c.other++;
		}
	}
	return c;
}

static inline void as_print_census(const char *when, as_census_t c)
{
	printf("  memblocks %s: %u live (%u vitalloc: %u segments, %u large, "
	       "%u meta; %u \"Newlib heap\", %u other), %llu KiB, largest %llu KiB\n",
	       when, c.total, c.vitalloc, c.segment, c.large, c.meta,
	       c.newlib_heap, c.other, c.bytes >> 10, c.largest >> 10);
	fflush(stdout);
}

static inline void as_print_blocks(void)
{
	sim_block_t b;
	for (unsigned i = 0; sim_live_block(i, &b); i++)
		printf("    block %u: \"%s\" uid 0x%x base %p size 0x%llx type 0x%x\n",
		       i, b.name, (unsigned)b.uid, b.base, VT_U(b.size),
		       (unsigned)b.type);
	fflush(stdout);
}

static inline void as_print_stats(const char *when)
{
	vitalloc_stats_t s;
	memset(&s, 0, sizeof s);
	vitalloc_stats(&s);
	printf("  vitalloc %s: in_use %llu KiB, reserved %llu KiB (limit %llu KiB), %llu allocations, "
	       "%llu source blocks (%llu segments, %llu large), %llu slabs (%llu KiB), "
	       "%llu KiB free in segments\n",
	       when, VT_U(s.in_use >> 10), VT_U(s.reserved >> 10), VT_U(s.limit >> 10),
	       VT_U(s.allocations), VT_U(s.source_blocks), VT_U(s.segments), VT_U(s.large_blocks),
	       VT_U(s.slabs), VT_U(s.slab_bytes >> 10), VT_U(s.free_bytes >> 10));
	fflush(stdout);
}

/* Linker-script symbols of the rdimon link (arm-none-eabi-ld's default
   script): the program's initialised and zeroed static data. */
extern char __data_start[], __bss_end__[];

/* Scans .data and .bss for work areas holding a live simulated LwMutex.
   Stores up to max of them in found[]; returns how many there are. */
static inline unsigned as_find_lwmutexes(const SceKernelLwMutexWork **found, unsigned max)
{
	uintptr_t a = ((uintptr_t)__data_start + 7) & ~(uintptr_t)7;
	unsigned n = 0;
	for (; a + sizeof(SceKernelLwMutexWork) <= (uintptr_t)__bss_end__; a += 8) {
		const SceKernelLwMutexWork *w = (const SceKernelLwMutexWork *)a;
		if (sim_lwmutex_count(w) >= 0) {
			if (n < max)
				found[n] = w;
			n++;
		}
	}
	return n;
}

#endif /* ARM_SIM_H */
