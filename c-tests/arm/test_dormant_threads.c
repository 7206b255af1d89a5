/* Threads that exited but were not deleted. On the Vita a thread that
 * returned (or called sceKernelExitThread) stays queryable until
 * sceKernelDeleteThread: sceKernelGetThreadInfo succeeds with status
 * SCE_THREAD_DORMANT (16), or SCE_THREAD_DELETED (32) when the thread
 * manager killed it, and its TLS slots are still readable. Such a thread's
 * heap must be reclaimed like a deleted thread's: its spans taken back
 * (empty ones freed, the rest abandoned to whoever frees their objects)
 * while the heap of a thread that still runs is left alone.
 *
 * The leak this catches: were a dormant thread counted alive, the objects
 * other threads free from its spans would sit on its remote stack forever
 * and its spans would never be freed; the span count (vitalloc_stats
 * slabs) would stay above what the live threads hold. */
#include "vt_test.h"
#include "arm_sim.h"

#define KEY 0xE7
#define NSMALL 300
#define NMED 40
#define NALL (NSMALL + NMED)

static void **slot_of(SceUID t)
{
	return (void **)sceKernelGetThreadTLSAddr(t, KEY);
}

static size_t size_of_block(int i)
{
	return i < NSMALL ? 16 + (size_t)(i % 5) * 24 : 600 + (size_t)(i % 7) * 200;
}

/* Runs as thread t: NALL blocks, each filled with its own pattern, then
   every third one freed by t itself (its spans have free objects and
   cached empties, as a real thread's heap would). */
static void fill_as(SceUID t, void **p, unsigned seed)
{
	VT_REQUIRE(sim_thread_switch(t) == 0);
	for (int i = 0; i < NALL; i++) {
		p[i] = malloc(size_of_block(i));
		VT_REQUIRE(p[i] != NULL);
		vt_fill(p[i], size_of_block(i), seed + (unsigned)i);
	}
	for (int i = 0; i < NALL; i += 3) {
		free(p[i]);
		p[i] = NULL;
	}
	VT_REQUIRE(*slot_of(t) != NULL);
	VT_REQUIRE(sim_thread_switch(SIM_MAIN_THREAD_ID) == 0);
}

/* Checks and frees (from the current thread) what fill_as left live. */
static void verify_free(void **p, unsigned seed, const char *who)
{
	int bad = 0;
	for (int i = 0; i < NALL; i++) {
		if (!p[i])
			continue;
		if (!vt_verify(p[i], size_of_block(i), seed + (unsigned)i))
			bad++;
		free(p[i]);
		p[i] = NULL;
	}
	if (bad)
		VT_FAIL_AT("%s: %d blocks lost their contents", who, bad);
	vt_checks++;
}

/* One way of ending a thread that keeps it queryable. */
static void end_thread(SceUID t, int killed)
{
	SceKernelThreadInfo info;
	memset(&info, 0, sizeof info);
	info.size = sizeof info;
	if (killed)
		VT_REQUIRE(sim_thread_kill(t) == 0);
	else
		VT_REQUIRE(sim_thread_exit_dormant(t, 0) == 0);
	VT_REQUIRE(sceKernelGetThreadInfo(t, &info) == 0);
	VT_CHECK_EQ(info.status, killed ? 32u : 16u);
	VT_CHECK(*slot_of(t) != NULL); /* its slot still points at its heap */
}

static void **dead_blocks, **live_blocks;

static void scenario(int killed)
{
	const char *what = killed ? "killed" : "dormant";
	printf("  %s thread\n", what);
	fflush(stdout);
	malloc_trim(0);
	vitalloc_stats_t s0 = vt_stats();

	SceUID td = sim_thread_create();
	VT_REQUIRE(td > 0);
	fill_as(td, dead_blocks, 1000u * (unsigned)(killed + 1));
	VT_CHECK_EQ(vt_stats().thread_heaps, s0.thread_heaps + 1);
	VT_CHECK(vt_stats().slabs > s0.slabs);

	/* It ends without telling anyone and stays queryable. */
	end_thread(td, killed);
	malloc_trim(0); /* looks for dead threads now */
	VT_CHECK_EQ(vt_stats().thread_heaps, s0.thread_heaps);
	/* Its live blocks are intact and freed from the main thread; then
	   nothing of it remains: its spans are gone. */
	verify_free(dead_blocks, 1000u * (unsigned)(killed + 1), what);
	malloc_trim(0);
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.allocations, s0.allocations);
	VT_CHECK_EQ(s1.slabs, s0.slabs);
	VT_CHECK_EQ(s1.in_use, s0.in_use);
	VT_HEAP_OK();

	/* Deleted now: its id may come back for a new thread, which gets a
	   fresh slot and a heap of its own. */
	VT_REQUIRE(sceKernelDeleteThread(td) == 0);
	SceUID tn = sim_thread_create_with_id(td);
	VT_REQUIRE(tn == td && sim_thread_switch(tn) == 0);
	VT_CHECK(*slot_of(tn) == NULL);
	void *q = malloc(40);
	VT_REQUIRE(q != NULL);
	VT_CHECK(*slot_of(tn) != NULL);
	free(q);
	VT_REQUIRE(sim_thread_switch(SIM_MAIN_THREAD_ID) == 0);
	VT_REQUIRE(sim_thread_exit(tn) == 0);
	malloc_trim(0);
	VT_CHECK_EQ(vt_stats().thread_heaps, s0.thread_heaps);
	VT_HEAP_OK();
}

int main(void)
{
	static void *dead[NALL], *live[NALL];
	dead_blocks = dead;
	live_blocks = live;
	vt_start("test_dormant_threads");
	free(malloc(8)); /* the main thread's heap exists */

	/* A thread that keeps running, with blocks live in its heap. */
	SceUID tl = sim_thread_create();
	VT_REQUIRE(tl > 0);
	fill_as(tl, live, 7);
	void *live_heap = *slot_of(tl);
	size_t heaps_with_live = vt_stats().thread_heaps;

	scenario(0);
	scenario(1);

	/* The running thread was never taken for dead: same heap, blocks
	   intact, and it still allocates from its own heap. */
	VT_CHECK(*slot_of(tl) == live_heap);
	VT_CHECK_EQ(vt_stats().thread_heaps, heaps_with_live);
	VT_REQUIRE(sim_thread_switch(tl) == 0);
	void *r = malloc(40);
	VT_REQUIRE(r != NULL);
	VT_CHECK(*slot_of(tl) == live_heap);
	free(r);
	verify_free(live, 7, "live thread");
	VT_REQUIRE(sim_thread_switch(SIM_MAIN_THREAD_ID) == 0);
	VT_REQUIRE(sim_thread_exit_dormant(tl, 0) == 0);
	malloc_trim(0);
	VT_CHECK_EQ(vt_stats().thread_heaps, heaps_with_live - 1);
	VT_HEAP_OK();
	return vt_done("test_dormant_threads");
}
