/*
 * test_thread_keys -- thread heaps and glibc's thread-specific data.
 *
 * vitalloc arranges to hear of a thread's exit with a pthread key. When the
 * program already uses 32 keys or more, glibc keeps the values of the next
 * ones in arrays it allocates with calloc -- through vitalloc, from inside
 * vitalloc's first call in the thread -- and frees them while the thread
 * exits, after vitalloc's own destructor ran. Threads that allocate, free
 * each other's blocks, and exit while other keys' destructors still
 * allocate and free must leave the heap consistent and nothing leaked.
 */
#include "vt_test.h"
#include <pthread.h>

#define THREADS 4
#define ROUNDS 6

static pthread_key_t late_key;

/* Another library's destructor, run during the thread's exit (after
   vitalloc's, which was created earlier): it frees and allocates. */
static void late_destructor(void *p)
{
	free(p);
	free(malloc(48));
}

static void *worker(void *arg)
{
	void **out = arg;
	pthread_setspecific(late_key, malloc(200));
	void *p[500];
	for (int r = 0; r < 20; r++) {
		for (int i = 0; i < 500; i++) {
			p[i] = malloc(16 + (size_t)(i * 37) % 900);
			VT_REQUIRE(p[i] != NULL);
			memset(p[i], i, 16);
		}
		for (int i = 0; i < 500; i++)
			free(p[i]);
	}
	*out = malloc(100); /* freed by the main thread after this one ends */
	return NULL;
}

int main(void)
{
	vt_start("test_thread_keys");
	free(malloc(10)); /* the main thread's heap (and vitalloc's key) first */
	pthread_key_t k;
	for (int i = 0; i < 40; i++)
		VT_REQUIRE(pthread_key_create(&k, NULL) == 0);
	VT_REQUIRE(pthread_key_create(&late_key, late_destructor) == 0);
	vitalloc_stats_t s0 = vt_stats();
	/* glibc keeps the stacks of ended threads for reuse, each with its
	   dynamic TLS vector (a small calloc): so compare with the state after
	   the first round, once those exist. */
	vitalloc_stats_t first = s0;
	for (int round = 0; round < ROUNDS; round++) {
		pthread_t t[THREADS];
		void *left[THREADS];
		for (int i = 0; i < THREADS; i++)
			VT_REQUIRE(pthread_create(&t[i], NULL, worker, &left[i]) == 0);
		for (int i = 0; i < THREADS; i++)
			VT_REQUIRE(pthread_join(t[i], NULL) == 0);
		for (int i = 0; i < THREADS; i++)
			free(left[i]);
		VT_HEAP_OK();
		if (round == 0)
			first = vt_stats();
	}
	vitalloc_stats_t s1 = vt_stats();
	VT_CHECK_CMP(first.allocations, <=, s0.allocations + THREADS);
	VT_CHECK_EQ(s1.allocations, first.allocations);
	VT_CHECK_EQ(s1.in_use, first.in_use);
	/* Every worker's heap is gone; calls made during a thread's exit after
	   vitalloc's destructor use the allocator's own heap, which counts
	   once it has been used. */
	VT_CHECK_EQ(s1.thread_heaps, first.thread_heaps);
	VT_CHECK_CMP(s1.thread_heaps, <=, s0.thread_heaps + 1);
	return vt_done("test_thread_keys");
}
