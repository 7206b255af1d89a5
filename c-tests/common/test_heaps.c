/*
 * test_heaps -- heap objects (vitalloc_heap_*), portable part (host and
 * ARM/qemu; the ARM-only test_gpu_heaps checks memory types against the
 * simulated kernel):
 *  - create with defaults; blocks of up to 2 KiB are slots (usable size a
 *    slot size, 16-aligned, sharing pages), larger ones aligned to 4 KiB
 *    with a usable size a multiple of 4 KiB, all >= the request; memalign
 *    16 B ... 1 MiB for small and large blocks; realloc in place and
 *    moving, contents kept; stats (in_use is the sum of usable sizes,
 *    allocations the live count); check == 0 after each phase;
 *  - many small blocks (uniform buffers) share pages: 1000 blocks of 64 B
 *    hold 64000 bytes of slots rounded to pages, not 1000 pages;
 *  - errors: unknown memory type, non-power-of-two alignment, NULL heap
 *    (EINVAL); the limit (ENOMEM, the heap usable again after frees);
 *  - a fixed capacity: one block, nothing beyond it;
 *  - the block hook: events balance, and destroy reports every release;
 *  - destroy returns the number of blocks still live;
 *  - heap objects and the main heap are independent (their blocks never
 *    overlap, and the main heap's statistics do not count heap objects'
 *    memory blocks).
 */
#include "vt_test.h"

#define KIB 1024u

static int acquired, released, data_acquired;
static void hook(int event, const vitalloc_block_info_t *b, void *user)
{
	VT_CHECK(user == &acquired);
	if (event == VITALLOC_BLOCK_ACQUIRED && b->kind != 2)
		data_acquired++;
	if (event == VITALLOC_BLOCK_ACQUIRED)
		acquired++;
	else if (event == VITALLOC_BLOCK_RELEASED)
		released++;
}

static void test_blocks(void)
{
	vitalloc_heap_t *h = vitalloc_heap_create(NULL);
	VT_REQUIRE(h != NULL);
	size_t sizes[] = {0, 1, 100, 4096, 4097, 65536, 300 * KIB, 2 * VT_MIB};
	void *p[8];
	size_t total = 0;
	for (int i = 0; i < 8; i++) {
		p[i] = vitalloc_heap_malloc(h, sizes[i]);
		VT_REQUIRE(p[i] != NULL);
		size_t u = vitalloc_heap_usable_size(h, p[i]);
		VT_CHECK_CMP(u, >=, sizes[i]);
		if (sizes[i] <= 2048) {
			VT_CHECK_EQ((uintptr_t)p[i] % 16, 0);
			VT_CHECK_CMP(u, <=, 2 * (sizes[i] > 16 ? sizes[i] : 16));
		} else {
			VT_CHECK_EQ((uintptr_t)p[i] % 4096, 0);
			VT_CHECK_EQ(u % 4096, 0);
		}
		total += u;
		memset(p[i], i, sizes[i]);
	}
	for (size_t a = 16; a <= VT_MIB; a *= 4) {
		size_t want[] = {24, 700, 3000};
		for (int k = 0; k < 3; k++) {
			void *q = vitalloc_heap_memalign(h, a, want[k]);
			VT_REQUIRE(q != NULL);
			VT_CHECK_EQ((uintptr_t)q % a, 0);
			VT_CHECK_CMP(vitalloc_heap_usable_size(h, q), >=, want[k]);
			vitalloc_heap_free(h, q);
		}
	}
	vitalloc_stats_t s;
	vitalloc_heap_stats(h, &s);
	VT_CHECK_EQ(s.in_use, total);
	VT_CHECK_EQ(s.allocations, 8);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);

	/* realloc: grow (in place or moved), shrink; contents kept */
	unsigned char *r = vitalloc_heap_realloc(h, p[2], 50000);
	VT_REQUIRE(r != NULL);
	for (int i = 0; i < 100; i++)
		VT_CHECK_EQ(r[i], 2);
	p[2] = r;
	r = vitalloc_heap_realloc(h, p[6], 5000);
	VT_CHECK(r == p[6]); /* a shrink of pages stays in place */
	VT_CHECK_EQ(vitalloc_heap_usable_size(h, r), 8192);
	VT_CHECK_EQ(r[0], 6);
	r = vitalloc_heap_realloc(h, p[1], 16);
	VT_CHECK(r == p[1]); /* fits its slot */
	r = vitalloc_heap_realloc(h, p[6], 10);
	VT_REQUIRE(r != NULL); /* moved to a slot */
	VT_CHECK_EQ(vitalloc_heap_usable_size(h, r), 16);
	VT_CHECK_EQ(r[0], 6);
	p[6] = r;
	void *fresh = vitalloc_heap_realloc(h, NULL, 10);
	VT_REQUIRE(fresh != NULL);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);

	/* the main heap is independent */
	void *m = malloc(5000);
	VT_REQUIRE(m != NULL);
	for (int i = 0; i < 8; i++) {
		size_t u = vitalloc_heap_usable_size(h, p[i]);
		VT_CHECK((char *)m + 5000 <= (char *)p[i] || (char *)p[i] + u <= (char *)m);
	}
	free(m);

	for (int i = 0; i < 4; i++)
		vitalloc_heap_free(h, p[i]);
	vitalloc_heap_free(h, NULL);
	vitalloc_heap_trim(h, 0);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	VT_CHECK_EQ(vitalloc_heap_destroy(h), 5); /* p[4..7] and fresh */
	VT_CHECK_EQ(vitalloc_heap_destroy(NULL), 0);
}

/* A renderer's uniform buffers: many small blocks share pages. */
static void test_small_blocks(void)
{
	vitalloc_heap_t *h = vitalloc_heap_create(NULL);
	VT_REQUIRE(h != NULL);
	static void *p[1000];
	for (int i = 0; i < 1000; i++) {
		p[i] = vitalloc_heap_memalign(h, 64, 64);
		VT_REQUIRE(p[i] != NULL);
		VT_CHECK_EQ((uintptr_t)p[i] % 64, 0);
		memset(p[i], 0x5A, 64);
	}
	vitalloc_stats_t s;
	vitalloc_heap_stats(h, &s);
	VT_CHECK_EQ(s.allocations, 1000);
	VT_CHECK_EQ(s.in_use, 64000);
	VT_CHECK_EQ(s.slab_bytes, 16 * 4096); /* 64000 bytes rounded to pages */
	VT_CHECK_CMP(s.reserved, <, 1000 * 4096 / 4);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	for (int i = 0; i < 1000; i += 2)
		vitalloc_heap_free(h, p[i]);
	for (int i = 0; i < 1000; i += 2) {
		p[i] = vitalloc_heap_malloc(h, 50);
		VT_REQUIRE(p[i] != NULL);
	}
	vitalloc_heap_stats(h, &s);
	VT_CHECK_EQ(s.slab_bytes, 16 * 4096); /* freed slots were reused */
	for (int i = 0; i < 1000; i++)
		vitalloc_heap_free(h, p[i]);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	vitalloc_heap_stats(h, &s);
	VT_CHECK_EQ(s.allocations, 0);
	VT_CHECK_EQ(s.slabs, 0);
	VT_CHECK_EQ(s.largest_free, s.free_bytes); /* one free run per segment */
	VT_CHECK_EQ(vitalloc_heap_destroy(h), 0);
}

static void test_errors(void)
{
	vitalloc_heap_config_t bad = {0};
	bad.mem_type = 0x12345678u;
	errno = 0;
	VT_CHECK(vitalloc_heap_create(&bad) == NULL);
	VT_CHECK_EQ(errno, EINVAL);

	vitalloc_heap_t *h = vitalloc_heap_create(NULL);
	VT_REQUIRE(h != NULL);
	errno = 0;
	VT_CHECK(vitalloc_heap_memalign(h, 3000, 100) == NULL);
	VT_CHECK_EQ(errno, EINVAL);
	errno = 0;
	VT_CHECK(vitalloc_heap_malloc(NULL, 100) == NULL);
	VT_CHECK_EQ(errno, EINVAL);
	errno = 0;
	VT_CHECK(vitalloc_heap_malloc(h, vt_size(SIZE_MAX - 100)) == NULL);
	VT_CHECK_EQ(errno, ENOMEM);
	VT_CHECK_EQ(vitalloc_heap_check(NULL), -1);
	VT_CHECK_EQ(vitalloc_heap_usable_size(h, NULL), 0);
	vitalloc_heap_destroy(h);

	/* the limit */
	vitalloc_heap_config_t c = {0};
	c.limit = 4 * VT_MIB;
	h = vitalloc_heap_create(&c);
	VT_REQUIRE(h != NULL);
	void *ps[64];
	int n = 0;
	errno = 0;
	while (n < 64 && (ps[n] = vitalloc_heap_malloc(h, 200 * KIB)) != NULL)
		n++;
	VT_CHECK_CMP(n, <, 64);
	VT_CHECK_CMP(n, >=, 10);
	VT_CHECK_EQ(errno, ENOMEM);
	vitalloc_stats_t s;
	vitalloc_heap_stats(h, &s);
	VT_CHECK_CMP(s.reserved, <=, 4 * VT_MIB);
	for (int i = 0; i < n; i++)
		vitalloc_heap_free(h, ps[i]);
	VT_CHECK(vitalloc_heap_malloc(h, 200 * KIB) != NULL);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	VT_CHECK_EQ(vitalloc_heap_destroy(h), 1);
	printf("  limit 4 MiB: %d blocks of 200 KiB, then NULL + ENOMEM\n", n);
}

static void test_fixed_and_hook(void)
{
	vitalloc_heap_config_t c = {0};
	c.capacity = VT_MIB;
	c.block_hook = hook;
	c.hook_user = &acquired;
	c.name = "test_pool";
	vitalloc_heap_t *h = vitalloc_heap_create(&c);
	VT_REQUIRE(h != NULL);
	VT_CHECK_CMP(acquired, >=, 2); /* the pool and its metadata */
	VT_CHECK_EQ(data_acquired, 1);
	void *ps[300];
	int n = 0;
	while (n < 300 && (ps[n] = vitalloc_heap_malloc(h, 4096)) != NULL)
		n++;
	VT_CHECK_EQ(n, 256); /* exactly 1 MiB of pages */
	VT_CHECK(vitalloc_heap_malloc(h, 4096) == NULL);
	vitalloc_stats_t s;
	vitalloc_heap_stats(h, &s);
	VT_CHECK_EQ(s.segments, 1);
	VT_CHECK_EQ(s.large_blocks, 0);
	VT_CHECK_EQ(data_acquired, 1); /* nothing but the pool */
	for (int i = 0; i < n; i += 2)
		vitalloc_heap_free(h, ps[i]);
	VT_CHECK(vitalloc_heap_malloc(h, 8192) == NULL); /* no two free pages in a row */
	VT_CHECK(vitalloc_heap_malloc(h, 4096) != NULL);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	size_t live = vitalloc_heap_destroy(h);
	VT_CHECK_EQ(live, 129);
	VT_CHECK_EQ(acquired, released);
	printf("  fixed 1 MiB pool: %d pages, %d blocks acquired and released\n", n, acquired);
}

int main(void)
{
	vt_start("test_heaps");
	vitalloc_stats_t before = vt_stats();
	test_blocks();
	test_small_blocks();
	test_errors();
	test_fixed_and_hook();
	vitalloc_stats_t after = vt_stats();
	/* Heap objects are blocks of the main heap, given back on destroy. */
	VT_CHECK_EQ(after.in_use, before.in_use);
	return vt_done("test_heaps");
}
