/*
 * test_heaps -- heap objects (vitalloc_heap_*), portable part (host and
 * ARM/qemu; the ARM-only test_gpu_heaps checks memory types against the
 * simulated kernel):
 *  - create with defaults; blocks aligned to 4 KiB, usable size a multiple
 *    of 4 KiB and >= the request; memalign to 256 B ... 1 MiB; realloc in
 *    place and moving, contents kept; stats (in_use is the sum of usable
 *    sizes, allocations the live count); check == 0 after each phase;
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
		VT_CHECK_EQ((uintptr_t)p[i] % 4096, 0);
		size_t u = vitalloc_heap_usable_size(h, p[i]);
		VT_CHECK_CMP(u, >=, sizes[i]);
		VT_CHECK_EQ(u % 4096, 0);
		total += u;
		memset(p[i], i, sizes[i]);
	}
	for (size_t a = 256; a <= VT_MIB; a *= 4) {
		void *q = vitalloc_heap_memalign(h, a, 3000);
		VT_REQUIRE(q != NULL);
		VT_CHECK_EQ((uintptr_t)q % a, 0);
		vitalloc_heap_free(h, q);
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
	r = vitalloc_heap_realloc(h, p[6], 10);
	VT_CHECK(r == p[6]);
	VT_CHECK_EQ(vitalloc_heap_usable_size(h, r), 4096);
	VT_CHECK_EQ(r[0], 6);
	void *fresh = vitalloc_heap_realloc(h, NULL, 10);
	VT_REQUIRE(fresh != NULL);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);

	/* the main heap is independent */
	void *m = malloc(5000);
	VT_REQUIRE(m != NULL);
	for (int i = 0; i < 8; i++)
		VT_CHECK((char *)m + 5000 <= (char *)p[i] || (char *)p[i] + 4096 <= (char *)m);
	free(m);

	for (int i = 0; i < 4; i++)
		vitalloc_heap_free(h, p[i]);
	vitalloc_heap_free(h, NULL);
	vitalloc_heap_trim(h, 0);
	VT_CHECK_EQ(vitalloc_heap_check(h), 0);
	VT_CHECK_EQ(vitalloc_heap_destroy(h), 5); /* p[4..7] and fresh */
	VT_CHECK_EQ(vitalloc_heap_destroy(NULL), 0);
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
	test_errors();
	test_fixed_and_hook();
	vitalloc_stats_t after = vt_stats();
	/* Heap objects are blocks of the main heap, given back on destroy. */
	VT_CHECK_EQ(after.in_use, before.in_use);
	return vt_done("test_heaps");
}
