/*
 * arm_bench.c -- the allocator workloads of bench/arm/run.sh, for the
 * Cortex-A9 under qemu-arm. Built twice, with the same objects: linked with
 * libvitalloc.a, and without it (newlib's own malloc, dlmalloc 2.6, over the
 * simulated VitaSDK sbrk.o heap). The TCG plugin counts the allocator's
 * instructions between vtb_begin() and vtb_end().
 *
 *   arm_bench.elf <workload> <scale>
 *
 * Workloads (the intent of bench/src/workloads.rs, the host versions):
 *   pair    malloc(32)+free, with 64*scale blocks of 16 B-1 KiB live meanwhile
 *   churn   batches of 1-16 blocks of 16-64 B freed newest first, same background
 *   random  512*scale slots; an empty slot gets malloc(8-4096), a full one is
 *           freed or realloc'd (even odds)
 *   frame   a game: 16*scale assets of 16 KiB-2 MiB loaded first, an eighth
 *           of them replaced every 30th frame mid-frame; per frame 40-200
 *           temporaries of 16 B-4 KiB and 3 vectors grown by realloc
 *           doubling, all freed at the frame's end
 *   frag    rounds of 2000*scale blocks of long-tailed sizes, every other
 *           live block then freed; each round's sizes are 4x the previous
 * The number of calls does not depend on scale (apart from the set-up and
 * tear-down of the bigger heap), so the per-call figures of two scales
 * compare the allocator on a small and a big heap.
 *
 * Every decision comes from a fixed-seed xorshift PRNG, never from an
 * address the allocator returned, so both allocators see the same calls.
 * Every block's first byte is written. The bookkeeping lives in static
 * arrays (the harness must not allocate). Output: "vtb-ops: <calls made>",
 * then vtb_report()'s line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

/* The PRNG's seed (the PRNG itself: harness.c). */
#define SEED 0x9e3779b97f4a7c15ull

/* ---------------------------------------------------- the measured calls -- */
static unsigned long ops;

static void fail(const char *what, size_t n)
{
	printf("arm_bench: %s(%lu) failed\n", what, (unsigned long)n);
	exit(2);
}

static void *xmalloc(size_t n)
{
	char *p = malloc(n);
	if (!p)
		fail("malloc", n);
	*(volatile char *)p = (char)n;
	vtb_live_add(n);
	ops++;
	return p;
}

static void xfree(void *p, size_t n)
{
	free(p);
	vtb_live_sub(n);
	ops++;
}

static void *xrealloc(void *p, size_t old, size_t n)
{
	char *q = realloc(p, n);
	if (!q)
		fail("realloc", n);
	*(volatile char *)q = (char)n;
	vtb_live_sub(old);
	vtb_live_add(n);
	ops++;
	return q;
}

typedef struct {
	void *p;
	uint32_t size;
} blk_t;

/* Static bookkeeping, sized for scale <= MAX_SCALE. */
#define MAX_SCALE 64
static blk_t tab[2 * 2000 * MAX_SCALE + 64];
static blk_t tab2[512];

/* Long-lived small blocks, as a real program always has. */
static void background(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		tab[i].size = vtb_log_range(16, 1024);
		tab[i].p = xmalloc(tab[i].size);
	}
}

static void background_free(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		xfree(tab[i].p, tab[i].size);
}

/* ------------------------------------------------------------ workloads -- */
static void pair(unsigned scale)
{
	unsigned bg = 64 * scale;
	background(bg);
	for (int i = 0; i < 100000; i++)
		xfree(xmalloc(32), 32);
	background_free(bg);
}

static void churn(unsigned scale)
{
	unsigned bg = 64 * scale;
	background(bg);
	for (unsigned long start = ops; ops - start < 200000;) {
		unsigned n = vtb_range(1, 16);
		for (unsigned i = 0; i < n; i++) {
			tab2[i].size = vtb_range(16, 64);
			tab2[i].p = xmalloc(tab2[i].size);
		}
		while (n--)
			xfree(tab2[n].p, tab2[n].size);
	}
	background_free(bg);
}

static void random_wl(unsigned scale)
{
	unsigned slots = 512 * scale;
	memset(tab, 0, slots * sizeof tab[0]);
	for (int step = 0; step < 200000; step++) {
		blk_t *b = &tab[vtb_below(slots)];
		uint32_t size = vtb_range(8, 4096);
		if (!b->p) {
			b->p = xmalloc(size);
			b->size = size;
		} else if (vtb_next() & 1) {
			xfree(b->p, b->size);
			b->p = 0;
		} else {
			b->p = xrealloc(b->p, b->size, size);
			b->size = size;
		}
	}
	for (unsigned i = 0; i < slots; i++)
		if (tab[i].p)
			xfree(tab[i].p, tab[i].size);
}

static void frame(unsigned scale)
{
	unsigned assets = 16 * scale, replace = assets / 8 ? assets / 8 : 1;
	blk_t *asset = tab, *temp = tab2;
	for (unsigned i = 0; i < assets; i++) {
		asset[i].size = vtb_log_range(16 << 10, 2 << 20);
		asset[i].p = xmalloc(asset[i].size);
	}
	for (int f = 0; f < 600; f++) {
		unsigned n = vtb_range(40, 200);
		blk_t vec[3];
		uint32_t vec_cap[3];
		for (int v = 0; v < 3; v++) {
			vec[v].size = 16;
			vec[v].p = xmalloc(16);
			vec_cap[v] = vtb_log_range(256, 64 << 10); /* final size */
		}
		for (unsigned t = 0; t < n; t++) {
			temp[t].size = vtb_log_range(16, 4096);
			temp[t].p = xmalloc(temp[t].size);
			if ((t & 7) == 7) /* the vectors grow as the frame goes */
				for (int v = 0; v < 3; v++)
					if (vec[v].size < vec_cap[v]) {
						vec[v].p = xrealloc(vec[v].p, vec[v].size, 2 * vec[v].size);
						vec[v].size *= 2;
					}
			if (f % 30 == 29 && t == n / 2) /* streaming in a level section */
				for (unsigned r = 0; r < replace; r++) {
					blk_t *a = &asset[vtb_below(assets)];
					xfree(a->p, a->size);
					a->size = vtb_log_range(16 << 10, 2 << 20);
					a->p = xmalloc(a->size);
				}
		}
		for (unsigned t = 0; t < n; t++)
			xfree(temp[t].p, temp[t].size);
		for (int v = 0; v < 3; v++)
			xfree(vec[v].p, vec[v].size);
	}
	for (unsigned i = 0; i < assets; i++)
		xfree(asset[i].p, asset[i].size);
}

static void frag(unsigned scale)
{
	unsigned per_round = 2000 * scale, n = 0;
	for (int round = 0; round < 4; round++) {
		uint32_t lo = 16u << round, hi = 512u << (2 * round); /* 16-512 B ... 128 B-32 KiB */
		for (unsigned i = 0; i < per_round; i++) {
			tab[n].size = vtb_log_range(lo, hi);
			tab[n].p = xmalloc(tab[n].size);
			n++;
		}
		/* free every other live block, keep the rest in order */
		unsigned kept = 0;
		for (unsigned i = 0; i < n; i++) {
			if (i & 1)
				xfree(tab[i].p, tab[i].size);
			else
				tab[kept++] = tab[i];
		}
		n = kept;
	}
	while (n--)
		xfree(tab[n].p, tab[n].size);
}

static const struct {
	const char *name;
	void (*run)(unsigned scale);
} workloads[] = {
	{"pair", pair}, {"churn", churn}, {"random", random_wl}, {"frame", frame}, {"frag", frag},
};

static void *volatile resident;

int main(int argc, char **argv)
{
	const char *w = argc > 1 ? argv[1] : "pair";
	unsigned scale = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
	unsigned i;
	for (i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
		if (!strcmp(w, workloads[i].name))
			break;
	if (i == sizeof workloads / sizeof workloads[0] || scale < 1 || scale > MAX_SCALE) {
		printf("usage: arm_bench pair|churn|random|frame|frag <scale 1..%d>\n", MAX_SCALE);
		return 1;
	}
	/* Something stays allocated, as stdio's buffers do in any program, and
	   the allocator's one-time set-up is not part of the workload. */
	resident = malloc(100);
	vtb_seed(SEED);
	vtb_begin();
	workloads[i].run(scale);
	vtb_end();
	printf("vtb-ops: %lu\n", ops);
	vtb_report(w, vtb_peak_live());
	return 0;
}
