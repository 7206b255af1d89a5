/*
 * test_preload_so -- libvitalloc.so preloaded (LD_PRELOAD, set by ctest)
 * into a program that does not link vitalloc: glibc's malloc family and
 * libc's own allocations must all reach vitalloc.
 *
 *  - the vitalloc_* functions are found with dlsym (the .so is loaded);
 *  - malloc/free/calloc/realloc/posix_memalign/aligned_alloc/strdup give
 *    blocks vitalloc knows (its statistics move, vitalloc_usable_size
 *    agrees with malloc_usable_size);
 *  - mallinfo keeps glibc's int layout, mallinfo2 is vitalloc's (size_t);
 *  - threads allocate through it; vitalloc_check() == 0 at the end.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>

#include "vt_test.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void (*p_stats)(vitalloc_stats_t *);
static int (*p_check)(void);
static size_t (*p_usable)(void *);
static vitalloc_mallinfo_t (*p_mallinfo)(void);

static vitalloc_stats_t st(void)
{
	vitalloc_stats_t s;
	memset(&s, 0, sizeof s);
	p_stats(&s);
	return s;
}

static void *thread_main(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)((i * 131 + id * 17) % 5000);
		char *p = malloc(n + 1);
		if (!p)
			return (void *)1;
		memset(p, (int)id, n + 1);
		free(p);
	}
	return NULL;
}

int main(void)
{
	printf("test_preload_so: start\n");
	fflush(stdout);
	*(void **)&p_stats = dlsym(RTLD_DEFAULT, "vitalloc_stats");
	*(void **)&p_check = dlsym(RTLD_DEFAULT, "vitalloc_check");
	*(void **)&p_usable = dlsym(RTLD_DEFAULT, "vitalloc_usable_size");
	*(void **)&p_mallinfo = dlsym(RTLD_DEFAULT, "vitalloc_mallinfo");
	if (!p_stats || !p_check || !p_usable || !p_mallinfo) {
		printf("test_preload_so: FAILED: vitalloc_* not found: is LD_PRELOAD=%s in effect?\n",
		       getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)");
		return 1;
	}
	vitalloc_stats_t s0 = st();
	VT_CHECK_CMP(s0.malloc_calls, >, 0); /* printf's buffer */

	void *p = malloc(1000);
	VT_REQUIRE(p != NULL);
	vitalloc_stats_t s1 = st();
	VT_CHECK_EQ(s1.malloc_calls, s0.malloc_calls + 1);
	VT_CHECK_EQ(p_usable(p), malloc_usable_size(p));
	p = realloc(p, 100000);
	VT_REQUIRE(p != NULL);
	VT_CHECK_EQ(st().realloc_calls, s1.realloc_calls + 1);
	free(p);
	VT_CHECK_EQ(st().free_calls, s1.free_calls + 1);

	char *d = strdup("preloaded");
	VT_REQUIRE(d != NULL);
	VT_CHECK_CMP(p_usable(d), >=, 10);
	free(d);
	void *a = NULL;
	VT_CHECK_EQ(posix_memalign(&a, 4096, 10), 0);
	VT_CHECK(a && vt_aligned(a, 4096));
	VT_CHECK_EQ(p_usable(a), malloc_usable_size(a));
	free(a);
	a = aligned_alloc(1 << 16, 100);
	VT_CHECK(a && vt_aligned(a, 1 << 16));
	free(a);
	void *z = calloc(100, 100);
	VT_CHECK(z && vt_all_zero(z, 10000));
	free(z);

	void *big = malloc(300000);
	VT_REQUIRE(big != NULL);
	struct {
		int before[4];
		struct mallinfo mi;
		int after[4];
	} f;
	for (int i = 0; i < 4; i++)
		f.before[i] = f.after[i] = 0x6b6b6b6b;
	f.mi = mallinfo();
	vitalloc_mallinfo_t v = p_mallinfo();
	for (int i = 0; i < 4; i++) {
		VT_CHECK_EQ(f.before[i], 0x6b6b6b6b);
		VT_CHECK_EQ(f.after[i], 0x6b6b6b6b);
	}
	VT_CHECK_EQ((size_t)f.mi.uordblks, v.uordblks);
	VT_CHECK_CMP((size_t)f.mi.uordblks, >=, 300000);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	struct mallinfo2 m2 = mallinfo2();
	VT_CHECK(memcmp(&m2, &v, sizeof m2) == 0);
#endif
	free(big);

	pthread_t t[4];
	for (uintptr_t i = 0; i < 4; i++)
		VT_REQUIRE(pthread_create(&t[i], NULL, thread_main, (void *)i) == 0);
	for (int i = 0; i < 4; i++) {
		void *r = (void *)1;
		VT_REQUIRE(pthread_join(t[i], &r) == 0);
		VT_CHECK(r == NULL);
	}
	VT_CHECK_CMP(st().malloc_calls, >=, s1.malloc_calls + 80000);
	VT_CHECK_EQ(p_check(), 0);

	if (vt_failures == 0)
		printf("test_preload_so: ok (%d checks)\n", vt_checks);
	else
		printf("test_preload_so: FAILED (%d of %d checks failed)\n", vt_failures, vt_checks);
	return vt_failures != 0;
}
