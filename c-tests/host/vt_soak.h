/*
 * vt_soak.h -- what the thread-exit programs (test_thread_exit.c,
 * test_thread_churn.c) share. They use only the standard malloc family and
 * pthreads, and link no allocator: ctest runs each under glibc's malloc
 * (which proves the program itself right) and with libvitalloc.so
 * preloaded; `make verify` also builds them with ThreadSanitizer, linked
 * with a TSan build of libvitalloc.a.
 *
 *   vt_soak_start(name, argv[1])  argv[1] is "glibc" or "vitalloc": the
 *                         allocator the program must find (vitalloc_check
 *                         looked up with dlsym; it must be there exactly
 *                         when "vitalloc" is expected)
 *   vt_soak_ops(def)      SOAK_OPS from the environment, else def
 *   vt_soak_check(when)   vitalloc_check() == 0 (under vitalloc; call it
 *                         only when no thread is inside the allocator)
 *   VT_SOAK_FAIL(...)     print "<name>: FAILED: ..." and exit(1)
 *   vt_block_t, vt_block_new/_verify/_verify_moved/_free: blocks whose
 *                         first and last bytes hold a pattern made from
 *                         their address and a unique id
 */
#ifndef VT_SOAK_H
#define VT_SOAK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *vt_soak_name = "?";
static int (*vt_soak_vitalloc_check)(void);

#define VT_SOAK_FAIL(...)                                                      \
	do {                                                                   \
		fprintf(stderr, "%s: FAILED: ", vt_soak_name);                 \
		fprintf(stderr, __VA_ARGS__);                                  \
		fprintf(stderr, "\n");                                         \
		printf("%s: FAILED\n", vt_soak_name);                          \
		fflush(stdout);                                                \
		exit(1);                                                       \
	} while (0)

static inline void vt_soak_start(const char *name, const char *expect)
{
	vt_soak_name = name;
	*(void **)&vt_soak_vitalloc_check = dlsym(RTLD_DEFAULT, "vitalloc_check");
	int want = expect && strcmp(expect, "vitalloc") == 0;
	if (!expect || (!want && strcmp(expect, "glibc") != 0))
		VT_SOAK_FAIL("usage: %s glibc|vitalloc", name);
	if (want != (vt_soak_vitalloc_check != NULL))
		VT_SOAK_FAIL("expected %s's malloc, but vitalloc_check is %s (LD_PRELOAD=%s)",
			     expect, vt_soak_vitalloc_check ? "there" : "missing",
			     getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)");
	printf("%s: start (malloc: %s)\n", name, expect);
	fflush(stdout);
}

static inline unsigned long long vt_soak_ops(unsigned long long def)
{
	const char *s = getenv("SOAK_OPS");
	char *end;
	if (!s || !*s)
		return def;
	unsigned long long v = strtoull(s, &end, 10);
	return *end ? def : v;
}

static inline void vt_soak_check(const char *when)
{
	if (vt_soak_vitalloc_check && vt_soak_vitalloc_check() != 0)
		VT_SOAK_FAIL("vitalloc_check() failed %s", when);
}

/* xorshift64*: one state per thread (never 0). */
static inline uint64_t vt_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

typedef struct {
	unsigned char *p;
	size_t n;
	uint64_t tag;
} vt_block_t;

/* Bytes at each end of a block that hold its pattern. */
#define VT_PATTERN_BYTES 128

static atomic_ullong vt_ids = 1;

static inline unsigned char vt_pattern(uint64_t tag, size_t i)
{
	return (unsigned char)((tag >> ((i % 8) * 8)) ^ (i * 31) ^ (i >> 8));
}

/* Calls f(i) for the offsets that carry the pattern in n bytes. */
#define VT_PATTERN_FOR(n, i, body)                                             \
	do {                                                                   \
		size_t vt_n_ = (n), vt_h_ = vt_n_ < VT_PATTERN_BYTES ? vt_n_ : VT_PATTERN_BYTES; \
		size_t vt_t_ = vt_n_ > 2 * VT_PATTERN_BYTES ? vt_n_ - VT_PATTERN_BYTES : vt_h_; \
		for (size_t i = 0; i < vt_h_; i++)                             \
			body;                                                  \
		for (size_t i = vt_t_; i < vt_n_; i++)                         \
			body;                                                  \
	} while (0)

/* A block of n bytes at p (from malloc & co.; null is a failure) with a
   new pattern. */
static inline vt_block_t vt_block_new(void *p, size_t n)
{
	if (!p)
		VT_SOAK_FAIL("allocation of %zu bytes returned NULL", n);
	uint64_t s = (uint64_t)(uintptr_t)p ^ (atomic_fetch_add_explicit(&vt_ids, 1, memory_order_relaxed) << 32) ^
		     0x9E3779B97F4A7C15ULL;
	vt_block_t b = {(unsigned char *)p, n, vt_next(&s)};
	VT_PATTERN_FOR(n, i, b.p[i] = vt_pattern(b.tag, i));
	return b;
}

static inline void vt_block_verify(const vt_block_t *b, const char *who)
{
	VT_PATTERN_FOR(b->n, i, if (b->p[i] != vt_pattern(b->tag, i))
		VT_SOAK_FAIL("%s: block %p of %zu bytes corrupted at offset %zu", who, (void *)b->p,
			     b->n, i));
}

/* What realloc must keep: the pattern's first bytes, as far as they fit in
   `n` bytes, now at q. */
static inline void vt_block_verify_moved(const vt_block_t *b, const unsigned char *q, size_t n)
{
	size_t k = n < b->n ? n : b->n;
	k = k < VT_PATTERN_BYTES ? k : VT_PATTERN_BYTES;
	for (size_t i = 0; i < k; i++)
		if (q[i] != vt_pattern(b->tag, i))
			VT_SOAK_FAIL("realloc(%p, %zu) -> %p lost byte %zu of %zu", (void *)b->p, n,
				     (const void *)q, i, b->n);
}

static inline void vt_block_free(vt_block_t b, const char *who)
{
	vt_block_verify(&b, who);
	free(b.p);
}

#endif /* VT_SOAK_H */
