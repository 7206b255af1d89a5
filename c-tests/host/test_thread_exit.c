/*
 * test_thread_exit -- threads that exit with live blocks (host, pthreads).
 *
 * Epochs of: waves of 4 short-lived producer threads, each allocating 512
 * blocks and exiting with them live (half of them hand their blocks over
 * in groups as they go, half all at once just before they exit); 2 freer
 * threads that verify and free every block they receive; 2 allocator
 * threads allocating, verifying and freeing blocks of the same sizes the
 * whole time. Between epochs every thread has ended: vitalloc_check().
 * The same program as tests/thread_exit.rs, through the C library.
 *
 * Usage: test_thread_exit glibc|vitalloc (the malloc it must find).
 * SOAK_OPS: operations (mallocs and frees), default 10^6.
 */
#include "vt_soak.h"

#define FREERS 2
#define ALLOCATORS 2
#define PRODUCERS_PER_WAVE 4
#define WAVES_PER_EPOCH 8
#define BATCH 512
#define HAND 16
#define WINDOW 256

static atomic_ullong ops;

/* Mostly the slot and small classes, some medium sizes. */
static size_t pick_size(uint64_t r)
{
	static const size_t sizes[16] = {1,   8,   16,  24,  32,   48,   64,   96,
					 128, 200, 256, 500, 1024, 2048, 3000, 8192};
	if ((r >> 40) % 64 == 0)
		return 8193 + (size_t)(r >> 8) % (120 << 10);
	return sizes[(r >> 16) % 16];
}

/* ---- groups of blocks handed to the freers: one locked list ---- */

typedef struct group {
	struct group *next;
	int count;
	vt_block_t b[HAND];
} group_t;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more;
	group_t *head;
	int closed;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0};

static void q_push(group_t *g)
{
	pthread_mutex_lock(&q.lock);
	g->next = q.head;
	q.head = g;
	pthread_cond_signal(&q.more);
	pthread_mutex_unlock(&q.lock);
}

/* The next group, or NULL once the list is closed and empty. */
static group_t *q_pop(void)
{
	pthread_mutex_lock(&q.lock);
	while (!q.head && !q.closed)
		pthread_cond_wait(&q.more, &q.lock);
	group_t *g = q.head;
	if (g)
		q.head = g->next;
	pthread_mutex_unlock(&q.lock);
	return g;
}

static void *freer(void *arg)
{
	(void)arg;
	unsigned long long n = 0;
	group_t *g;
	while ((g = q_pop())) {
		for (int i = 0; i < g->count; i++)
			vt_block_free(g->b[i], "freer");
		n += (unsigned long long)g->count;
		free(g);
	}
	atomic_fetch_add(&ops, n);
	return NULL;
}

typedef struct {
	uint64_t seed;
	int at_exit;
} producer_arg_t;

static void *producer(void *arg)
{
	producer_arg_t *a = arg;
	uint64_t s = a->seed;
	group_t *kept = NULL, *g = NULL;
	for (int i = 0; i < BATCH; i++) {
		if (!g) {
			g = malloc(sizeof *g);
			if (!g)
				VT_SOAK_FAIL("malloc(group)");
			g->count = 0;
		}
		size_t n = pick_size(vt_next(&s));
		g->b[g->count++] = vt_block_new(malloc(n), n);
		if (g->count == HAND) {
			if (a->at_exit) {
				g->next = kept;
				kept = g;
			} else {
				q_push(g);
			}
			g = NULL;
		}
	}
	while (kept) {
		group_t *next = kept->next;
		q_push(kept);
		kept = next;
	}
	atomic_fetch_add(&ops, BATCH);
	return NULL;
}

static atomic_int stop;

static void *allocator(void *arg)
{
	uint64_t s = *(uint64_t *)arg;
	vt_block_t live[WINDOW];
	int count = 0;
	unsigned long long n = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int k = 0; k < 64; k++) {
			uint64_t r = vt_next(&s);
			if (count == WINDOW) {
				int i = (int)((r >> 24) % WINDOW);
				vt_block_free(live[i], "allocator");
				live[i] = live[--count];
				n++;
			}
			size_t sz = pick_size(r);
			live[count++] = vt_block_new(malloc(sz), sz);
			n++;
		}
	}
	for (int i = 0; i < count; i++)
		vt_block_free(live[i], "allocator");
	atomic_fetch_add(&ops, n + (unsigned long long)count);
	return NULL;
}

static void create(pthread_t *t, void *(*f)(void *), void *arg)
{
	if (pthread_create(t, NULL, f, arg) != 0)
		VT_SOAK_FAIL("pthread_create");
}

int main(int argc, char **argv)
{
	vt_soak_start("test_thread_exit", argc > 1 ? argv[1] : NULL);
	unsigned long long total = vt_soak_ops(1000000);
	uint64_t seed = 0x7E570E11;
	unsigned long long epochs = 0, threads = 0;
	while (atomic_load(&ops) < total) {
		pthread_t freers[FREERS], allocators[ALLOCATORS], wave[PRODUCERS_PER_WAVE];
		uint64_t aseeds[ALLOCATORS];
		producer_arg_t pargs[PRODUCERS_PER_WAVE];
		q.closed = 0; /* no other thread runs between epochs */
		atomic_store(&stop, 0);
		for (int i = 0; i < FREERS; i++)
			create(&freers[i], freer, NULL);
		for (int i = 0; i < ALLOCATORS; i++) {
			aseeds[i] = vt_next(&seed) | 1;
			create(&allocators[i], allocator, &aseeds[i]);
		}
		for (int w = 0; w < WAVES_PER_EPOCH; w++) {
			for (int p = 0; p < PRODUCERS_PER_WAVE; p++) {
				pargs[p].seed = vt_next(&seed) | 1;
				pargs[p].at_exit = p % 2;
				create(&wave[p], producer, &pargs[p]);
			}
			for (int p = 0; p < PRODUCERS_PER_WAVE; p++)
				pthread_join(wave[p], NULL);
		}
		pthread_mutex_lock(&q.lock);
		q.closed = 1;
		pthread_cond_broadcast(&q.more);
		pthread_mutex_unlock(&q.lock);
		for (int i = 0; i < FREERS; i++)
			pthread_join(freers[i], NULL);
		atomic_store(&stop, 1);
		for (int i = 0; i < ALLOCATORS; i++)
			pthread_join(allocators[i], NULL);
		threads += FREERS + ALLOCATORS + WAVES_PER_EPOCH * PRODUCERS_PER_WAVE;
		epochs++;
		vt_soak_check("between epochs");
	}
	printf("test_thread_exit: ok (%llu operations, %llu threads, %llu epochs checked)\n",
	       (unsigned long long)atomic_load(&ops), threads, epochs);
	return 0;
}
