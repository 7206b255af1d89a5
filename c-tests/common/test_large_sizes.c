/*
 * test_large_sizes -- large blocks (a source block each: 1 MiB and more by
 * default) at every size around page boundaries, through malloc,
 * realloc(NULL) and calloc: the usable size must cover the request, and
 * its last bytes must be writable.
 *
 * The layout in front of a large block's user memory (a header, then the
 * block header, then alignment) must be counted in full when the source
 * block is sized: sizes a few bytes below a page multiple are where a
 * short count shows. Only the usable size is written here, so a short
 * block is reported rather than corrupting what follows -- but calloc
 * itself clears the whole request, so with a short block it writes past
 * the block (and may crash this test).
 */
#include "vt_test.h"

static const char *const fname[] = {"malloc", "realloc(NULL)", "memalign(64)",
				     "calloc"};

static unsigned char *alloc(int f, size_t n)
{
	switch (f) {
	case 0: return malloc(n);
	case 1: return realloc(NULL, n);
	case 2: return memalign(64, n);
	default: return calloc(n, 1);
	}
}

/* Every size from 128 bytes below to 16 above a page multiple, for three
   page counts (1 MiB, 2.5 MiB, 4 MiB). */
static void test_large_page_boundaries(int f)
{
	for (size_t pages = 256; pages <= 1024; pages += 384)
		for (size_t d = 0; d < 144; d++) {
			size_t n = pages * VT_PAGE - 128 + d;
			unsigned char *p = alloc(f, n);
			VT_REQUIRE(p != NULL);
			size_t us = malloc_usable_size(p);
			if (us < n)
				VT_FAIL_AT("%s(%llu) (%llu pages - %llu bytes): usable size %llu "
					   "is %llu bytes short of the request",
					   fname[f], VT_U(n), VT_U(pages), VT_U(pages * VT_PAGE - n),
					   VT_U(us), VT_U(n - us));
			vt_checks++;
			if (f == 3 && !vt_all_zero(p, us < n ? us : n))
				VT_FAIL_AT("calloc(%llu) is not zeroed", VT_U(n));
			/* The tail of the usable size is writable. */
			size_t tail = us < 256 ? us : 256;
			vt_fill(p + us - tail, tail, (unsigned)d);
			VT_CHECK(vt_verify(p + us - tail, tail, (unsigned)d));
			free(p);
		}
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_large_sizes");
	/* calloc last: it clears the whole request itself. */
	for (int f = 0; f < 4; f++)
		test_large_page_boundaries(f);
	return vt_done("test_large_sizes");
}
