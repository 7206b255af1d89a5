/*
 * sample_gpu.c -- the sample's GPU-memory part (portable): a heap object
 * over CDRAM (vitalloc_heap_create), a few GPU buffers the way a renderer
 * allocates them, and the heap's statistics printed next to the main
 * heap's.
 *
 * A real renderer maps each of the heap's memblocks for the GPU in the
 * block hook (see README.md, "Heaps for GPU memory"):
 *
 *     static void gpu_hook(int event, const vitalloc_block_info_t *b, void *user)
 *     {
 *         if (b->kind == 2)            // the heap's metadata: main memory
 *             return;
 *         if (event == VITALLOC_BLOCK_ACQUIRED)
 *             sceGxmMapMemory(b->base, b->size, SCE_GXM_MEMORY_ATTRIB_READ_WRITE);
 *         else
 *             sceGxmUnmapMemory(b->base);
 *     }
 *
 * This sample does not start GXM, so its hook only counts the blocks.
 */
#include <string.h>

#include "sample_logic.h"

/* SCE_KERNEL_MEMBLOCK_TYPE_USER_CDRAM_RW (psp2/kernel/sysmem.h). */
#define SAMPLE_CDRAM 0x09408060u

typedef struct {
	int mapped;     /* memblocks of GPU memory held (acquired - released) */
	int meta;       /* metadata memblocks seen (main memory, never mapped) */
	int unbalanced; /* a release of a block never acquired */
} gpu_hook_state_t;

static void gpu_hook(int event, const vitalloc_block_info_t *b, void *user)
{
	gpu_hook_state_t *st = user;
	if (b->kind == 2) {
		st->meta += event == VITALLOC_BLOCK_ACQUIRED;
		return;
	}
	if (event == VITALLOC_BLOCK_ACQUIRED) {
		st->mapped++; /* here: sceGxmMapMemory(b->base, b->size, ...) */
	} else if (st->mapped-- <= 0) {
		st->unbalanced++; /* here: sceGxmUnmapMemory(b->base) */
	}
}

int sample_gpu_part(const sample_platform_t *pf, sample_report_t *rep)
{
	int failures = rep->failures;
	gpu_hook_state_t hs = {0, 0, 0};
	vitalloc_heap_config_t cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.mem_type = SAMPLE_CDRAM;
	cfg.name = "sample_gpu";
	cfg.block_hook = gpu_hook;
	cfg.hook_user = &hs;

	sample_printf(pf, "-- GPU memory: a CDRAM heap (vitalloc_heap_create) --");
	vitalloc_heap_t *gpu = vitalloc_heap_create(&cfg);
	if (!sample_check(pf, rep, gpu != NULL, "vitalloc_heap_create(CDRAM)"))
		return rep->failures - failures;

	/* A renderer's buffers: a 960x544 render target (4 KiB alignment), a
	   256x256 RGBA texture (256 B), a 1024x1024 DXT5 texture (1 MiB),
	   vertex and index buffers (16 B), and two small ones: a sprite's quad
	   and a uniform buffer, which share a page (blocks of up to 2 KiB are
	   slots, not pages). */
	struct {
		const char *what;
		size_t size, align;
		void *p;
	} buf[] = {
		{"render target 960x544", 960 * 544 * 4, 4096, NULL},
		{"texture 256x256 RGBA", 256 * 256 * 4, 256, NULL},
		{"texture 1024x1024 DXT5", 1024 * 1024, 256, NULL},
		{"vertex buffer", 48 * 1024, 16, NULL},
		{"index buffer", 12 * 1024, 16, NULL},
		{"quad vertices", 4 * 20, 16, NULL},
		{"uniform buffer", 64, 16, NULL},
	};
	size_t n = sizeof buf / sizeof buf[0], requested = 0;
	for (size_t i = 0; i < n; i++) {
		buf[i].p = vitalloc_heap_memalign(gpu, buf[i].align, buf[i].size);
		sample_check(pf, rep, buf[i].p != NULL && (uintptr_t)buf[i].p % buf[i].align == 0, buf[i].what);
		requested += buf[i].size;
	}
	/* The CPU fills the texture once, as a loader does. */
	if (buf[1].p)
		memset(buf[1].p, 0x80, buf[1].size);

	vitalloc_stats_t g, m;
	vitalloc_heap_stats(gpu, &g);
	vitalloc_stats(&m);
	char a[24];
	sample_printf(pf, "GPU buffers requested: %s", sample_size(a, requested));
	sample_print_stats(pf, "GPU heap (CDRAM)", &g);
	sample_print_stats(pf, "main heap", &m);
	sample_printf(pf, "GPU memblocks mapped by the hook: %d (+%d of metadata in main memory)", hs.mapped, hs.meta);
	sample_check(pf, rep, g.allocations == n, "GPU heap: every buffer counted");
	sample_check(pf, rep, g.in_use >= requested, "GPU heap: in use covers the requests");
	sample_check(pf, rep, hs.mapped >= 1 && (size_t)hs.mapped == g.segments + g.large_blocks,
		     "GPU heap: the hook saw every memblock");
	sample_check(pf, rep, vitalloc_heap_check(gpu) == 0, "vitalloc_heap_check");

	/* Unload the level's texture; the frees cost the CPU nothing in GPU
	   memory (no header to read there). */
	vitalloc_heap_free(gpu, buf[2].p);
	vitalloc_heap_free(gpu, buf[1].p);
	size_t left = vitalloc_heap_destroy(gpu);
	sample_check(pf, rep, left == n - 2, "vitalloc_heap_destroy: the buffers still live are counted");
	sample_check(pf, rep, hs.mapped == 0 && hs.unbalanced == 0, "vitalloc_heap_destroy: every memblock unmapped");
	rep->gpu_heap_in_use = g.in_use;
	rep->gpu_heap_reserved = g.reserved;
	return rep->failures - failures;
}
