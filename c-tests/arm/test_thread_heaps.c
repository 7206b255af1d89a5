/* Thread heaps on the simulated Vita kernel: each simulated thread gets a
 * heap of its own through its TLS slot (TPIDRURO - 0x800 + 4 * 0xE7, checked
 * against sceKernelGetTLSAddr), frees cross threads in both directions, and
 * a thread that ends without telling anyone has its heap reclaimed: found
 * dead by sceKernelGetThreadInfo, or, when a new thread reuses its id, by
 * the new thread's TLS slot not pointing at the old heap. Objects the dead
 * thread left live stay valid and are freed from another thread. */
#include "vt_test.h"
#include "arm_sim.h"

#define KEY 0xE7
#define N 60

static void **my_slot(void)
{
	return (void **)sceKernelGetTLSAddr(KEY);
}

int main(void)
{
	vt_start("test_thread_heaps");
	void *a = malloc(100); /* the main thread's heap exists */
	VT_REQUIRE(a != NULL);
	VT_CHECK(*my_slot() != NULL);
	vitalloc_stats_t s0 = vt_stats();
	size_t heaps0 = s0.thread_heaps;

	/* A second thread: a fresh slot, then a heap of its own. */
	SceUID t1 = sim_thread_create();
	VT_REQUIRE(t1 > 0);
	VT_REQUIRE(sim_thread_switch(t1) == 0);
	VT_CHECK(*my_slot() == NULL);
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = malloc(16 + 37 * i);
		VT_REQUIRE(p[i] != NULL);
		memset(p[i], i, 16 + 37 * i);
	}
	VT_CHECK(*my_slot() != NULL);
	VT_CHECK_EQ(vt_stats().thread_heaps, heaps0 + 1);
	free(a); /* main's object, freed by t1 */
	for (int i = 0; i < N / 3; i++)
		free(p[i]);
	VT_HEAP_OK();

	/* Back on the main thread: some of t1's objects freed from here. */
	VT_REQUIRE(sim_thread_switch(SIM_MAIN_THREAD_ID) == 0);
	for (int i = N / 3; i < N / 2; i++)
		free(p[i]);
	VT_HEAP_OK();

	/* t1 ends with objects live and cached: found dead, its heap goes. */
	VT_REQUIRE(sim_thread_exit(t1) == 0);
	malloc_trim(0);
	VT_CHECK_EQ(vt_stats().thread_heaps, heaps0);
	for (int i = N / 2; i < N; i++) {
		const unsigned char *b = p[i];
		VT_CHECK(b[0] == (unsigned char)i && b[15 + 37 * i] == (unsigned char)i);
		free(p[i]);
	}
	VT_CHECK_EQ(vt_stats().allocations, s0.allocations - 1);
	VT_HEAP_OK();

	/* Thread-id reuse: t2 allocates and ends; t3 takes its id. t3's slot
	   is fresh, so it gets its own heap, and t2's heap is found dead even
	   though a thread with its id exists. */
	SceUID t2 = sim_thread_create();
	VT_REQUIRE(t2 > 0 && sim_thread_switch(t2) == 0);
	void *q = malloc(64);
	VT_REQUIRE(q != NULL);
	void *t2_heap = *my_slot();
	VT_REQUIRE(sim_thread_switch(SIM_MAIN_THREAD_ID) == 0);
	VT_REQUIRE(sim_thread_exit(t2) == 0);
	SceUID t3 = sim_thread_create_with_id(t2);
	VT_REQUIRE(t3 == t2 && sim_thread_switch(t3) == 0);
	VT_CHECK(*my_slot() == NULL);
	void *r = malloc(64);
	VT_REQUIRE(r != NULL);
	VT_CHECK(*my_slot() != NULL);
	VT_CHECK_EQ(vt_stats().thread_heaps, heaps0 + 2);
	malloc_trim(0); /* from t3: t2's heap is reclaimed, t3's stays */
	VT_CHECK_EQ(vt_stats().thread_heaps, heaps0 + 1);
	free(q); /* t2's object, its span now owned by nobody */
	VT_REQUIRE(sim_thread_switch(SIM_MAIN_THREAD_ID) == 0);
	free(r); /* t3's object, freed remotely */
	VT_HEAP_OK();
	(void)t2_heap;

	/* The slow path finds dead threads by itself too (every 256 entries
	   into the shared heap): t3 ends, then the main thread keeps
	   allocating medium blocks (each one an entry). */
	VT_REQUIRE(sim_thread_exit(t3) == 0);
	for (int i = 0; i < 600; i++)
		free(malloc(40000));
	VT_CHECK_EQ(vt_stats().thread_heaps, heaps0);
	VT_CHECK_EQ(vt_stats().allocations, s0.allocations - 1);
	VT_HEAP_OK();
	return vt_done("test_thread_heaps");
}
