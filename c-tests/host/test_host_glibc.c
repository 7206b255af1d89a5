/*
 * test_host_glibc -- what only the glibc host build has:
 *
 *  - glibc's struct mallinfo has ten int fields (<malloc.h>): vitalloc's
 *    mallinfo must return that layout (else the caller's stack is
 *    overwritten) with the same figures as vitalloc_mallinfo, clamped to
 *    INT_MAX rather than wrapped when they do not fit (mallinfo2: see
 *    test_glibc_mallinfo2);
 *  - the text malloc_stats, mstats, _malloc_stats_r and _mstats_r print on
 *    stderr (captured through a temporary file): newlib's three lines with
 *    the current figures, then vitalloc's line; mstats' title line.
 */
#include <fcntl.h>
#include <unistd.h>

#include "vt_test.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void test_mallinfo_int_layout(void)
{
	VT_CHECK_EQ(sizeof(struct mallinfo), 10 * sizeof(int));
	void *p = malloc(123456);
	VT_REQUIRE(p != NULL);
	/* Canaries around the returned struct: a size_t-layout return would
	   write 80 bytes into this 40-byte slot. */
	struct {
		int before[8];
		struct mallinfo mi;
		int after[8];
	} frame;
	for (int i = 0; i < 8; i++)
		frame.before[i] = frame.after[i] = 0x5a5a5a5a;
	frame.mi = mallinfo();
	vitalloc_mallinfo_t v = vitalloc_mallinfo();
	for (int i = 0; i < 8; i++) {
		VT_CHECK_EQ(frame.before[i], 0x5a5a5a5a);
		VT_CHECK_EQ(frame.after[i], 0x5a5a5a5a);
	}
	VT_CHECK_EQ((size_t)frame.mi.uordblks, v.uordblks);
	VT_CHECK_EQ((size_t)frame.mi.arena, v.arena);
	VT_CHECK_EQ((size_t)frame.mi.hblks, v.hblks);
	VT_CHECK_EQ((size_t)frame.mi.hblkhd, v.hblkhd);
	VT_CHECK_EQ((size_t)frame.mi.keepcost, v.keepcost);
	VT_CHECK_EQ((size_t)frame.mi.usmblks, v.usmblks);
	VT_CHECK_CMP((size_t)frame.mi.uordblks, >=, 123456);
	free(p);

	/* Figures beyond INT_MAX are clamped (needs a 3 GiB reservation:
	   skipped when the system refuses it). */
	void *huge = malloc((size_t)3 << 30);
	if (huge) {
		struct mallinfo mi = mallinfo();
		vitalloc_mallinfo_t hv = vitalloc_mallinfo();
		VT_CHECK_CMP(hv.hblkhd, >, (size_t)INT_MAX);
		VT_CHECK_EQ(mi.hblkhd, INT_MAX);
		VT_CHECK_EQ(mi.uordblks, INT_MAX);
		VT_CHECK_CMP(mi.arena, >=, 0);
		free(huge);
	} else {
		printf("test_host_glibc: 3 GiB reservation refused, INT_MAX clamping not tested\n");
	}
	VT_HEAP_OK();
}

/* Runs fn with stderr redirected to a temporary file; returns its text. */
static char *capture_stderr(void (*fn)(void))
{
	static char buf[8192];
	char path[] = "/tmp/vitalloc-stderr-XXXXXX";
	int fd = mkstemp(path);
	VT_REQUIRE(fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	VT_REQUIRE(saved >= 0);
	VT_REQUIRE(dup2(fd, 2) == 2);
	fn();
	fflush(stderr);
	VT_REQUIRE(dup2(saved, 2) == 2);
	close(saved);
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static struct _reent reent;
static void call_malloc_stats(void) { malloc_stats(); }
static void call_malloc_stats_r(void) { _malloc_stats_r(&reent); }
static void call_mstats(void) { mstats("hello"); }
static void call_mstats_r(void) { _mstats_r(&reent, "world"); }

static unsigned long long field(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	if (!p)
		return ~0ull;
	p += strlen(label);
	while (*p == ' ' || *p == '=')
		p++;
	return strtoull(p, NULL, 10);
}

static void check_stats_text(const char *text, const char *what)
{
	vitalloc_stats_t s = vt_stats();
	printf("--- %s printed:\n%s---\n", what, text);
	VT_CHECK(strstr(text, "max system bytes") != NULL);
	VT_CHECK(strstr(text, "system bytes") != NULL);
	VT_CHECK(strstr(text, "in use bytes") != NULL);
	VT_CHECK(strstr(text, "vitalloc:") != NULL);
	VT_CHECK_EQ(field(text, "max system bytes"), s.reserved_peak);
	VT_CHECK_EQ(field(text, "\nsystem bytes"), s.reserved);
	VT_CHECK_EQ(field(text, "in use bytes"), s.in_use);
	/* vitalloc's own lines */
	VT_CHECK_EQ(field(text, "vitalloc: in use"), s.in_use);
	VT_CHECK_EQ(field(text, "source blocks:") , s.segments);
	VT_CHECK(strstr(text, " large blocks; ") != NULL);
	VT_CHECK(strstr(text, " thread heaps; limit ") != NULL);
	VT_CHECK(strstr(text, " malloc, ") != NULL);
}

static void test_stats_text(void)
{
	void *p = malloc(777777);
	VT_REQUIRE(p != NULL);
	char *t = capture_stderr(call_malloc_stats);
	check_stats_text(t, "malloc_stats");
	t = capture_stderr(call_malloc_stats_r);
	check_stats_text(t, "_malloc_stats_r");
	t = capture_stderr(call_mstats);
	check_stats_text(t, "mstats");
	VT_CHECK(strstr(t, "Memory allocation statistics hello") != NULL);
	t = capture_stderr(call_mstats_r);
	check_stats_text(t, "_mstats_r");
	VT_CHECK(strstr(t, "Memory allocation statistics world") != NULL);
	free(p);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_host_glibc");
	test_mallinfo_int_layout();
	test_stats_text();
	return vt_done("test_host_glibc");
}
