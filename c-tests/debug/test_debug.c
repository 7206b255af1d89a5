/*
 * test_debug -- the debug build (vitalloc::debug) on the checks that do
 * not end the program: fresh memory holds 0xCD; usable size is what was
 * asked; vitalloc_check finds a canary overwritten after a block and a
 * write into a freed block (and passes again once they are repaired);
 * vitalloc_dump lists a leaked block with its exact address and size and a
 * caller inside the function that called malloc; per-class statistics
 * count allocations, frees and live bytes; memalign keeps its alignment;
 * realloc keeps the contents.
 */
#include "vt_test.h"

#define FRESH 0xCD
#define POISON 0xDD
#define CANARY 0xFD

static void *volatile sink;

/* Allocates and keeps using the result, so the call is not a tail call:
   the recorded caller is inside this function. */
static __attribute__((noinline)) void *leak_here(size_t n)
{
	void *p = malloc(n);
	sink = p;
	return vt_ptr(p);
}

/* vitalloc_dump's lines, collected. */
static char dump_text[16384];
static size_t dump_len;
static int dump_lines;

static void collect(const char *line, void *user)
{
	size_t n = strlen(line);
	VT_CHECK(user == (void *)dump_text);
	VT_CHECK(strchr(line, '\n') == NULL);
	if (dump_len + n + 2 < sizeof dump_text) {
		memcpy(dump_text + dump_len, line, n);
		dump_text[dump_len + n] = '\n';
		dump_len += n + 1;
		dump_text[dump_len] = 0;
	}
	dump_lines++;
}

static void dump(void)
{
	dump_len = 0;
	dump_lines = 0;
	dump_text[0] = 0;
	vitalloc_dump(collect, dump_text);
}

static int all_bytes(const void *p, size_t n, unsigned char b)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != b)
			return 0;
	return 1;
}

static void test_fresh_and_size(void)
{
	for (size_t n = 0; n < 5000; n = n * 2 + 3) {
		unsigned char *p = malloc(n);
		VT_REQUIRE(p != NULL);
		VT_CHECK(all_bytes(p, n, FRESH));
		VT_CHECK_EQ(malloc_usable_size(p), n);
		VT_CHECK_EQ(vitalloc_usable_size(p), n);
		free(p);
	}
	unsigned char *z = calloc(100, 3);
	VT_REQUIRE(z != NULL);
	VT_CHECK(vt_all_zero(z, 300));
	free(z);
}

static void test_check_finds_overrun_and_write_after_free(void)
{
	unsigned char *p = malloc(10);
	VT_REQUIRE(p != NULL);
	VT_HEAP_OK();
	unsigned char *w = vt_ptr(p);
	w[10] = 'x'; /* into the canary */
	VT_CHECK_EQ(vitalloc_check(), 1);
	w[10] = CANARY; /* repaired */
	VT_CHECK_EQ(vitalloc_check(), 0);
	w[13] = 0;
	VT_CHECK_EQ(vitalloc_check(), 1);
	w[13] = CANARY;
	VT_HEAP_OK();

	free(p);
	VT_CHECK(all_bytes(vt_ptr(p), 10, POISON)); /* poisoned, in the quarantine */
	w[4] = 0; /* a write after free */
	VT_CHECK_EQ(vitalloc_check(), 1);
	w[4] = POISON;
	VT_HEAP_OK();
}

static void test_dump_lists_leak(void)
{
	unsigned char *leak = leak_here(123);
	VT_REQUIRE(leak != NULL);
	dump();
	printf("%s", dump_text);
	char want[128];
	snprintf(want, sizeof want, "vitalloc: block 0x%llx of 123 bytes, allocated by 0x",
		 VT_U((uintptr_t)leak));
	const char *at = strstr(dump_text, want);
	VT_REQUIRE(at != NULL);
	unsigned long long caller = strtoull(at + strlen(want), NULL, 16);
	unsigned long long fn = VT_U((uintptr_t)leak_here);
	printf("test_debug: leak_here at 0x%llx, caller 0x%llx (+%lld)\n", fn, caller,
	       (long long)(caller - fn));
	VT_CHECK_CMP(caller, >, fn);
	VT_CHECK_CMP(caller - fn, <, 256);
	VT_CHECK(strstr(dump_text, "live blocks") != NULL);
	VT_CHECK(strncmp(dump_text, "vitalloc: ", 10) == 0);
	/* Freed: no longer listed, and the count drops by one. */
	size_t before = vitalloc_dump(NULL, NULL);
	free(leak);
	VT_CHECK_EQ(vitalloc_dump(NULL, NULL), before - 1);
	dump();
	VT_CHECK(strstr(dump_text, want) == NULL);
}

static void test_class_stats(void)
{
	size_t n = vitalloc_class_stats(NULL, 0);
	VT_REQUIRE(n > 10 && n < 100);
	vitalloc_class_stats_t before[100], after[100];
	VT_CHECK_EQ(vitalloc_class_stats(before, n), n);
	size_t c = 0; /* the class of a 48-byte request: the first whose size holds it */
	while (c < n && before[c].size < 48)
		c++;
	VT_REQUIRE(c < n - 2);
	void *p[5];
	for (int i = 0; i < 5; i++)
		p[i] = malloc(48);
	vitalloc_class_stats(after, n);
	VT_CHECK_EQ(after[c].allocations - before[c].allocations, 5);
	VT_CHECK_EQ(after[c].live - before[c].live, 5);
	VT_CHECK_EQ(after[c].live_bytes - before[c].live_bytes, 240);
	VT_CHECK_CMP(after[c].peak_live, >=, after[c].live);
	for (int i = 0; i < 5; i++)
		free(p[i]);
	vitalloc_class_stats(after, n);
	VT_CHECK_EQ(after[c].frees - before[c].frees, 5);
	VT_CHECK_EQ(after[c].live, before[c].live);
	VT_CHECK_EQ(after[n - 1].size, SIZE_MAX); /* large */
	/* The dump shows the class. */
	dump();
	char want[64];
	snprintf(want, sizeof want, "vitalloc: class %llu: ", VT_U(before[c].size));
	VT_CHECK(strstr(dump_text, want) != NULL);
}

static void test_align_and_realloc(void)
{
	for (size_t a = 8; a <= 8192; a *= 2) {
		void *p = memalign(a, 100);
		VT_REQUIRE(p != NULL);
		VT_CHECK(vt_aligned(p, a));
		VT_CHECK_EQ(malloc_usable_size(p), 100);
		free(p);
	}
	/* A large block (its own memblock) aligned beyond a page: its header
	   lies past the pages the heap's page map marks. */
	unsigned char *big = memalign(65536, 3 * VT_MIB);
	VT_REQUIRE(big != NULL);
	VT_CHECK(vt_aligned(big, 65536));
	VT_CHECK_EQ(malloc_usable_size(big), 3 * VT_MIB);
	big[3 * VT_MIB - 1] = 1;
	VT_HEAP_OK();
	free(big);
	void *q = NULL;
	VT_CHECK_EQ(posix_memalign(&q, 64, 10), 0);
	VT_CHECK(vt_aligned(q, 64));
	free(q);
	unsigned char *r = malloc(20);
	vt_fill(r, 20, 7);
	unsigned char *r2 = realloc(r, 5000);
	VT_REQUIRE(r2 != NULL);
	VT_CHECK(vt_verify(r2, 20, 7));
	VT_CHECK(all_bytes(r2 + 20, 4980, FRESH));
	unsigned char *r3 = realloc(r2, 8);
	VT_CHECK(vt_verify(r3, 8, 7));
	VT_CHECK_EQ(malloc_usable_size(r3), 8);
	free(r3);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_debug");
	test_fresh_and_size();
	test_check_finds_overrun_and_write_after_free();
	test_dump_lists_leak();
	test_class_stats();
	test_align_and_realloc();
	/* malloc_trim hands the quarantine back (checked) first. */
	malloc_trim(0);
	dump();
	VT_CHECK(strstr(dump_text, "; quarantine 0 blocks, 0 bytes\n") != NULL);
	return vt_done("test_debug");
}
