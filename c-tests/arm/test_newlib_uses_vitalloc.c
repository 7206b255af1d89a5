/*
 * test_newlib_uses_vitalloc -- on 32-bit ARM with newlib, linked like a
 * VitaSDK program (sim crt0, libvitalloc.a as a user library, then the
 * simulated sbrk.o archive, the simulated kernel and -lc): newlib's OWN
 * allocations -- stdio buffers and FILE structures, setvbuf, strdup,
 * strndup, dtoa's Bigints behind printf("%f"), open_memstream, asprintf,
 * vasprintf -- and the program's many mixed-size allocations all live in
 * vitalloc's memblocks.
 *
 * Proof, from the simulated kernel's side (sim_live_block): every pointer
 * obtained lies inside a live memblock whose name starts with "vitalloc";
 * there is never a "Newlib heap" block (the simulated sbrk.o and its 128 MiB
 * reservation are not linked) nor any block that is not vitalloc's; the
 * number of vitalloc memblocks equals vitalloc_stats().source_blocks.
 * Holding ~150 MiB in thousands of blocks of 1 B to 3 MiB takes only a few
 * dozen memblocks, and freeing it all gives them back (at most one spare
 * segment, one cached large block, the segment still holding stdio's
 * buffers, and metadata stay).
 *
 * The link map of this program is checked by check_link_map.cmake (no
 * newlib malloc object, no simulated sbrk.o).
 */
#define _GNU_SOURCE 1 /* asprintf, vasprintf, strndup, open_memstream */
#include <stdarg.h>
#include <sys/reent.h>

#include "vt_test.h"
#include "arm_sim.h"

/* Every check of the census: nothing but vitalloc's blocks, as many as
   vitalloc says it holds. */
static void check_census(const char *when)
{
	as_census_t c = as_census();
	vitalloc_stats_t s = vt_stats();
	if (c.newlib_heap || c.other || c.vitalloc != s.source_blocks) {
		VT_FAIL_AT("%s: %u \"Newlib heap\" and %u foreign memblocks (want 0), "
			   "%u vitalloc memblocks vs source_blocks %llu",
			   when, c.newlib_heap, c.other, c.vitalloc, VT_U(s.source_blocks));
		as_print_blocks();
	}
	vt_checks++;
	/* Large blocks held, plus at most one cached free one. */
	VT_CHECK_CMP(c.large, >=, s.large_blocks);
	VT_CHECK_CMP(c.large, <=, s.large_blocks + 1);
}

static void test_stdio(void)
{
	/* stdout's buffer: made by __smakebuf_r on the first printf. */
	printf("test_newlib_uses_vitalloc: stdout is %s-buffered\n",
	       (stdout->_flags & __SNBF) ? "un" : (stdout->_flags & __SLBF) ? "line" : "fully");
	fflush(stdout);
	if (!(stdout->_flags & __SNBF)) {
		AS_CHECK_VITALLOC(stdout->_bf._base, stdout->_bf._size, "stdout's buffer");
	}

	/* A semihosted file: its FILE comes from __sfmoreglue (_malloc_r),
	   its buffer from __smakebuf_r. */
	const char *path = "vitalloc_arm_newlib.tmp";
	vitalloc_stats_t s0 = vt_stats();
	FILE *f = fopen(path, "w+");
	VT_REQUIRE(f != NULL);
	for (int i = 0; i < 500; i++)
		fprintf(f, "line %d of the file, %s\n", i, "written through newlib's stdio");
	VT_CHECK(f->_bf._base != NULL);
	AS_CHECK_VITALLOC(f->_bf._base, f->_bf._size, "fopen'd file's buffer");
	AS_CHECK_VITALLOC(f, sizeof *f, "FILE from __sfmoreglue");
	VT_CHECK_EQ(vitalloc_usable_size(f->_bf._base) >= (size_t)f->_bf._size, 1);
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_CMP(s1.malloc_calls, >, s0.malloc_calls);
	rewind(f);
	char line[128];
	int n = 0, ok = 1;
	while (fgets(line, sizeof line, f)) {
		char want[128];
		snprintf(want, sizeof want, "line %d of the file, %s\n", n, "written through newlib's stdio");
		ok &= strcmp(line, want) == 0;
		n++;
	}
	VT_CHECK_EQ(n, 500);
	VT_CHECK(ok);

	/* setvbuf with a NULL buffer: newlib mallocs one of the given size. */
	FILE *g = fopen("vitalloc_arm_newlib2.tmp", "w");
	VT_REQUIRE(g != NULL);
	VT_CHECK_EQ(setvbuf(g, NULL, _IOFBF, 10000), 0);
	fputs("setvbuf'd stream\n", g);
	VT_CHECK(g->_bf._base != NULL);
	AS_CHECK_VITALLOC(g->_bf._base, 10000, "setvbuf(NULL, 10000) buffer");
	VT_CHECK_CMP(vitalloc_usable_size(g->_bf._base), >=, 10000);
	AS_CHECK_VITALLOC(g, sizeof *g, "second FILE");
	VT_CHECK_EQ(fclose(g), 0);
	VT_CHECK_EQ(fclose(f), 0);
	remove(path);
	remove("vitalloc_arm_newlib2.tmp");
	vitalloc_stats_t s2 = vt_stats();
	VT_CHECK_CMP(s2.free_calls, >, s1.free_calls); /* fclose freed the buffers */
	check_census("after stdio");
}

static void test_strings(void)
{
	vitalloc_stats_t s0 = vt_stats();
	char *d = strdup("strdup'd by newlib's _strdup_r through _malloc_r");
	VT_REQUIRE(d != NULL);
	AS_CHECK_VITALLOC(d, strlen(d) + 1, "strdup result");
	char *e = strndup("strndup: only the first part of this", 7);
	VT_REQUIRE(e != NULL);
	VT_CHECK(strcmp(e, "strndup") == 0);
	AS_CHECK_VITALLOC(e, 8, "strndup result");
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.allocations, s0.allocations + 2);
	VT_CHECK_CMP(vitalloc_usable_size(d), >=, strlen(d) + 1);
	free(d);
	free(e);

	/* asprintf / vasprintf: newlib grows the string with _realloc_r. */
	char *a = NULL;
	int n = asprintf(&a, "%s|%d|%x|%s", "asprintf", 12345, 0xbeefu, "end");
	VT_REQUIRE(n > 0 && a != NULL);
	VT_CHECK(strcmp(a, "asprintf|12345|beef|end") == 0);
	AS_CHECK_VITALLOC(a, (size_t)n + 1, "asprintf result");
	free(a);
	/* A long one: several reallocs inside newlib. */
	static char big[20000];
	memset(big, 'x', sizeof big - 1);
	n = asprintf(&a, "<%s>", big);
	VT_REQUIRE(n == (int)sizeof big + 1 && a != NULL);
	AS_CHECK_VITALLOC(a, (size_t)n + 1, "asprintf long result");
	VT_CHECK(a[0] == '<' && a[n - 1] == '>' && a[n] == 0 && a[n / 2] == 'x');
	free(a);

	/* sprintf into a caller's buffer allocates nothing after warm-up, but
	   the buffer may itself be a vitalloc block. */
	char *buf = malloc(100);
	VT_REQUIRE(buf != NULL);
	AS_CHECK_VITALLOC(buf, 100, "malloc(100)");
	VT_CHECK_EQ(sprintf(buf, "%d-%s", 42, "sprintf"), 10);
	VT_CHECK(strcmp(buf, "42-sprintf") == 0);
	free(buf);
	check_census("after strings");
}

static int vasprintf_wrap(char **out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}

static void test_float_printing(void)
{
	/* dtoa's Balloc gets its Bigints and the freelist with _calloc_r. */
	vitalloc_stats_t s0 = vt_stats();
	char buf[512];
	int n = snprintf(buf, sizeof buf, "%.3f %g %.17e %f", 3.25, 1e-300, 2.0 / 3.0, 1e300);
	VT_CHECK_CMP(n, >, 300);
	/* 1e300 with %f: 301 digits (exact binary value), then ".000000". */
	const char *want = "3.250 1e-300 6.66666666666666630e-01 1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160.000000";
	if (strcmp(buf, want) != 0)
		VT_FAIL_AT("snprintf of doubles gave \"%s\"", buf);
	vt_checks++;
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_CMP(s1.malloc_calls, >, s0.malloc_calls);
	struct _Bigint **fl = _REENT_MP_FREELIST(_REENT);
	VT_CHECK(fl != NULL);
	if (fl)
		AS_CHECK_VITALLOC(fl, sizeof *fl, "dtoa's Bigint freelist (_calloc_r)");
	for (int k = 0; fl && k < 16; k++)
		if (fl[k])
			AS_CHECK_VITALLOC(fl[k], 16, "a cached Bigint");
	printf("test_newlib_uses_vitalloc: printf of doubles: %.2f %g %e\n", 1e100, 0.1, 12345.678);
	fflush(stdout);

	char *a = NULL;
	n = vasprintf_wrap(&a, "%.1f/%s", 1.5, "vasprintf");
	VT_REQUIRE(n > 0 && a != NULL);
	VT_CHECK(strcmp(a, "1.5/vasprintf") == 0);
	AS_CHECK_VITALLOC(a, (size_t)n + 1, "vasprintf result");
	free(a);
	check_census("after float printing");
}

static void test_open_memstream(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	VT_REQUIRE(m != NULL);
	AS_CHECK_VITALLOC(m, sizeof *m, "open_memstream's FILE");
	for (int i = 0; i < 3000; i++)
		fprintf(m, "memstream line %04d\n", i); /* 20 bytes each */
	VT_CHECK_EQ(fflush(m), 0);
	VT_CHECK_EQ(len, 60000);
	AS_CHECK_VITALLOC(buf, len + 1, "open_memstream buffer (grown by _realloc_r)");
	VT_CHECK_EQ(fclose(m), 0);
	VT_REQUIRE(buf != NULL);
	VT_CHECK_EQ(len, 60000);
	VT_CHECK(strncmp(buf, "memstream line 0000\n", 20) == 0);
	VT_CHECK(strncmp(buf + 59980, "memstream line 2999\n", 20) == 0);
	VT_CHECK_EQ(buf[len], 0);
	AS_CHECK_VITALLOC(buf, len + 1, "open_memstream buffer after fclose");
	free(buf);
	check_census("after open_memstream");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_qsort(void)
{
	enum { N = 2000 };
	char **v = malloc(N * sizeof *v);
	VT_REQUIRE(v != NULL);
	AS_CHECK_VITALLOC(v, N * sizeof *v, "pointer array");
	unsigned x = 12345;
	for (int i = 0; i < N; i++) {
		char tmp[32];
		x = x * 1103515245u + 12345u;
		snprintf(tmp, sizeof tmp, "%08x-%d", x, i);
		v[i] = strdup(tmp);
		VT_REQUIRE(v[i] != NULL);
	}
	qsort(v, N, sizeof *v, cmp_str);
	int sorted = 1, inside = 1;
	for (int i = 0; i < N; i++) {
		if (i && strcmp(v[i - 1], v[i]) > 0)
			sorted = 0;
		inside &= as_in_vitalloc(v[i], strlen(v[i]) + 1);
	}
	VT_CHECK(sorted);
	VT_CHECK(inside);
	for (int i = 0; i < N; i++)
		free(v[i]);
	free(v);
	check_census("after qsort");
}

/* ------------------------------------------------ many mixed sizes ---- */

enum { MAXN = 12000 };
static unsigned char *ptrs[MAXN];
static size_t sizes[MAXN];
static unsigned seeds[MAXN];
static uint32_t rng = 0x9e3779b9u;

static unsigned next_rand(void)
{
	return vt_xorshift(&rng);
}

/* 1 B to 3 MiB: mostly small, a fair share of medium, a few large. */
static size_t pick_size(unsigned i)
{
	unsigned r = next_rand() % 1000;
	if (i % 600 == 599) /* ~1 in 600: large, 1 MiB to 3 MiB */
		return AS_MIB + next_rand() % (2 * AS_MIB + 1);
	if (r < 600)
		return 1 + next_rand() % 256;
	if (r < 800)
		return 257 + next_rand() % 3840;
	if (r < 960)
		return 4096 + next_rand() % (60 * 1024);
	return 64 * 1024 + next_rand() % (900 * 1024);
}

static void test_mixed_sizes(void)
{
	const size_t target = 150u * AS_MIB;
	as_census_t c0 = as_census();
	vitalloc_stats_t s0 = vt_stats();
	size_t total = 0, n = 0, big = 0, halfmeg = 0;
	int bad_place = 0, bad_align = 0;
	while (total < target && n < MAXN) {
		size_t sz = pick_size((unsigned)n);
		unsigned char *p = (n % 7 == 3) ? calloc(1, sz) : malloc(sz);
		if (!p) {
			VT_FAIL_AT("allocation %llu of %llu bytes failed (errno %d) with %llu MiB held",
				   VT_U(n), VT_U(sz), errno, VT_U(total >> 20));
			break;
		}
		if (!as_in_vitalloc(p, sz)) {
			if (++bad_place <= 5)
				AS_CHECK_VITALLOC(p, sz, "mixed-size allocation");
		}
		if (!vt_aligned(p, 8))
			bad_align++;
		if (n % 7 == 3 && !(p[0] == 0 && p[sz - 1] == 0 && p[sz / 2] == 0))
			VT_FAIL_AT("calloc(1, %llu) not zeroed", VT_U(sz));
		vt_fill_sparse(p, sz, (unsigned)n);
		ptrs[n] = p;
		sizes[n] = sz;
		seeds[n] = (unsigned)n;
		total += sz;
		big += sz >= AS_MIB;
		halfmeg += sz >= 512 * 1024;
		n++;
	}
	VT_CHECK_EQ(bad_place, 0);
	VT_CHECK_EQ(bad_align, 0);
	VT_CHECK_CMP(n, >=, 2000);
	VT_CHECK_CMP(total, >=, target);
	VT_HEAP_OK();

	as_census_t c1 = as_census();
	vitalloc_stats_t s1 = vt_stats();
	printf("test_newlib_uses_vitalloc: holding %llu allocations, %llu MiB requested "
	       "(%llu of >= 1 MiB); vitalloc reserved %llu MiB in %llu source blocks "
	       "(%llu segments, %llu large)\n",
	       VT_U(n), VT_U(total >> 20), VT_U(big), VT_U(s1.reserved >> 20),
	       VT_U(s1.source_blocks), VT_U(s1.segments), VT_U(s1.large_blocks));
	as_print_census("at the peak", c1);
	check_census("holding ~150 MiB");
	VT_CHECK_EQ(c1.newlib_heap, 0);
	/* Few memblocks: segments grow by 1/8 of the heap up to 8 MiB (about
	   50 for 150 MiB, the price of a newest segment that is never more
	   than ~11 % of the heap); large allocations (>= 1 MiB by default,
	   each its own block) are few here by construction. */
	VT_CHECK_CMP(c1.segment + c1.meta, <, 64);
	VT_CHECK_CMP(c1.total, <, 64 + halfmeg);
	VT_CHECK_CMP(c1.total, <=, 76);
	VT_CHECK_CMP(c1.large, <=, halfmeg);
	/* Heap efficiency: what vitalloc holds from the kernel vs requested. */
	VT_CHECK_CMP(s1.reserved, <=, total + total / 4 + 8 * AS_MIB);
	VT_CHECK_CMP(s1.malloc_calls, >=, s0.malloc_calls + n);
	VT_CHECK_CMP(c1.vitalloc, >, c0.vitalloc);

	/* Free in a shuffled order, verifying every block's contents. */
	for (size_t i = n; i > 1; i--) {
		size_t j = next_rand() % i;
		unsigned char *tp = ptrs[i - 1];
		size_t ts = sizes[i - 1];
		unsigned tseed = seeds[i - 1];
		ptrs[i - 1] = ptrs[j];
		sizes[i - 1] = sizes[j];
		seeds[i - 1] = seeds[j];
		ptrs[j] = tp;
		sizes[j] = ts;
		seeds[j] = tseed;
	}
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		if (!vt_verify_sparse(ptrs[i], sizes[i], seeds[i]) && ++bad <= 5)
			VT_FAIL_AT("allocation of %llu bytes at %p overwritten", VT_U(sizes[i]), (void *)ptrs[i]);
		free(ptrs[i]);
		if (i % 1000 == 999) {
			VT_HEAP_OK();
		}
	}
	VT_CHECK_EQ(bad, 0);
	VT_HEAP_OK();

	as_census_t c2 = as_census();
	vitalloc_stats_t s2 = vt_stats();
	as_print_census("after freeing everything", c2);
	as_print_stats("after freeing everything");
	check_census("after freeing");
	VT_CHECK_EQ(s2.allocations, s0.allocations);
	VT_CHECK_EQ(s2.large_blocks, 0);
	/* What a trim can still give back is only caches: trim, then compare. */
	vitalloc_trim(0);
	as_census_t c3 = as_census();
	as_print_census("after vitalloc_trim(0)", c3);
	as_print_stats("after vitalloc_trim(0)");
	check_census("after trim");
	/* After the trim only blocks holding live data (stdio's buffers, FILEs,
	   dtoa's cached Bigints: a few KiB) and metadata remain. */
	VT_CHECK_EQ(c3.large, 0);
	VT_CHECK_CMP(c3.vitalloc_bytes, <=, 1u * AS_MIB);
	/* Before it, freeing had already given back every emptied segment
	   except one spare, and every large block except one cached block of
	   at most the trim threshold (2 MiB): segments returned, at most one
	   spare + metadata. */
	VT_CHECK_CMP(c2.segment, <=, c3.segment + 1);
	VT_CHECK_CMP(c2.large, <=, 1);
	VT_CHECK_CMP(c2.meta, <=, c1.meta);
	VT_CHECK_CMP(c2.vitalloc_bytes, <=, c3.vitalloc_bytes + 8u * AS_MIB + 2u * AS_MIB);
	VT_HEAP_OK();
}

int main(void)
{
	vt_start("test_newlib_uses_vitalloc");
	check_census("at start");
	test_stdio();
	test_strings();
	test_float_printing();
	test_open_memstream();
	test_qsort();
	test_mixed_sizes();

	vitalloc_stats_t s = vt_stats();
	as_census_t c = as_census();
	VT_CHECK_CMP(s.malloc_calls, >, 0);
	VT_CHECK_EQ(c.newlib_heap, 0);
	VT_CHECK_EQ(c.vitalloc, s.source_blocks);
	return vt_done("test_newlib_uses_vitalloc");
}
