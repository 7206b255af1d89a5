/*
 * test_gpu_heaps -- heap objects over the Vita's GPU memory types, against
 * the simulated kernel (which refuses sizes off a type's granularity and
 * keeps a budget per memory class, as the real one does):
 *  1. for CDRAM (256 KiB granularity), phycont and phycont-NC (1 MiB) and
 *     uncached main memory (4 KiB): textures of 4 KiB-4 MiB aligned to
 *     256 B-1 MiB; every block lies in a live memblock of the heap's type
 *     named <prefix>_segment or <prefix>_large; every such memblock's size
 *     is a multiple of the granularity; the heap's metadata is in
 *     <prefix>_meta memblocks of type USER_RW; the block hook's set of
 *     blocks equals the kernel's at every checkpoint;
 *     small buffers of 16 B-2 KiB aligned to 16-256 B are slots sharing
 *     pages of the same memblocks;
 *  2. a GPU overrun: 4 KiB written past a block's end, 64 B past small
 *     buffers', then frees and allocations: the heap stays consistent
 *     (nothing of it lives there);
 *  3. the budgets: a CDRAM budget of 8 MiB runs out (NULL + ENOMEM); after
 *     frees the heap allocates again; with the kernel's own budgets (CDRAM
 *     112 MiB, phycont 26 MiB) a heap fills its class to within a block of
 *     the budget, then NULL + ENOMEM;
 *  4. destroy with live blocks: their count is returned, every memblock of
 *     the heap is gone from the kernel, and the hook saw each release.
 */
#include "vt_test.h"
#include "arm_sim.h"

#define KIB 1024u
#define USER_RW 0x0C20D060u

typedef struct {
	const char *prefix;
	unsigned type, gran;
} kind_t;

static const kind_t kinds[] = {
	{"gpu_cdram", 0x09408060u, 256 * KIB},
	{"gpu_phycont", 0x0C80D060u, VT_MIB},
	{"gpu_phycont_nc", 0x0D808060u, VT_MIB},
	{"gpu_uncache", 0x0C208060u, 4 * KIB},
};

/* The hook's view: live blocks by base. */
#define MAX_SEEN 256
static struct {
	void *base;
	size_t size;
	unsigned type, kind;
} seen[MAX_SEEN];
static int n_seen, bad_events, releases, acquisitions;

static void hook(int event, const vitalloc_block_info_t *b, void *user)
{
	(void)user;
	if (event == VITALLOC_BLOCK_ACQUIRED) {
		acquisitions++;
		if (n_seen == MAX_SEEN) {
			bad_events++;
			return;
		}
		seen[n_seen].base = b->base;
		seen[n_seen].size = b->size;
		seen[n_seen].type = b->mem_type;
		seen[n_seen].kind = b->kind;
		n_seen++;
		return;
	}
	releases++;
	for (int i = 0; i < n_seen; i++)
		if (seen[i].base == b->base && seen[i].size == b->size) {
			seen[i] = seen[--n_seen];
			return;
		}
	bad_events++;
}

/* Every kernel block with the prefix is in the hook's set with its type,
   and the other way round; types, names and granularities are right. */
static void check_blocks(const kind_t *k, const char *when)
{
	sim_block_t b;
	int mine = 0;
	for (unsigned i = 0; sim_live_block(i, &b); i++) {
		if (!as_starts_with(b.name, k->prefix) || b.name[strlen(k->prefix)] != '_')
			continue;
		mine++;
		const char *suffix = b.name + strlen(k->prefix);
		int meta = strcmp(suffix, "_meta") == 0;
		VT_CHECK(meta || strcmp(suffix, "_segment") == 0 || strcmp(suffix, "_large") == 0);
		VT_CHECK_EQ(b.type, meta ? USER_RW : k->type);
		if (!meta)
			VT_CHECK_EQ(b.size % k->gran, 0);
		int found = 0;
		for (int j = 0; j < n_seen; j++)
			if (seen[j].base == b.base && seen[j].size == b.size) {
				found = 1;
				VT_CHECK_EQ(seen[j].type, b.type);
				VT_CHECK_EQ(seen[j].kind == 2, meta);
			}
		if (!found)
			printf("  %s: kernel block %s at %p not seen by the hook\n", when, b.name, b.base);
		VT_CHECK(found);
	}
	VT_CHECK_EQ(mine, n_seen);
	VT_CHECK_EQ(bad_events, 0);
}

/* p..p+n lies in one live memblock of the heap's data. */
static void check_in_data(const kind_t *k, void *p, size_t n)
{
	sim_block_t b;
	VT_REQUIRE(as_block_of(p, &b));
	VT_CHECK(as_starts_with(b.name, k->prefix));
	VT_CHECK_EQ(b.type, k->type);
	VT_CHECK((uintptr_t)p + n <= (uintptr_t)b.base + b.size);
}

static void one_type(const kind_t *k)
{
	n_seen = bad_events = releases = acquisitions = 0;
	vitalloc_heap_config_t c = {0};
	c.mem_type = k->type;
	c.name = k->prefix;
	c.block_hook = hook;
	vitalloc_heap_t *h = vitalloc_heap_create(&c);
	VT_REQUIRE(h != NULL);
	static void *tex[48];
	static size_t size[48];
	unsigned seed = 12345;
	for (int i = 0; i < 48; i++) {
		seed = seed * 1103515245u + 12345u;
		size[i] = (4 * KIB) << (seed >> 16) % (k->gran > 256 * KIB ? 9 : 11); /* 4 KiB-4 MiB; 1 MiB at most for phycont (26 MiB budget) */
		size_t align = (size_t)256 << (seed >> 8) % 13;  /* 256 B .. 1 MiB */
		tex[i] = vitalloc_heap_memalign(h, align, size[i]);
		VT_REQUIRE(tex[i] != NULL);
		VT_CHECK_EQ((uintptr_t)tex[i] % align, 0);
		check_in_data(k, tex[i], size[i]);
		if (i % 3 == 2) {
			vitalloc_heap_free(h, tex[i - 1]);
			tex[i - 1] = NULL;
		}
	}
	/* small buffers (vertex, index, uniform): slots sharing pages */
	static void *buf[64];
	for (int i = 0; i < 64; i++) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 16 + (seed >> 16) % 2033;          /* 16 B .. 2 KiB */
		size_t align = (size_t)16 << (seed >> 8) % 5; /* 16 .. 256 B */
		buf[i] = vitalloc_heap_memalign(h, align, n);
		VT_REQUIRE(buf[i] != NULL);
		VT_CHECK_EQ((uintptr_t)buf[i] % align, 0);
		VT_CHECK_CMP(vitalloc_heap_usable_size(h, buf[i]), >=, n);
		check_in_data(k, buf[i], n);
	}
	vitalloc_stats_t s;
	vitalloc_heap_stats(h, &s);
	VT_CHECK_CMP(s.slab_bytes, <=, 64 * 2 * KIB); /* not a page each */
	check_blocks(k, "after loading");
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);

	/* 2. the GPU writes past a block's end (into the next pages) */
	for (int i = 0; i < 48; i += 5)
		if (tex[i] && size[i] < VT_MIB) {
			size_t u = vitalloc_heap_usable_size(h, tex[i]);
			sim_block_t b;
			if (as_block_of((char *)tex[i] + u + 4 * KIB - 1, &b))
				memset((char *)tex[i] + u, 0xEE, 4 * KIB);
		}
	for (int i = 0; i < 64; i++) {
		size_t u = vitalloc_heap_usable_size(h, buf[i]);
		sim_block_t b;
		if (as_block_of((char *)buf[i] + u + 63, &b))
			memset(buf[i], 0xEE, u + 64);
	}
	for (int i = 0; i < 48; i += 2)
		if (tex[i]) {
			vitalloc_heap_free(h, tex[i]);
			tex[i] = NULL;
		}
	for (int i = 0; i < 64; i += 2) {
		vitalloc_heap_free(h, buf[i]);
		buf[i] = vitalloc_heap_malloc(h, 200);
		VT_REQUIRE(buf[i] != NULL);
	}
	for (int i = 0; i < 48; i += 2) {
		tex[i] = vitalloc_heap_malloc(h, 64 * KIB);
		VT_REQUIRE(tex[i] != NULL);
	}
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	check_blocks(k, "after the overrun");

	vitalloc_heap_stats(h, &s);
	printf("  %s: %lu bytes in use, %lu held, %lu memblocks, %lu free (largest run %lu)\n", k->prefix,
	       (unsigned long)s.in_use, (unsigned long)s.reserved, (unsigned long)s.source_blocks,
	       (unsigned long)s.free_bytes, (unsigned long)s.largest_free);
	VT_CHECK_CMP(s.largest_free, <=, s.free_bytes);

	/* 4. destroy with live blocks */
	int live = 64;
	for (int i = 0; i < 48; i++)
		live += tex[i] != NULL;
	VT_CHECK_EQ(vitalloc_heap_destroy(h), (size_t)live);
	VT_CHECK_EQ(n_seen, 0);
	VT_CHECK_EQ(releases, acquisitions);
	check_blocks(k, "after destroy");
}

static void budget(void)
{
	sim_set_budgets(256 * VT_MIB, 8 * VT_MIB, 26 * VT_MIB);
	vitalloc_heap_config_t c = {0};
	c.mem_type = kinds[0].type;
	c.name = "gpu_budget";
	vitalloc_heap_t *h = vitalloc_heap_create(&c);
	VT_REQUIRE(h != NULL);
	static void *p[64];
	int n = 0;
	errno = 0;
	while (n < 64 && (p[n] = vitalloc_heap_malloc(h, 512 * KIB)) != NULL)
		n++;
	VT_CHECK_EQ(errno, ENOMEM);
	VT_CHECK_CMP(n, >=, 12);
	VT_CHECK_CMP(n, <, 16);
	for (int i = 0; i < n; i += 2)
		vitalloc_heap_free(h, p[i]);
	VT_CHECK(vitalloc_heap_malloc(h, 512 * KIB) != NULL);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	printf("  CDRAM budget 8 MiB: %d blocks of 512 KiB, then NULL + ENOMEM; usable again after frees\n", n);
	vitalloc_heap_destroy(h);
	sim_set_budgets(256 * VT_MIB, 112 * VT_MIB, 26 * VT_MIB);
}

/* Fills the class of `k` with 2 MiB textures until the kernel refuses. */
static void fill_budget(const kind_t *k, size_t budget)
{
	vitalloc_heap_config_t c = {0};
	c.mem_type = k->type;
	c.name = "gpu_fill";
	vitalloc_heap_t *h = vitalloc_heap_create(&c);
	VT_REQUIRE(h != NULL);
	size_t got = 0;
	errno = 0;
	while (vitalloc_heap_malloc(h, 2 * VT_MIB) != NULL)
		got += 2 * VT_MIB;
	VT_CHECK_EQ(errno, ENOMEM);
	VT_CHECK_CMP(got, <=, budget);
	VT_CHECK_CMP(got + 4 * VT_MIB, >=, budget);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	printf("  %s budget %lu MiB: %lu MiB of 2 MiB textures, then NULL + ENOMEM\n", k->prefix,
	       (unsigned long)(budget / VT_MIB), (unsigned long)(got / VT_MIB));
	vitalloc_heap_destroy(h);
}

int main(void)
{
	vt_start("test_gpu_heaps");
	for (unsigned i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		one_type(&kinds[i]);
	budget();
	fill_budget(&kinds[0], 112 * VT_MIB);
	fill_budget(&kinds[1], 26 * VT_MIB);
	return vt_done("test_gpu_heaps");
}
