/*
 * vt_test.h -- the small test harness shared by vitalloc's C tests.
 *
 * Portable to x86_64 glibc (host) and 32-bit ARM newlib (arm-none-eabi +
 * qemu-arm, with the simulated Vita kernel). It declares the entry points
 * the system headers do not (newlib's _r family on glibc, cfree, reallocf,
 * mstats) and gives:
 *
 *   VT_CHECK(expr)          count a failure (file:line: expression) and go on
 *   VT_CHECK_EQ(a, b)       ... printing both values (as unsigned integers)
 *   VT_CHECK_CMP(a, op, b)  ... for any comparison operator
 *   VT_REQUIRE(expr)        a failure ends the program (for pointers the
 *                           rest of the test dereferences)
 *   VT_HEAP_OK()            vitalloc_check() == 0
 *   vt_done("name")         prints the tally; main returns its result
 *                           (nonzero when any check failed)
 *
 * Sizes and pointers that must not be seen through by the compiler (GCC
 * warns about malloc(SIZE_MAX) or free(&local) at compile time, and -Werror
 * is on) go through vt_size() / vt_ptr(). Random sequences come from
 * vt_xorshift(&state).
 *
 * Everything is compiled with -fno-builtin: GCC must not turn malloc +
 * memset into calloc, or drop malloc/free pairs.
 */
#ifndef VT_TEST_H
#define VT_TEST_H

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitalloc.h"

/* ----------------------------------------------------- declarations ---- */

#if defined(__NEWLIB__)
/* newlib declares the _r family (<malloc.h>, <stdlib.h>) with its real
   struct _reent, whose first member is `int _errno`. */
#include <sys/reent.h>
#define VT_NEWLIB 1
typedef struct mallinfo vt_mallinfo_r_t; /* ten size_t fields */
void *_reallocf_r(struct _reent *, void *, size_t);
void *reallocf(void *, size_t);
void cfree(void *);
void mstats(char *);
void _mstats_r(struct _reent *, char *);
#else
#define VT_NEWLIB 0
/* glibc has none of newlib's reentrant entry points: declare them with a
   stand-in struct _reent. Only its first member (int _errno) may be
   touched by the allocator; the padding catches nothing but keeps the
   struct plausibly sized. */
struct _reent {
	int _errno;
	int _vt_padding[63];
};
typedef vitalloc_mallinfo_t vt_mallinfo_r_t;
void *_malloc_r(struct _reent *, size_t);
void _free_r(struct _reent *, void *);
void *_calloc_r(struct _reent *, size_t, size_t);
void *_realloc_r(struct _reent *, void *, size_t);
void *_reallocf_r(struct _reent *, void *, size_t);
void *_memalign_r(struct _reent *, size_t, size_t);
void *_valloc_r(struct _reent *, size_t);
void *_pvalloc_r(struct _reent *, size_t);
size_t _malloc_usable_size_r(struct _reent *, void *);
int _malloc_trim_r(struct _reent *, size_t);
vitalloc_mallinfo_t _mallinfo_r(struct _reent *);
void _malloc_stats_r(struct _reent *);
int _mallopt_r(struct _reent *, int, int);
void _mstats_r(struct _reent *, char *);
void cfree(void *);
void *reallocf(void *, size_t);
void mstats(char *);
#endif

#ifndef M_TRIM_THRESHOLD
#define M_TRIM_THRESHOLD (-1)
#endif
#ifndef M_TOP_PAD
#define M_TOP_PAD (-2)
#endif
#ifndef M_MMAP_THRESHOLD
#define M_MMAP_THRESHOLD (-3)
#endif

/* vitalloc's defaults (src/heap/config.rs), restored after mallopt tests. */
#define VT_DEFAULT_TRIM_THRESHOLD (2u << 20)
#define VT_DEFAULT_MMAP_THRESHOLD (1u << 20)
#define VT_DEFAULT_TOP_PAD 0
#define VT_PAGE 4096u
#define VT_KIB ((size_t)1 << 10)
#define VT_MIB ((size_t)1 << 20)
#define VT_SIZE_BITS (sizeof(size_t) * CHAR_BIT)
/* printf arguments: newlib (as built by Debian) has no %zu or %ju, so
   sizes are printed with %llu through VT_U(). */
#define VT_U(x) ((unsigned long long)(x))
#define VT_STR_(x) #x
#define VT_STR(x) VT_STR_(x)

/* ------------------------------------------------------------ checks ---- */

static int vt_checks __attribute__((unused));
static int vt_failures __attribute__((unused));

/* Counts a failure; prints the first VT_MAX_REPORTS of them. */
#define VT_MAX_REPORTS 60
#define VT_FAIL_AT(fmt, ...)                                                   \
	do {                                                                   \
		if (++vt_failures <= VT_MAX_REPORTS)                           \
			fprintf(stderr, "%s:%d: %s: " fmt "\n", __FILE__,     \
				__LINE__, __func__, __VA_ARGS__);              \
		else if (vt_failures == VT_MAX_REPORTS + 1)                    \
			fprintf(stderr, "(further failures not printed)\n");   \
		fflush(stderr);                                                \
	} while (0)

#define VT_CHECK(expr)                                                         \
	do {                                                                   \
		vt_checks++;                                                   \
		if (!(expr))                                                   \
			VT_FAIL_AT("check failed: %s", #expr);                 \
	} while (0)

#define VT_CHECK_CMP(a, op, b)                                                 \
	do {                                                                   \
		unsigned long long vt_a_ = VT_U(a), vt_b_ = VT_U(b);           \
		vt_checks++;                                                   \
		if (!(vt_a_ op vt_b_))                                         \
			VT_FAIL_AT("check failed: %s %s %s (%llu %s %llu, "    \
				   "0x%llx %s 0x%llx)",                        \
				   #a, #op, #b, vt_a_, #op, vt_b_, vt_a_, #op, \
				   vt_b_);                                     \
	} while (0)

#define VT_CHECK_EQ(a, b) VT_CHECK_CMP(a, ==, b)

#define VT_REQUIRE(expr)                                                       \
	do {                                                                   \
		vt_checks++;                                                   \
		if (!(expr)) {                                                 \
			VT_FAIL_AT("requirement failed, giving up: %s", #expr); \
			exit(2);                                               \
		}                                                              \
	} while (0)

#define VT_HEAP_OK() VT_CHECK_EQ(vitalloc_check(), 0)

/* Prints the tally; the value for main to return. */
static inline int vt_done(const char *name)
{
	VT_HEAP_OK();
	if (vt_failures == 0)
		printf("%s: ok (%d checks)\n", name, vt_checks);
	else
		printf("%s: FAILED (%d of %d checks failed)\n", name,
		       vt_failures, vt_checks);
	fflush(stdout);
	return vt_failures != 0;
}

/* --------------------------------------------------------- helpers ---- */

/* Values the optimiser cannot see through. */
static inline size_t vt_size(size_t x)
{
	volatile size_t v = x;
	return v;
}

static inline void *vt_ptr(void *p)
{
	void *volatile v = p;
	return v;
}

static inline int vt_aligned(const void *p, size_t align)
{
	return ((uintptr_t)p & (align - 1)) == 0;
}

/* xorshift32: the tests' PRNG, one state per sequence (never 0). */
static inline uint32_t vt_xorshift(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

static inline unsigned char vt_byte(unsigned seed, size_t i)
{
	return (unsigned char)((seed * 131u) ^ (unsigned)(i * 7u) ^
			       (unsigned)(i >> 8) ^ (unsigned)(i >> 16));
}

/* Writes a pattern depending on `seed` over n bytes. */
static inline void vt_fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = (unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		b[i] = vt_byte(seed, i);
}

/* 1 if the n bytes at p still hold vt_fill's pattern for `seed`. */
static inline int vt_verify(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = (const unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != vt_byte(seed, i))
			return 0;
	return 1;
}

/* For big blocks: the pattern on every 512th byte and the last 64 bytes
   (touches every page, much cheaper under qemu). */
static inline void vt_fill_sparse(void *p, size_t n, unsigned seed)
{
	unsigned char *b = (unsigned char *)p;
	for (size_t i = 0; i < n; i += 512)
		b[i] = vt_byte(seed, i);
	for (size_t i = n > 64 ? n - 64 : 0; i < n; i++)
		b[i] = vt_byte(seed, i);
}

static inline int vt_verify_sparse(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = (const unsigned char *)p;
	for (size_t i = 0; i < n; i += 512)
		if (b[i] != vt_byte(seed, i))
			return 0;
	for (size_t i = n > 64 ? n - 64 : 0; i < n; i++)
		if (b[i] != vt_byte(seed, i))
			return 0;
	return 1;
}

static inline int vt_all_zero(const void *p, size_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static inline vitalloc_stats_t vt_stats(void)
{
	vitalloc_stats_t s;
	memset(&s, 0, sizeof s);
	vitalloc_stats(&s);
	return s;
}

/* Warms up stdio (its buffers are allocations) so that later exact
   statistics deltas are not disturbed by the first printf. */
static inline void vt_start(const char *name)
{
	printf("%s: start (%u-bit, default alignment %u)\n", name,
	       (unsigned)VT_SIZE_BITS, (unsigned)_Alignof(max_align_t));
	fflush(stdout);
	fprintf(stderr, "%s: stderr\n", name);
	fflush(stderr);
}

#endif /* VT_TEST_H */
