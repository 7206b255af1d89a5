/*
 * test_glibc_mallinfo2 -- glibc's mallinfo2 (glibc >= 2.33: ten size_t
 * fields) must be vitalloc's when vitalloc replaces the allocator, through
 * the static library as through the preloaded .so (test_preload_so): the
 * same figures as vitalloc_mallinfo. glibc's own mallinfo2 would report
 * glibc's arena, which nothing uses (uordblks 0).
 */
#include "vt_test.h"

static void test_mallinfo2(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	VT_CHECK_EQ(sizeof(struct mallinfo2), 10 * sizeof(size_t));
	void *p = malloc(200000);
	VT_REQUIRE(p != NULL);
	struct mallinfo2 m = mallinfo2();
	vitalloc_mallinfo_t v = vitalloc_mallinfo();
	if (memcmp(&m, &v, sizeof m) != 0)
		VT_FAIL_AT("mallinfo2() is not vitalloc's: uordblks %zu arena %zu "
			   "(vitalloc_mallinfo: uordblks %zu arena %zu)",
			   m.uordblks, m.arena, v.uordblks, v.arena);
	vt_checks++;
	VT_CHECK_CMP(m.uordblks, >=, 200000);
	free(p);
	struct mallinfo2 m2 = mallinfo2();
	VT_CHECK_CMP(m2.uordblks, <, m.uordblks);
	VT_HEAP_OK();
#else
	printf("test_host_glibc: glibc without mallinfo2, skipped\n");
#endif
}

int main(void)
{
	vt_start("test_glibc_mallinfo2");
	test_mallinfo2();
	return vt_done("test_glibc_mallinfo2");
}
