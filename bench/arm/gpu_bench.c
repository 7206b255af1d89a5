/*
 * gpu_bench.c -- the texture-streaming workload of bench/arm/run.sh's GPU
 * memory table: GPU buffers loaded and evicted over many frames, on one
 * heap of a GPU memory type. Compiled twice from this file:
 *   (default)      vitalloc's heap objects (vitalloc_heap_create with the
 *                  type; libvitalloc.a),
 *   -DGPU_MSPACE   the anchor: an mspace (bench/arm/mspace, the dlmalloc
 *                  crate) over ONE memblock of the type, obtained before
 *                  counting starts, as code using sceClibMspaceCreate does.
 *
 *   gpu_bench.elf cdram|phycont textures|buffers [mspace block bytes]
 *
 * Two workloads (every decision from a fixed-seed xorshift PRNG, never
 * from an address, so both allocators see the same calls). `textures`:
 *   - buffer kinds: 70% textures of 16 KiB-1 MiB (256 B or 1 KiB aligned),
 *     5% large textures of 1-4 MiB (1 KiB), 20% vertex/index buffers of
 *     4-256 KiB (256 B), 5% render targets of 256 KiB-2 MiB (4 KiB); sizes
 *     roughly log-uniform (an octave uniformly, then uniform in it);
 *   - 3000 frames; each evicts 0-3 random resident buffers, then streams
 *     in up to 4 new ones while fewer than 8 MiB are resident;
 *   - every 250th frame a level change evicts half of the resident
 *     buffers (chosen at random), which the next frames refill.
 * `buffers`, a renderer's small buffers:
 *   - resident: 50% uniform buffers of 16-256 B, 35% vertex buffers of
 *     64 B-8 KiB, 15% index buffers of 32 B-1 KiB, all 16 B aligned;
 *     each frame evicts 0-7 and loads up to 16 while fewer than 512 KiB
 *     are resident; every 250th frame evicts half;
 *   - per frame: 4-15 uniform buffers of 64-256 B, freed two frames later
 *     (the GPU reads a frame while the CPU writes the next).
 * Memory is sampled after every call, outside the counted code (the
 * simulated kernel and this file are never counted): the peak of live
 * requested bytes; for vitalloc the peak bytes and number of memblocks of
 * the heap's type (sim_live_block: its metadata lives in USER_RW and is
 * not included); for the mspace its high-water mark, the highest byte
 * handed out minus the block's base (its state at the block's start
 * included). For vitalloc, at the end of every frame (counting paused):
 * the heap's statistics, for fragmentation (1 - largest_free / free_bytes:
 * the part of its free pages that a block as large as all of them could
 * not use), and the peak of its metadata memblocks (USER_RW, named
 * vtb_gpu_meta) with the peak number of live blocks. Output, one line
 * read by gpu_report.py:
 *   gpu: <type> <workload> ops=<n> failed=<n> peak_live=<n> peak_held=<n> peak_blocks=<n> block=<n>
 *        frag_avg=<per mille> frag_max=<per mille> meta_peak=<n> peak_allocs=<n>
 * (block: the mspace's block size, 0 for vitalloc; the last four 0 for
 * the mspace).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "sim_kernel.h"

#ifdef GPU_MSPACE
/* bench/arm/mspace/src/lib.rs */
void *msp_create(void *base, size_t size);
void *msp_memalign(void *msp, size_t align, size_t size);
void msp_free(void *msp, void *p);
static void *msp;
static char *block_base;
#else
#include "vitalloc.h"
static vitalloc_heap_t *heap;
#endif

/* The PRNG's seed (the PRNG itself: harness.c). */
#define SEED 0x2545f4914f6cdd1dull

/* ------------------------------------------------ memory accounting -- */
static uint32_t mem_type;
static unsigned long long peak_held;
static unsigned peak_blocks;
static unsigned long ops, failed;
static unsigned long long meta_peak;
static unsigned long frag_sum, frag_max, frag_frames, peak_allocs;

static void sample(void)
{
#ifdef GPU_MSPACE
	peak_blocks = 1; /* the one block, held all along */
#else
	sim_block_t b;
	unsigned long long held = 0;
	unsigned n = 0;
	for (unsigned i = 0; sim_live_block(i, &b); i++)
		if (b.type == mem_type) {
			held += b.size;
			n++;
		}
	if (held > peak_held)
		peak_held = held;
	if (n > peak_blocks)
		peak_blocks = n;
#endif
}

/* End of a frame, outside the counted code: fragmentation and the
   metadata's memory (vitalloc only). */
static void frame_end(void)
{
#ifndef GPU_MSPACE
	vtb_end();
	vitalloc_stats_t s;
	vitalloc_heap_stats(heap, &s);
	if (s.free_bytes) {
		unsigned long f = (unsigned long)(1000 - (unsigned long long)s.largest_free * 1000 / s.free_bytes);
		frag_sum += f;
		frag_max = f > frag_max ? f : frag_max;
	}
	frag_frames++;
	if (s.allocations > peak_allocs)
		peak_allocs = s.allocations;
	sim_block_t b;
	unsigned long long meta = 0;
	for (unsigned i = 0; sim_live_block(i, &b); i++)
		if (!strcmp(b.name, "vtb_gpu_meta"))
			meta += b.size;
	if (meta > meta_peak)
		meta_peak = meta;
	vtb_begin();
#endif
}

static void *gpu_alloc(uint32_t align, uint32_t size)
{
	char *p;
#ifdef GPU_MSPACE
	p = msp_memalign(msp, align, size);
#else
	p = vitalloc_heap_memalign(heap, align, size);
#endif
	ops++;
	if (!p) {
		failed++;
		return NULL;
	}
	*(volatile char *)p = 1; /* the upload starts */
	vtb_live_add(size);
#ifdef GPU_MSPACE
	if ((unsigned long long)(p + size - block_base) > peak_held)
		peak_held = (unsigned long long)(p + size - block_base);
#endif
	sample();
	return p;
}

static void gpu_free(void *p, uint32_t size)
{
#ifdef GPU_MSPACE
	msp_free(msp, p);
#else
	vitalloc_heap_free(heap, p);
#endif
	ops++;
	vtb_live_sub(size);
	sample();
}

/* ------------------------------------------------------------ workload -- */
#define MAX_RES 4096
#define RESIDENT_TARGET (8u << 20)
#define FRAMES 3000
#define LEVEL_EVERY 250

typedef struct {
	void *p;
	uint32_t size;
} buf_t;
static buf_t res[MAX_RES];
static unsigned nres;

static void load_texture(void)
{
	uint32_t k = vtb_below(100), size, align;
	if (k < 70) {
		size = vtb_log_range(16 << 10, 1 << 20);
		align = (vtb_next() & 1) ? 1024 : 256;
	} else if (k < 75) {
		size = vtb_log_range(1 << 20, 4 << 20);
		align = 1024;
	} else if (k < 95) {
		size = vtb_log_range(4 << 10, 256 << 10);
		align = 256;
	} else {
		size = vtb_log_range(256 << 10, 2 << 20);
		align = 4096;
	}
	void *p = gpu_alloc(align, size);
	if (p && nres < MAX_RES) {
		res[nres].p = p;
		res[nres].size = size;
		nres++;
	}
}

static void evict(unsigned i)
{
	gpu_free(res[i].p, res[i].size);
	res[i] = res[--nres];
}

static void load_buffer(void)
{
	uint32_t k = vtb_below(100), size;
	if (k < 50)
		size = vtb_log_range(16, 256);
	else if (k < 85)
		size = vtb_log_range(64, 8 << 10);
	else
		size = vtb_log_range(32, 1 << 10);
	void *p = gpu_alloc(16, size);
	if (p && nres < MAX_RES) {
		res[nres].p = p;
		res[nres].size = size;
		nres++;
	}
}

#define SMALL_TARGET (512u << 10)
#define MAX_TRANSIENT 16
static buf_t transient[3][MAX_TRANSIENT]; /* per frame, freed two frames later */

static void stream(int buffers)
{
	unsigned evict_max = buffers ? 8 : 4, load_max = buffers ? 16 : 4;
	unsigned long long target = buffers ? SMALL_TARGET : RESIDENT_TARGET;
	for (int f = 1; f <= FRAMES; f++) {
		if (f % LEVEL_EVERY == 0)
			for (unsigned n = nres / 2; n--;)
				evict(vtb_below(nres));
		for (unsigned n = vtb_below(evict_max); n-- && nres;)
			evict(vtb_below(nres));
		for (unsigned n = 0; n < load_max && vtb_live() < target; n++) {
			if (buffers)
				load_buffer();
			else
				load_texture();
		}
		if (buffers) {
			buf_t *t = transient[f % 3];
			for (int i = 0; i < MAX_TRANSIENT; i++)
				if (t[i].p) {
					gpu_free(t[i].p, t[i].size);
					t[i].p = NULL;
				}
			for (unsigned n = 4 + vtb_below(12), i = 0; i < n; i++) {
				t[i].size = vtb_log_range(64, 256);
				t[i].p = gpu_alloc(16, t[i].size);
			}
		}
		frame_end();
	}
	while (nres)
		evict(nres - 1);
	for (int f = 0; f < 3; f++)
		for (int i = 0; i < MAX_TRANSIENT; i++)
			if (transient[f][i].p)
				gpu_free(transient[f][i].p, transient[f][i].size);
}

int main(int argc, char **argv)
{
	const char *t = argc > 1 ? argv[1] : "cdram";
	if (!strcmp(t, "cdram"))
		mem_type = SIM_MEMBLOCK_TYPE_USER_CDRAM_RW;
	else if (!strcmp(t, "phycont"))
		mem_type = SIM_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_RW;
	else
		t = NULL;
	const char *w = argc > 2 ? argv[2] : "textures";
	int buffers = !strcmp(w, "buffers");
	if (!t || (!buffers && strcmp(w, "textures"))) {
		printf("usage: gpu_bench cdram|phycont textures|buffers [mspace block bytes]\n");
		return 1;
	}
#ifdef GPU_MSPACE
	size_t block = argc > 3 ? strtoul(argv[3], NULL, 0) : (size_t)24 << 20;
	SceUID uid = sceKernelAllocMemBlock("vtb_mspace", mem_type, block, NULL);
	if (uid < 0 || sceKernelGetMemBlockBase(uid, (void **)&block_base) < 0 ||
	    !(msp = msp_create(block_base, block))) {
		printf("gpu_bench: no mspace of %lu bytes\n", (unsigned long)block);
		return 2;
	}
#else
	size_t block = 0;
	vitalloc_heap_config_t cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.mem_type = mem_type;
	cfg.name = "vtb_gpu";
	if (!(heap = vitalloc_heap_create(&cfg))) {
		printf("gpu_bench: vitalloc_heap_create failed\n");
		return 2;
	}
#endif
	vtb_seed(SEED);
	vtb_begin();
	stream(buffers);
	vtb_end();
#ifndef GPU_MSPACE
	vitalloc_heap_destroy(heap); /* after the counted part */
#endif
	printf("vtb-ops: %lu\n", ops);
	printf("gpu: %s %s ops=%lu failed=%lu peak_live=%llu peak_held=%llu peak_blocks=%u block=%lu "
	       "frag_avg=%lu frag_max=%lu meta_peak=%llu peak_allocs=%lu\n",
	       t, w, ops, failed, vtb_peak_live(), peak_held, peak_blocks, (unsigned long)block,
	       frag_frames ? frag_sum / frag_frames : 0, frag_max, meta_peak, peak_allocs);
	return 0;
}
