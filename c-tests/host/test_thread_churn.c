/*
 * test_thread_churn -- thread heaps recycled under load (host, pthreads).
 *
 *  1. 4 threads: malloc, posix_memalign, realloc and free of random sizes,
 *     a quarter of the blocks freed by the next thread (a locked inbox per
 *     thread);
 *  2. then thousands of short-lived threads, at most 8 alive at a time:
 *     each frees (after verifying) the blocks an earlier thread handed it,
 *     allocates 64 blocks, frees half of them and hands the other half to
 *     a later thread, and exits.
 * vitalloc_check() after part 1 and every 512 threads of part 2, when no
 * thread is running. The same program as tests/thread_exit_churn.rs,
 * through the C library.
 *
 * Usage: test_thread_churn glibc|vitalloc (the malloc it must find).
 * SOAK_OPS: operations, half for each part, default 10^6.
 */
#include "vt_soak.h"

#define MIXED_THREADS 4
#define OWN_MAX 300
#define INBOX 1024
#define MAX_ALIVE 8
#define CHURN_BATCH 64
#define CHECK_EVERY_THREADS 512

static size_t pick_size(uint64_t r)
{
	size_t x = (size_t)(r >> 8);
	switch (r % 128) {
	case 126:
	case 127:
		return (16 << 10) + x % (200 << 10);
	default:
		return r % 128 < 100 ? x % 1025 : 1025 + x % (16 << 10);
	}
}

/* ---- part 1: the mixed workload ---- */

static struct inbox {
	pthread_mutex_t lock;
	vt_block_t b[INBOX];
	int count;
} inboxes[MIXED_THREADS];

static pthread_barrier_t barrier;
static unsigned long long mixed_ops;

/* Hands b to thread t; false when its inbox is full. */
static int send_to(int t, vt_block_t b)
{
	struct inbox *in = &inboxes[t];
	pthread_mutex_lock(&in->lock);
	int ok = in->count < INBOX;
	if (ok)
		in->b[in->count++] = b;
	pthread_mutex_unlock(&in->lock);
	return ok;
}

static void drain(int t)
{
	struct inbox *in = &inboxes[t];
	pthread_mutex_lock(&in->lock);
	while (in->count > 0)
		vt_block_free(in->b[--in->count], "neighbour");
	pthread_mutex_unlock(&in->lock);
}

static void *mixed(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t s = 0xC4A20E11ULL ^ ((uint64_t)(t + 1) << 32);
	vt_block_t own[OWN_MAX + 1];
	int count = 0;
	for (unsigned long long i = 0; i < mixed_ops; i++) {
		uint64_t r = vt_next(&s);
		size_t pick = (size_t)(r >> 32);
		unsigned op = (unsigned)(r % 16);
		if (op >= 7 && count == 0)
			op = 0;
		if (op <= 5) {
			size_t n = pick_size(r);
			own[count++] = vt_block_new(malloc(n), n);
		} else if (op == 6) {
			size_t align = (size_t)16 << (pick % 9), n = pick_size(r) % 4096;
			void *p = NULL;
			if (posix_memalign(&p, align, n) != 0)
				VT_SOAK_FAIL("posix_memalign(%zu, %zu)", align, n);
			if ((uintptr_t)p % align)
				VT_SOAK_FAIL("posix_memalign(%zu, %zu) = %p", align, n, p);
			own[count++] = vt_block_new(p, n);
		} else if (op <= 9) {
			vt_block_t *b = &own[pick % (size_t)count];
			vt_block_verify(b, "realloc");
			size_t m = pick_size((r << 23) | (r >> 41));
			unsigned char *q = realloc(b->p, m);
			if (!q && m)
				VT_SOAK_FAIL("realloc(%p, %zu) returned NULL", (void *)b->p, m);
			vt_block_verify_moved(b, q, m);
			*b = vt_block_new(q ? q : malloc(0), m);
		} else {
			size_t k = pick % (size_t)count;
			vt_block_t b = own[k];
			own[k] = own[--count];
			if (op <= 12 || !send_to((t + 1) % MIXED_THREADS, b))
				vt_block_free(b, "owner");
		}
		if (count > OWN_MAX - 1) {
			size_t k = pick % (size_t)count;
			vt_block_free(own[k], "owner");
			own[k] = own[--count];
		}
		if (i % 16 == 0)
			drain(t);
	}
	/* Every thread has sent its last block before any drains. */
	pthread_barrier_wait(&barrier);
	drain(t);
	while (count > 0)
		vt_block_free(own[--count], "owner");
	return NULL;
}

/* ---- part 2: short-lived threads ---- */

typedef struct batch {
	struct batch *next;
	int count;
	vt_block_t b[CHURN_BATCH / 2];
} batch_t;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static batch_t *pool;
static atomic_ullong churn_ops;

static void *short_lived(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ULL | 1;
	pthread_mutex_lock(&pool_lock);
	batch_t *handed = pool;
	if (handed)
		pool = handed->next;
	pthread_mutex_unlock(&pool_lock);
	unsigned long long n = 0;
	if (handed) {
		for (int i = 0; i < handed->count; i++)
			vt_block_free(handed->b[i], "later thread");
		n += (unsigned long long)handed->count;
		free(handed);
	}
	vt_block_t mine[CHURN_BATCH];
	for (int i = 0; i < CHURN_BATCH; i++) {
		size_t sz = pick_size(vt_next(&s));
		mine[i] = vt_block_new(malloc(sz), sz);
	}
	batch_t *keep = malloc(sizeof *keep);
	if (!keep)
		VT_SOAK_FAIL("malloc(batch)");
	keep->count = CHURN_BATCH / 2;
	for (int i = 0; i < CHURN_BATCH / 2; i++) {
		vt_block_free(mine[i], "short-lived thread");
		keep->b[i] = mine[CHURN_BATCH / 2 + i];
	}
	pthread_mutex_lock(&pool_lock);
	keep->next = pool;
	pool = keep;
	pthread_mutex_unlock(&pool_lock);
	atomic_fetch_add(&churn_ops, n + CHURN_BATCH + CHURN_BATCH / 2);
	return NULL;
}

int main(int argc, char **argv)
{
	vt_soak_start("test_thread_churn", argc > 1 ? argv[1] : NULL);
	unsigned long long total = vt_soak_ops(1000000);

	mixed_ops = total / 2 / MIXED_THREADS + 1;
	pthread_t t[MIXED_THREADS > MAX_ALIVE ? MIXED_THREADS : MAX_ALIVE];
	pthread_barrier_init(&barrier, NULL, MIXED_THREADS);
	for (int i = 0; i < MIXED_THREADS; i++)
		pthread_mutex_init(&inboxes[i].lock, NULL);
	for (int i = 0; i < MIXED_THREADS; i++) {
		if (pthread_create(&t[i], NULL, mixed, (void *)(intptr_t)i) != 0)
			VT_SOAK_FAIL("pthread_create");
	}
	for (int i = 0; i < MIXED_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	vt_soak_check("after the mixed workload");

	unsigned long long threads = total / 2 / (CHURN_BATCH * 3 / 2);
	if (threads < 2000)
		threads = 2000;
	int alive = 0, oldest = 0;
	for (unsigned long long i = 0; i < threads; i++) {
		if (alive == MAX_ALIVE) {
			pthread_join(t[oldest], NULL);
			alive--;
			oldest = (oldest + 1) % MAX_ALIVE;
		}
		if (pthread_create(&t[(oldest + alive) % MAX_ALIVE], NULL, short_lived,
				   (void *)(uintptr_t)(i + 1)) != 0)
			VT_SOAK_FAIL("pthread_create");
		alive++;
		if ((i + 1) % CHECK_EVERY_THREADS == 0) {
			for (; alive > 0; alive--, oldest = (oldest + 1) % MAX_ALIVE)
				pthread_join(t[oldest], NULL);
			vt_soak_check("between short-lived threads");
		}
	}
	for (; alive > 0; alive--, oldest = (oldest + 1) % MAX_ALIVE)
		pthread_join(t[oldest], NULL);
	while (pool) {
		batch_t *b = pool;
		pool = b->next;
		for (int i = 0; i < b->count; i++)
			vt_block_free(b->b[i], "main");
		free(b);
	}
	vt_soak_check("at the end");
	printf("test_thread_churn: ok (%llu mixed operations on %d threads, then %llu short-lived "
	       "threads, %llu operations)\n",
	       mixed_ops * MIXED_THREADS, MIXED_THREADS, threads,
	       (unsigned long long)atomic_load(&churn_ops));
	return 0;
}
