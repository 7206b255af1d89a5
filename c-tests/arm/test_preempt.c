/* Threads interleaved inside the allocator. Linked with the test-only
 * build of the library (Cargo feature sim-preempt, make vita-preempt), in
 * which the lock-free protocol calls sim_preempt_point at two places:
 *   1 Notify:   a cross-thread free, between reading the span's owner
 *               word and queueing the span for its owner;
 *   2 Register: a new thread heap registered, not yet published in its
 *               thread's slot (ids: sys::thread::Point).
 * The simulated kernel switches to another runnable thread there with
 * probability PERCENT (one xorshift32 sequence from SEED: a failure
 * repeats exactly). Workers, each a simulated thread with its own stack,
 * allocate blocks of many sizes into a shared pool, free blocks of any
 * thread (their own, other live threads', dead threads'), sometimes trim
 * (which reclaims dead threads' heaps) and end with blocks still live;
 * new generations of workers are created while earlier ones lie dormant
 * or have been deleted (lifetimes differ, so threads die while others are
 * in mid-protocol). Then hand-off rounds: one thread fills whole spans and
 * ends, one frees its blocks (the notifier runs), two others reclaim the
 * dead heap and register their own meanwhile. Every block's contents are
 * checked before it is freed, and the heap must pass vitalloc_check().
 * Compile-time: VT_PREEMPT_SEED, and VT_PREEMPT_NOTIFY /
 * VT_PREEMPT_REGISTER, each point's switch probability in percent (the
 * CMake file builds one program with both and one with each alone). */
#include "vt_test.h"
#include "arm_sim.h"

#ifndef VT_PREEMPT_SEED
#define VT_PREEMPT_SEED 20261207u
#endif
#ifndef VT_PREEMPT_NOTIFY
#define VT_PREEMPT_NOTIFY 50
#endif
#ifndef VT_PREEMPT_REGISTER
#define VT_PREEMPT_REGISTER 50
#endif
/* sys::thread::Point */
#define PT_NOTIFY 1
#define PT_REGISTER 2
#define GENERATIONS 8
#define WORKERS 5
#define OPS 400
#define POOL 512

typedef struct {
	unsigned char *p;
	size_t n;
	unsigned tag;
} block_t;

static block_t pool[POOL];
static unsigned next_tag = 1;
static int corrupt;

static size_t pick_size(uint32_t *rng)
{
	uint32_t r = vt_xorshift(rng);
	switch (r % 8) {
	case 0:
		return 2048 + r % 30000; /* medium: through the shared heap */
	case 1:
	case 2:
		return 256 + (r >> 8) % 1800;
	default:
		return 8 + (r >> 8) % 240;
	}
}

/* Takes the block out of the pool before freeing it: a switch inside
   free must not let another thread pick the same block. */
static void check_free(unsigned i)
{
	block_t b = pool[i];
	pool[i].p = NULL;
	if (!b.p)
		return;
	if (!vt_verify(b.p, b.n, b.tag)) {
		corrupt++;
		printf("  block %p (%u bytes, tag %u) lost its contents\n", (void *)b.p, (unsigned)b.n, b.tag);
	}
	free(b.p);
}

static void worker(void *arg)
{
	uint32_t rng = (uint32_t)(uintptr_t)arg;
	/* lifetimes differ: threads die while others are in mid-protocol */
	int ops = OPS / 8 + (int)(vt_xorshift(&rng) % OPS);
	for (int op = 0; op < ops; op++) {
		uint32_t r = vt_xorshift(&rng);
		unsigned i = r % POOL;
		if (r % 16 == 0) {
			sim_yield();
		} else if (r % 29 == 0) {
			malloc_trim(0); /* finds dead threads, reclaims their heaps */
		} else if (!pool[i].p || r % 3 == 0) {
			check_free(i);
			size_t n = pick_size(&rng);
			unsigned tag = next_tag++;
			unsigned char *p = malloc(n);
			if (!p) {
				corrupt++;
				printf("  malloc(%u) failed\n", (unsigned)n);
				continue;
			}
			vt_fill(p, n, tag);
			unsigned j = i;
			while (pool[j].p) /* the slot may have been filled meanwhile */
				j = (j + 1) % POOL;
			pool[j].p = p;
			pool[j].n = n;
			pool[j].tag = tag;
		} else {
			check_free(i);
		}
	}
	/* returns with its blocks live: the thread is dormant now */
}

/* Hand-off rounds: A fills whole spans of one size and ends; B frees
   A's blocks (cross-thread frees of full spans: the notifier runs); C
   reclaims A's heap (trim) and registers a heap of its own, which may
   reuse A's heap record, while B may be stopped at Notify. */
#define HANDOFF 600
static unsigned char *handoff[HANDOFF];
static volatile int a_done;

static void hand_a(void *arg)
{
	(void)arg;
	for (int i = 0; i < HANDOFF; i++) {
		handoff[i] = malloc(48);
		if (!handoff[i]) {
			corrupt++;
			return;
		}
		vt_fill(handoff[i], 48, 100000u + (unsigned)i);
	}
	a_done = 1;
}

static void hand_b(void *arg)
{
	(void)arg;
	while (!a_done)
		sim_yield();
	for (int i = 0; i < HANDOFF; i++) {
		unsigned char *p = handoff[i];
		handoff[i] = NULL;
		if (!p)
			continue;
		if (!vt_verify(p, 48, 100000u + (unsigned)i)) {
			corrupt++;
			printf("  hand-off block %d lost its contents\n", i);
		}
		free(p);
		if (i % 50 == 0)
			sim_yield();
	}
}

static void hand_c(void *arg)
{
	(void)arg;
	while (!a_done)
		sim_yield();
	malloc_trim(0); /* A is dormant: its heap is reclaimed */
	void *q[8];
	for (int i = 0; i < 8; i++) {
		q[i] = malloc(48);
		if (q[i])
			memset(q[i], 0x5A, 48);
		sim_yield();
	}
	for (int i = 0; i < 8; i++)
		free(q[i]);
}

int main(void)
{
	static SceUID dormant[WORKERS];
	unsigned n_dormant = 0;
	uint32_t seeds = VT_PREEMPT_SEED;
	vt_start("test_preempt");
	free(malloc(16));
	/* A thread whose first call is malloc_trim uses the allocator's own
	   heap, which then counts among the heaps for good: have that happen
	   before the baseline. */
	SceUID t0 = sim_thread_create();
	VT_REQUIRE(t0 > 0 && sim_thread_switch(t0) == 0);
	malloc_trim(0);
	VT_REQUIRE(sim_thread_switch(SIM_MAIN_THREAD_ID) == 0 && sim_thread_exit(t0) == 0);
	vitalloc_stats_t s0 = vt_stats();
	sim_preempt_config(VT_PREEMPT_SEED, 0);
	sim_preempt_set_point(PT_NOTIFY, VT_PREEMPT_NOTIFY);
	sim_preempt_set_point(PT_REGISTER, VT_PREEMPT_REGISTER);
	printf("  seed %u, switch at Notify %u %%, at Register %u %%\n", VT_PREEMPT_SEED,
	       VT_PREEMPT_NOTIFY, VT_PREEMPT_REGISTER);

	for (int g = 0; g < GENERATIONS; g++) {
		SceUID t[WORKERS];
		for (int w = 0; w < WORKERS; w++) {
			t[w] = sim_thread_spawn(worker, (void *)(uintptr_t)(vt_xorshift(&seeds) | 1));
			VT_REQUIRE(t[w] > 0);
		}
		sim_sched_run();
		/* Earlier dormant threads are deleted now; of this generation,
		   half is deleted at once and half stays dormant a while. */
		for (unsigned k = 0; k < n_dormant; k++)
			VT_CHECK_EQ(sceKernelDeleteThread(dormant[k]), 0);
		n_dormant = 0;
		for (int w = 0; w < WORKERS; w++) {
			if (w % 2)
				VT_CHECK_EQ(sceKernelDeleteThread(t[w]), 0);
			else
				dormant[n_dormant++] = t[w];
		}
		if (corrupt)
			break;
	}
	for (unsigned k = 0; k < n_dormant; k++)
		VT_CHECK_EQ(sceKernelDeleteThread(dormant[k]), 0);

	for (int round = 0; round < 12 && !corrupt; round++) {
		SceUID h[4];
		a_done = 0;
		h[0] = sim_thread_spawn(hand_a, NULL);
		h[1] = sim_thread_spawn(hand_b, NULL);
		h[2] = sim_thread_spawn(hand_c, NULL);
		h[3] = sim_thread_spawn(hand_c, NULL);
		for (int k = 0; k < 4; k++)
			VT_REQUIRE(h[k] > 0);
		sim_sched_run();
		for (int k = 0; k < 4; k++)
			VT_CHECK_EQ(sceKernelDeleteThread(h[k]), 0);
	}
	VT_CHECK_EQ(vitalloc_check(), 0);

	unsigned hits[2], switches[2];
	sim_preempt_counts(PT_NOTIFY, &hits[0], &switches[0]);
	sim_preempt_counts(PT_REGISTER, &hits[1], &switches[1]);
	printf("  preemption points: Notify reached %u times (%u switches), Register %u (%u)\n",
	       hits[0], switches[0], hits[1], switches[1]);
	VT_CHECK(hits[0] > 0 && (switches[0] > 0) == (VT_PREEMPT_NOTIFY > 0));
	VT_CHECK(hits[1] > 0 && (switches[1] > 0) == (VT_PREEMPT_REGISTER > 0));

	/* The main thread checks and frees what is left. */
	for (unsigned i = 0; i < POOL; i++)
		check_free(i);
	VT_CHECK_EQ(corrupt, 0);
	malloc_trim(0);
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_EQ(s1.allocations, s0.allocations);
	VT_CHECK_EQ(s1.thread_heaps, s0.thread_heaps);
	VT_CHECK_EQ(vitalloc_check(), 0);
	return vt_done("test_preempt");
}
