/*
 * sample_test.c -- runs the portable logic of the sample homebrew
 * (vita-sample/src/sample_logic.c, sample_cpp.cpp, textscreen.c) as a test,
 * on the host and on 32-bit ARM under qemu with the simulated Vita kernel
 * (SAMPLE_TEST_VITA_SIM). It plays the part of main_vita.c: the output goes
 * to stdout and to a textscreen in memory (exercising the sample's console,
 * scrolling included), the "newlib-sized block" of the second run comes
 * from mmap (host) or the simulated kernel (ARM).
 *
 * Asserts: every check of the sample passed (churn contents verified, C and
 * C++ parts), all allocations reached vitalloc (vitalloc_stats), and
 * vitalloc_check() == 0; on ARM also, from the simulated kernel's counters:
 * no 128 MiB "Newlib heap" block at start-up, only a few memblocks while
 * the churn ran, exactly the sample's own 128 MiB block during the second
 * run, and none left at the end. Prints "sample_test: ok" or "... FAILED".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sample_logic.h"
#include "textscreen.h"

#ifdef SAMPLE_TEST_VITA_SIM
#include "sim_kernel.h"
#else
#include <sys/mman.h>
#endif

#define MiB ((size_t)1024 * 1024)
/* Half the Vita's 960x544, so that at scale 2 (40 x 17 cells) the
   sample's lines wrap and the screen scrolls. */
#define SCREEN_W 480
#define SCREEN_H 272

typedef struct test_ctx {
	textscreen_t screen;
	unsigned lines;
	int failures; /* the driver's own checks */
	size_t reserved_bytes;
#ifdef SAMPLE_TEST_VITA_SIM
	SceUID reserved_uid;
#else
	void *reserved;
#endif
} test_ctx_t;

static void fail(test_ctx_t *t, const char *what)
{
	t->failures++;
	printf("sample_test: check failed: %s\n", what);
}

#define CHECK(t, cond)                                                                                                 \
	do {                                                                                                           \
		if (!(cond))                                                                                           \
			fail((t), #cond);                                                                              \
	} while (0)

static void on_print(void *ctx, const char *line)
{
	test_ctx_t *t = ctx;
	printf("%s\n", line);
	if (strlen(line) > 80) /* the Vita's screen: 80 columns at scale 2 */
		fail(t, "a line is longer than 80 characters");
	textscreen_puts(&t->screen, line);
	textscreen_putc(&t->screen, '\n');
	t->lines++;
}

static uint64_t on_now_us(void *ctx)
{
	(void)ctx;
#ifdef SAMPLE_TEST_VITA_SIM
	/* newlib + rdimon: clock() is what semihosting gives (qemu's wall
	   time, meaningless for an allocator: DESIGN.md section 6). */
	return (uint64_t)clock() * (1000000u / CLOCKS_PER_SEC);
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
#endif
}

#ifdef SAMPLE_TEST_VITA_SIM
static long long on_free_memory(void *ctx)
{
	SceKernelFreeMemorySizeInfo info;
	(void)ctx;
	memset(&info, 0, sizeof info);
	info.size = sizeof info;
	if (sceKernelGetFreeMemorySize(&info) < 0)
		return -1;
	return info.size_user;
}

static int on_reserve(void *ctx, size_t bytes)
{
	test_ctx_t *t = ctx;
	t->reserved_uid = sceKernelAllocMemBlock("sample: newlib-sized block", SIM_MEMBLOCK_TYPE_USER_RW, bytes, NULL);
	t->reserved_bytes = bytes;
	return t->reserved_uid < 0 ? -1 : 0;
}

static void on_release(void *ctx)
{
	test_ctx_t *t = ctx;
	sceKernelFreeMemBlock(t->reserved_uid);
	t->reserved_uid = -1;
}

/* Live simulated memblocks of at least `bytes`; *named: how many are
   called `name`. */
static unsigned big_blocks(size_t bytes, const char *name, unsigned *named)
{
	sim_block_t b;
	unsigned i, n = 0;
	*named = 0;
	for (i = 0; sim_live_block(i, &b); i++) {
		if (b.size >= bytes)
			n++;
		if (strcmp(b.name, name) == 0)
			(*named)++;
	}
	return n;
}

static void on_phase(void *ctx, int phase)
{
	test_ctx_t *t = ctx;
	sim_counters_t c;
	unsigned named, big;
	sim_get_counters(&c);
	printf("sample_test: phase %d: %u memblocks live (peak %u), %llu MiB live (peak %llu MiB)\n", phase,
	       c.live_blocks, c.peak_blocks, c.live_bytes / MiB, c.peak_bytes / MiB);
	switch (phase) {
	case SAMPLE_PHASE_CHURN:
		/* vitalloc alone: a few memblocks, never a 128 MiB one */
		CHECK(t, c.peak_blocks <= 48);
		CHECK(t, c.peak_bytes < 128 * MiB);
		break;
	case SAMPLE_PHASE_GROWTH:
		CHECK(t, c.live_bytes < 16 * MiB); /* the grown memory went back */
		sim_reset_peaks();
		break;
	case SAMPLE_PHASE_RESERVED:
		big = big_blocks(128 * MiB, "sample: newlib-sized block", &named);
		CHECK(t, big == 1 && named == 1);
		CHECK(t, c.peak_blocks <= 48);
		break;
	case SAMPLE_PHASE_DONE:
		big = big_blocks(128 * MiB, "Newlib heap", &named);
		CHECK(t, big == 0 && named == 0);
		CHECK(t, c.live_blocks <= 16);
		break;
	default:
		break;
	}
}
#else
static int on_reserve(void *ctx, size_t bytes)
{
	test_ctx_t *t = ctx;
	/* MAP_POPULATE: committed at once, as a Vita memblock is */
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	t->reserved = p;
	t->reserved_bytes = bytes;
	return 0;
}

static void on_release(void *ctx)
{
	test_ctx_t *t = ctx;
	munmap(t->reserved, t->reserved_bytes);
	t->reserved = NULL;
}
#endif

int main(int argc, char **argv)
{
	static test_ctx_t t;
	sample_platform_t pf;
	sample_config_t cfg;
	sample_report_t rep;
	uint32_t *pixels;
	size_t i, drawn = 0;

#ifdef SAMPLE_TEST_VITA_SIM
	{
		/* Before anything allocates: VitaSDK's start-up heap is not there. */
		unsigned named, big = big_blocks(128 * MiB, "Newlib heap", &named);
		CHECK(&t, big == 0 && named == 0);
	}
	t.reserved_uid = -1;
#endif

	/* The screen buffer, from vitalloc too. */
	pixels = malloc((size_t)SCREEN_W * SCREEN_H * sizeof *pixels);
	if (!pixels) {
		printf("sample_test: FAILED (no screen buffer)\n");
		return 1;
	}
	textscreen_init(&t.screen, pixels, SCREEN_W, SCREEN_H, SCREEN_W, 2);

	memset(&pf, 0, sizeof pf);
	pf.ctx = &t;
	pf.print = on_print;
	pf.now_us = on_now_us;
	pf.reserve = on_reserve;
	pf.release = on_release;
#ifdef SAMPLE_TEST_VITA_SIM
	pf.free_memory = on_free_memory;
	pf.phase = on_phase;
#endif

	/* The VPK's configuration, scaled down for qemu unless --full. */
	sample_config_default(&cfg);
	if (!(argc > 1 && strcmp(argv[1], "--full") == 0)) {
		cfg.churn_slots = 1024;
		cfg.churn_ops = 60000;
		cfg.churn_large_live = 2;
		cfg.speed_rounds = 16;
		cfg.speed_batch = 2048;
		cfg.growth_bytes = 24 * MiB;
	}
	CHECK(&t, cfg.newlib_heap_bytes == 128 * MiB);

	sample_run(&pf, &cfg, &rep);

	/* What the sample found. */
	CHECK(&t, rep.failures == 0);
	CHECK(&t, rep.checks >= 40);
	CHECK(&t, rep.vitalloc_is_heap);
	CHECK(&t, rep.at_end.malloc_calls > 0);
	CHECK(&t, rep.at_end.malloc_calls > rep.at_start.malloc_calls + 100000);
	CHECK(&t, rep.cpp_allocator_calls > 10000);
	for (i = 0; i < 2; i++) {
		CHECK(&t, rep.churn[i].ops == cfg.churn_ops);
		CHECK(&t, rep.churn[i].corrupt == 0);
		CHECK(&t, rep.churn[i].failed == 0);
		CHECK(&t, rep.churn[i].frees == rep.churn[i].mallocs + rep.churn[i].callocs + rep.churn[i].aligned);
		CHECK(&t, rep.churn[i].bytes_verified > 0);
		CHECK(&t, rep.speed[i].ops == 2ull * cfg.speed_rounds * cfg.speed_batch);
	}
	/* Same seed, same workload, same allocator: same figures. */
	CHECK(&t, rep.churn[0].bytes_allocated == rep.churn[1].bytes_allocated);
	CHECK(&t, rep.churn[0].reallocs == rep.churn[1].reallocs);
	CHECK(&t, rep.churn[0].peak_live_bytes < 128 * MiB);
	CHECK(&t, rep.churn[0].peak_reserved < 128 * MiB);
	CHECK(&t, rep.growth_reserved_peak >= cfg.growth_bytes);
	CHECK(&t, rep.growth_reserved_after < rep.growth_reserved_peak / 4);
	CHECK(&t, rep.second_run == 1);
#ifdef SAMPLE_TEST_VITA_SIM
	/* The 128 MiB block showed in the free-memory figure. */
	CHECK(&t, rep.growth_free_before >= 0 && rep.reserved_free_memory >= 0);
	CHECK(&t, rep.growth_free_after - rep.reserved_free_memory >= (long long)(120 * MiB));
	CHECK(&t, rep.churn[0].free_memory_low - rep.churn[1].free_memory_low >= (long long)(100 * MiB));
#endif
	CHECK(&t, vitalloc_check() == 0);

	/* The console drew something and stayed on screen. */
	for (i = 0; i < (size_t)SCREEN_W * SCREEN_H; i++)
		drawn += pixels[i] != t.screen.bg;
	CHECK(&t, drawn > 5000);
	CHECK(&t, t.lines > t.screen.rows); /* it scrolled */
	CHECK(&t, t.screen.x <= t.screen.cols && t.screen.y < t.screen.rows);
	free(pixels);

	if (t.failures || rep.failures) {
		printf("sample_test: FAILED (%d driver checks, %d sample checks)\n", t.failures, rep.failures);
		return 1;
	}
	printf("sample_test: ok (%d sample checks, %u lines)\n", rep.checks, t.lines);
	return 0;
}
