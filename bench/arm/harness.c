/*
 * harness.c -- see harness.h. Compiled with -fno-builtin, linked into both
 * builds of every benchmark program (vitalloc's and newlib's malloc).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <reent.h>
#include "harness.h"
#include "sim_kernel.h"

/* The markers' addresses are what the plugin watches. Their bodies differ
   so that no optimisation can fold one into the other. */
static volatile int vtb_phase;

__attribute__((noinline, noclone)) void vtb_begin(void)
{
	vtb_phase = 1;
}

__attribute__((noinline, noclone)) void vtb_end(void)
{
	vtb_phase = 2;
}

/* newlib's sbrk high-water mark. The newlib build is linked with
   -Wl,--wrap=_sbrk_r, so newlib's malloc calls this, and __real__sbrk_r is
   the simulated VitaSDK sbrk.o (c-tests/vita-sim/sim_sbrk.c). The reference
   is weak so that a program linked without --wrap still links. */
extern void *__real__sbrk_r(struct _reent *r, ptrdiff_t incr) __attribute__((weak));
static char *brk_first, *brk_high;

void *__wrap__sbrk_r(struct _reent *r, ptrdiff_t incr);
void *__wrap__sbrk_r(struct _reent *r, ptrdiff_t incr)
{
	char *prev;
	if (!__real__sbrk_r) {
		r->_errno = 12; /* ENOMEM */
		return (void *)-1;
	}
	prev = __real__sbrk_r(r, incr);
	if (prev != (char *)-1) {
		if (!brk_first)
			brk_first = prev;
		if (prev + incr > brk_high)
			brk_high = prev + incr;
	}
	return prev;
}

void vtb_report(const char *name, unsigned long long peak_live)
{
	sim_counters_t c;
	unsigned long long sbrk_peak;
	/* Read everything before printf: stdio allocates its buffer. */
	sim_get_counters(&c);
	sbrk_peak = brk_high ? (unsigned long long)(brk_high - brk_first) : 0;
	printf("vtb: %s peak_live=%llu kernel_peak=%llu sbrk_peak=%llu\n", name, peak_live, c.peak_bytes, sbrk_peak);
	fflush(stdout);
}

/* ------------------------------------------------------------ PRNG -- */
static uint64_t rng_state = 1;

void vtb_seed(uint64_t seed)
{
	rng_state = seed;
}

uint32_t vtb_next(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x >> 32);
}

uint32_t vtb_below(uint32_t n)
{
	return (uint32_t)(((uint64_t)vtb_next() * n) >> 32);
}

uint32_t vtb_range(uint32_t lo, uint32_t hi)
{
	return lo + vtb_below(hi - lo + 1);
}

/* An octave uniformly, then a size uniformly inside it. */
uint32_t vtb_log_range(uint32_t lo, uint32_t hi)
{
	uint32_t octaves = 0, base;
	while ((lo << (octaves + 1)) <= hi)
		octaves++;
	base = lo << vtb_below(octaves ? octaves : 1);
	return vtb_range(base, 2 * base < hi ? 2 * base : hi);
}

/* ----------------------------------------------------- live bytes -- */
static unsigned long long live, peak_live;

void vtb_live_add(unsigned long long n)
{
	live += n;
	if (live > peak_live)
		peak_live = live;
}

void vtb_live_sub(unsigned long long n)
{
	live -= n;
}

unsigned long long vtb_live(void)
{
	return live;
}

unsigned long long vtb_peak_live(void)
{
	return peak_live;
}
