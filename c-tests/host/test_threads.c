/*
 * test_threads -- multi-thread stress (host, pthreads).
 *
 * 4 worker threads allocate blocks (malloc, calloc, memalign, realloc,
 * vitalloc_malloc; small, medium and some large sizes), write a pattern
 * into all of each block, and push them on a shared queue; every thread
 * pops blocks (mostly allocated by another thread), verifies the pattern,
 * sometimes reallocs them (prefix kept) and pushes them back, else frees
 * them -- so most blocks are freed on a different thread than the one that
 * allocated them. Meanwhile the main thread calls vitalloc_check(),
 * vitalloc_stats(), mallinfo and malloc_trim concurrently.
 *
 * At the end: every block verified, the number of cross-thread frees is
 * large, allocations are back where they started, vitalloc_check() == 0.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "vt_test.h"

#define THREADS 4
#define ITERS 150000
#define QCAP 4096

typedef struct {
	unsigned char *p;
	size_t size;	/* bytes holding the pattern */
	unsigned seed;
	int owner;	/* thread that allocated (or last realloc'ed) it */
} item_t;

static struct {
	pthread_mutex_t lock;
	item_t items[QCAP];
	size_t head, count;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_long cross_frees, same_frees, reallocs, allocs, corrupt, short_blocks;
static atomic_int running;

static int push(item_t it)
{
	pthread_mutex_lock(&q.lock);
	int ok = q.count < QCAP;
	if (ok) {
		q.items[(q.head + q.count) % QCAP] = it;
		q.count++;
	}
	pthread_mutex_unlock(&q.lock);
	return ok;
}

static int pop(item_t *it)
{
	pthread_mutex_lock(&q.lock);
	int ok = q.count > 0;
	if (ok) {
		*it = q.items[q.head];
		q.head = (q.head + 1) % QCAP;
		q.count--;
	}
	pthread_mutex_unlock(&q.lock);
	return ok;
}

static size_t pick_size(uint32_t *rng)
{
	uint32_t r = vt_xorshift(rng) % 1000;
	if (r < 700)
		return vt_xorshift(rng) % 1025;
	if (r < 950)
		return 1025 + vt_xorshift(rng) % (64 * 1024);
	if (r < 995)
		return 65 * 1024 + vt_xorshift(rng) % (512 * 1024);
	return VT_MIB + vt_xorshift(rng) % (2 * VT_MIB);
}

/* Counts a problem; prints the first few of each kind. */
#define PROBLEM(...)                                                           \
	do {                                                                   \
		if (atomic_fetch_add(&corrupt, 1) < 30)                        \
			fprintf(stderr, __VA_ARGS__);                          \
	} while (0)

/* A block whose usable size is below the request is a heap bug: report
   it and write only what is usable (writing the request would corrupt
   whatever follows and crash the test instead of reporting). */
static void short_block(item_t *it, const char *how)
{
	size_t us = malloc_usable_size(it->p);
	if (us < it->size) {
		if (atomic_fetch_add(&short_blocks, 1) < 10)
			fprintf(stderr, "%s of %zu bytes: malloc_usable_size = %zu, "
				"less than the request\n", how, it->size, us);
		atomic_fetch_add(&corrupt, 1);
		it->size = us;
	}
}

/* The pattern covers the first 64 KiB of a block, then every 512th byte
   and the last 64 bytes (touches every page, cheap for big blocks).
   FOR_COVERED runs `body` for each covered position i below len, for a
   block filled when it had `size` bytes. */
#define FOR_COVERED(i, len, size, body)                                       \
	do {                                                                   \
		size_t vt_len_ = (len), vt_size_ = (size), i;                  \
		size_t vt_a_ = vt_len_ < 65536 ? vt_len_ : 65536;              \
		for (i = 0; i < vt_a_; i++)                                    \
			body;                                                  \
		for (i = 65536; i < vt_len_; i += 512)                         \
			if (i + 64 < vt_size_)                                 \
				body;                                          \
		for (i = vt_size_ > 64 ? vt_size_ - 64 : 0; i < vt_len_; i++) \
			if (i >= 65536)                                        \
				body;                                          \
	} while (0)

static void fill(const item_t *it)
{
	unsigned char *p = it->p;
	FOR_COVERED(i, it->size, it->size, p[i] = vt_byte(it->seed, i));
}

/* Checks the first `len` bytes of a block filled with size `size`. */
static int verify_prefix(const unsigned char *p, size_t len, size_t size, unsigned seed)
{
	int ok = 1;
	FOR_COVERED(i, len, size, ok &= p[i] == vt_byte(seed, i));
	return ok;
}

static int verify(const item_t *it)
{
	return verify_prefix(it->p, it->size, it->size, it->seed);
}

static void release(const item_t *it, int self)
{
	if (it->owner == self)
		same_frees++;
	else
		cross_frees++;
	if (it->seed % 3 == 0)
		vitalloc_free(it->p);
	else
		free(it->p);
}

static void *worker(void *arg)
{
	int self = (int)(intptr_t)arg;
	uint32_t rng = 0x9e3779b9u * (uint32_t)(self + 1);
	unsigned seq = 0;
	for (int i = 0; i < ITERS; i++) {
		uint32_t op = vt_xorshift(&rng) % 100;
		if (op < 50) {
			item_t it = {NULL, pick_size(&rng), 0, self};
			it.seed = (unsigned)self * 1000003u + seq++;
			switch (it.seed % 5) {
			case 0: it.p = malloc(it.size); break;
			case 1: it.p = calloc(1, it.size); break;
			case 2: it.p = memalign((size_t)16 << (vt_xorshift(&rng) % 9), it.size); break;
			case 3: it.p = realloc(NULL, it.size); break;
			default: it.p = vitalloc_malloc(it.size); break;
			}
			if (!it.p) {
				PROBLEM("thread %d: allocation of %zu failed\n", self, it.size);
				continue;
			}
			if (it.seed % 5 == 1 && !vt_all_zero(it.p, it.size < 4096 ? it.size : 4096))
				PROBLEM("thread %d: calloc(1, %zu) = %p is not zeroed\n", self, it.size, (void *)it.p);
			short_block(&it, "allocation");
			allocs++;
			fill(&it);
			if (!push(it)) {
				if (!verify(&it))
					PROBLEM("thread %d: block %p (%zu bytes) corrupted\n", self, (void *)it.p, it.size);
				release(&it, self);
			}
		} else {
			item_t it;
			if (!pop(&it))
				continue;
			if (!verify(&it))
				PROBLEM("thread %d: block %p (%zu bytes, from thread %d) corrupted\n",
					self, (void *)it.p, it.size, it.owner);
			if (op < 62) {
				size_t old = it.size;
				size_t n = pick_size(&rng);
				unsigned char *r = realloc(it.p, n);
				if (!r) {
					PROBLEM("thread %d: realloc(%p, %zu) failed\n", self, (void *)it.p, n);
					continue;
				}
				size_t keep = old < n ? old : n;
				if (!verify_prefix(r, keep, old, it.seed))
					PROBLEM("thread %d: realloc(%p, %zu -> %zu) = %p lost the contents\n",
						self, (void *)it.p, old, n, (void *)r);
				reallocs++;
				it.p = r;
				it.size = n;
				it.owner = self;
				it.seed = (unsigned)self * 1000003u + seq++;
				short_block(&it, "realloc");
				fill(&it);
				if (!push(it))
					release(&it, self);
			} else {
				release(&it, self);
			}
		}
	}
	return NULL;
}

static void *idle(void *arg)
{
	return arg;
}

int main(void)
{
	vt_start("test_threads");
	pthread_t t[THREADS];
	/* glibc keeps the stacks (and their TLS blocks, which it mallocs) of
	   finished threads for reuse: start and join a round of threads first
	   so that the baseline already includes them. */
	for (int i = 0; i < THREADS; i++)
		VT_REQUIRE(pthread_create(&t[i], NULL, idle, NULL) == 0);
	for (int i = 0; i < THREADS; i++)
		VT_REQUIRE(pthread_join(t[i], NULL) == 0);
	vitalloc_stats_t s0 = vt_stats();
	running = 1;
	for (int i = 0; i < THREADS; i++)
		VT_REQUIRE(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);

	/* Concurrent observers while the workers run. */
	int checks = 0;
	for (int round = 0; round < 20; round++) {
		VT_HEAP_OK();
		/* Each call is a consistent snapshot; peaks only grow, so a
		   later snapshot's peak bounds an earlier one's figures. */
		vitalloc_mallinfo_t m = vitalloc_mallinfo();
		vitalloc_stats_t s = vt_stats();
		VT_CHECK_CMP(s.in_use, <=, s.reserved);
		VT_CHECK_CMP(s.in_use, <=, s.in_use_peak);
		VT_CHECK_CMP(m.arena + m.hblkhd, <=, s.reserved_peak);
		VT_CHECK_CMP(m.usmblks, <=, s.reserved_peak);
		malloc_trim(0);
		checks++;
	}

	for (int i = 0; i < THREADS; i++)
		VT_REQUIRE(pthread_join(t[i], NULL) == 0);

	/* Drain: verify and free what is left. */
	item_t it;
	while (pop(&it)) {
		if (!verify(&it))
			PROBLEM("block %p (%zu bytes) corrupted\n", (void *)it.p, it.size);
		release(&it, -1);
	}
	vitalloc_stats_t s1 = vt_stats();
	printf("test_threads: %ld allocations, %ld reallocs, %ld cross-thread frees, "
	       "%ld same-thread frees, %d concurrent heap checks; peak in use %zu, "
	       "peak reserved %zu\n",
	       (long)allocs, (long)reallocs, (long)cross_frees, (long)same_frees,
	       checks, s1.in_use_peak, s1.reserved_peak);
	VT_CHECK_EQ(corrupt, 0);
	VT_CHECK_CMP(cross_frees, >, (long)ITERS / 4);
	VT_CHECK_EQ(s1.allocations, s0.allocations);
	VT_CHECK_EQ(s1.in_use, s0.in_use);
	/* realloc(NULL, n) may count as either kind of call. */
	VT_CHECK_CMP((s1.malloc_calls - s0.malloc_calls) + (s1.realloc_calls - s0.realloc_calls),
		     >=, (uint64_t)(allocs + reallocs));
	VT_HEAP_OK();
	return vt_done("test_threads");
}
