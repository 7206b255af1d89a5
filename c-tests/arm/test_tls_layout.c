/* The thread slot under both TLS layouts of the simulated kernel (the ARM
 * suite runs twice, see tools/test-arm.sh).
 *
 * Below TPIDRURO (the layout the fast path expects): nothing is printed,
 * and each thread's heap pointer is in the word the fast path reads,
 * TPIDRURO - 0x800 + 4 * 0xE7, which is sceKernelGetTLSAddr(0xE7).
 *
 * Above TPIDRURO (slots elsewhere, non-zero garbage below): vitalloc says
 * once, through sceClibPrintf and before main, that it finds heaps through
 * sceKernelGetTLSAddr; every thread still gets a heap of its own in its
 * official slot, the garbage word the fast path would have read is never
 * written, blocks keep their contents across threads, and no second
 * message follows. */
#include "vt_test.h"
#include "arm_sim.h"

#define KEY 0xE7
#define NTHREADS 4
#define NBLOCKS 200

static uint32_t read_tpidruro(void)
{
	uint32_t v;
	__asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(v));
	return v;
}

/* The word a fast path assuming the layout below TPIDRURO reads. */
static volatile uint32_t *fast_word(void)
{
	return (volatile uint32_t *)(uintptr_t)(read_tpidruro() - 0x800 + 4 * KEY);
}

static void *official(void)
{
	return *(void **)sceKernelGetTLSAddr(KEY);
}

static const char msg[] = "vitalloc: sceKernelGetTLSAddr does not match the TLS layout";

int main(void)
{
	/* Before anything prints: what _init_vita_heap said. */
	unsigned said = sim_clib_printf_count();
	int above = sim_tls_slot_offset() != -SIM_TLS_AREA_SIZE;
	char first[SIM_CLIB_PRINTF_MAX];
	strncpy(first, sim_clib_printf_last(), sizeof first - 1);
	first[sizeof first - 1] = 0;
	vt_start("test_tls_layout");
	printf("  layout: slots %s TPIDRURO\n", above ? "above" : "below");
	if (above) {
		VT_CHECK_EQ(said, 1u);
		VT_CHECK(strncmp(first, msg, sizeof msg - 1) == 0);
	} else {
		VT_CHECK_EQ(said, 0u);
	}

	static void *blocks[NTHREADS][NBLOCKS];
	static SceUID tids[NTHREADS];
	static void *heaps[NTHREADS];
	static uint32_t garbage[NTHREADS];
	vitalloc_stats_t s0 = vt_stats();
	for (int t = 0; t < NTHREADS; t++) {
		tids[t] = sim_thread_create();
		VT_REQUIRE(tids[t] > 0 && sim_thread_switch(tids[t]) == 0);
		garbage[t] = *fast_word();
		if (above)
			VT_CHECK(garbage[t] != 0);
		VT_CHECK(official() == NULL);
		for (int i = 0; i < NBLOCKS; i++) {
			size_t n = 8 + (size_t)((i * 37 + t * 11) % 900);
			blocks[t][i] = malloc(n);
			VT_REQUIRE(blocks[t][i] != NULL);
			vt_fill(blocks[t][i], n, (unsigned)(t * NBLOCKS + i));
		}
		heaps[t] = official();
		VT_CHECK(heaps[t] != NULL);
		if (above)
			VT_CHECK_EQ(*fast_word(), garbage[t]); /* never written */
		else
			VT_CHECK(*fast_word() == (uint32_t)(uintptr_t)heaps[t]);
	}
	VT_CHECK_EQ(vt_stats().thread_heaps, s0.thread_heaps + NTHREADS);

	/* Each thread frees half of its own blocks and half of the next
	   thread's, and allocates again: same heap every time. */
	for (int t = 0; t < NTHREADS; t++) {
		VT_REQUIRE(sim_thread_switch(tids[t]) == 0);
		int u = (t + 1) % NTHREADS;
		for (int i = 0; i < NBLOCKS; i += 2) {
			size_t n = 8 + (size_t)((i * 37 + u * 11) % 900);
			VT_CHECK(vt_verify(blocks[u][i], n, (unsigned)(u * NBLOCKS + i)));
			free(blocks[u][i]);
			blocks[u][i] = NULL;
		}
		void *p = malloc(24);
		VT_REQUIRE(p != NULL);
		free(p);
		VT_CHECK(official() == heaps[t]);
		if (above)
			VT_CHECK_EQ(*fast_word(), garbage[t]);
	}
	VT_CHECK_EQ(vt_stats().thread_heaps, s0.thread_heaps + NTHREADS);
	VT_HEAP_OK();

	/* The rest, checked and freed from the main thread; threads end. */
	VT_REQUIRE(sim_thread_switch(SIM_MAIN_THREAD_ID) == 0);
	for (int t = 0; t < NTHREADS; t++) {
		for (int i = 0; i < NBLOCKS; i++) {
			if (!blocks[t][i])
				continue;
			size_t n = 8 + (size_t)((i * 37 + t * 11) % 900);
			VT_CHECK(vt_verify(blocks[t][i], n, (unsigned)(t * NBLOCKS + i)));
			free(blocks[t][i]);
		}
		VT_REQUIRE(sim_thread_exit(tids[t]) == 0);
	}
	malloc_trim(0);
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.thread_heaps, s0.thread_heaps);
	VT_CHECK_EQ(s1.allocations, s0.allocations);
	VT_CHECK_EQ(sim_clib_printf_count(), said); /* said once, if at all */
	return vt_done("test_tls_layout");
}
