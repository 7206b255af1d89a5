/*
 * sample_logic.c -- the portable part of vitalloc's sample homebrew (see
 * sample_logic.h). No Vita API here: the platform callbacks give output,
 * time and memory figures. Compile with -fno-builtin.
 */
#include "sample_logic.h"

#include <errno.h>
#include <malloc.h> /* memalign, malloc_usable_size: newlib and glibc */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

void *volatile sample_sink;

/* -------------------------------------------------------------- helpers -- */

void sample_printf(const sample_platform_t *pf, const char *fmt, ...)
{
	char line[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	pf->print(pf->ctx, line);
}

int sample_check(const sample_platform_t *pf, sample_report_t *rep, int ok, const char *what)
{
	rep->checks++;
	if (!ok) {
		rep->failures++;
		sample_printf(pf, "  FAIL: %s", what);
	}
	return ok;
}

char *sample_size(char *buf, unsigned long long bytes)
{
	if (bytes >= MiB)
		snprintf(buf, 24, "%llu.%llu MiB", bytes / MiB, (bytes % MiB) * 10 / MiB);
	else if (bytes >= KiB)
		snprintf(buf, 24, "%llu KiB", (bytes + KiB / 2) / KiB);
	else
		snprintf(buf, 24, "%llu B", bytes);
	return buf;
}

static char *free_str(char *buf, long long bytes)
{
	if (bytes < 0) {
		strcpy(buf, "unknown");
		return buf;
	}
	return sample_size(buf, (unsigned long long)bytes);
}

static long long free_memory(const sample_platform_t *pf)
{
	return pf->free_memory ? pf->free_memory(pf->ctx) : -1;
}

static void phase(const sample_platform_t *pf, int p)
{
	if (pf->phase)
		pf->phase(pf->ctx, p);
}

void sample_print_stats(const sample_platform_t *pf, const char *title, const vitalloc_stats_t *s)
{
	char a[24], b[24], c[24], d[24];
	sample_printf(pf, "%s: in use %s (peak %s), held %s (peak %s)", title, sample_size(a, s->in_use),
		      sample_size(b, s->in_use_peak), sample_size(c, s->reserved), sample_size(d, s->reserved_peak));
	sample_printf(pf, "  live allocations %llu; memblocks held %llu (segments %llu, large blocks %llu)",
		      (unsigned long long)s->allocations, (unsigned long long)s->source_blocks,
		      (unsigned long long)s->segments, (unsigned long long)s->large_blocks);
	sample_printf(pf, "  calls: malloc %llu, free %llu, realloc %llu, failed %llu",
		      (unsigned long long)s->malloc_calls, (unsigned long long)s->free_calls,
		      (unsigned long long)s->realloc_calls, (unsigned long long)s->failed_calls);
}

/* A small deterministic generator (xorshift32), the same on every target. */
static uint32_t rnd(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* Contents: word k of a block tagged t holds t ^ (k * 0x9E3779B9); a tail
   shorter than a word holds that word's first bytes. So any prefix of a
   block can be checked against the same tag, e.g. after realloc. */
static uint32_t pattern_word(uint32_t tag, size_t k)
{
	return tag ^ ((uint32_t)k * 0x9E3779B9u);
}

static void fill(unsigned char *p, size_t size, uint32_t tag)
{
	uint32_t *w = (uint32_t *)(void *)p; /* malloc'd: at least 8-byte aligned */
	size_t words = size / 4, k;
	for (k = 0; k < words; k++)
		w[k] = pattern_word(tag, k);
	if (size % 4) {
		uint32_t last = pattern_word(tag, words);
		memcpy(p + words * 4, &last, size % 4);
	}
}

/* Mismatching words (and tail bytes) in the first `size` bytes. */
static unsigned long long verify(const unsigned char *p, size_t size, uint32_t tag)
{
	const uint32_t *w = (const uint32_t *)(const void *)p;
	size_t words = size / 4, k;
	unsigned long long bad = 0;
	for (k = 0; k < words; k++)
		bad += w[k] != pattern_word(tag, k);
	if (size % 4) {
		uint32_t last = pattern_word(tag, words);
		bad += memcmp(p + words * 4, &last, size % 4) != 0;
	}
	return bad;
}

/* --------------------------------------------------------------- config -- */

void sample_config_default(sample_config_t *cfg)
{
	cfg->churn_slots = 4096;
	cfg->churn_ops = 150000;
	cfg->churn_large_live = 3;
	cfg->speed_rounds = 64;
	cfg->speed_batch = 4096;
	cfg->growth_bytes = 48 * MiB;
	cfg->newlib_heap_bytes = 128 * MiB;
}

/* --------------------------------------------------------------- C part -- */

int sample_c_part(const sample_platform_t *pf, sample_report_t *rep)
{
	int failures = rep->failures, checks = rep->checks;
	vitalloc_stats_t s0, s1, s2;
	volatile size_t huge = (size_t)-1 / 2; /* hidden from the compiler */
	unsigned char *p, *q;
	size_t i, us;
	int ok;

	vitalloc_stats(&s0);

	/* malloc: aligned, usable size honoured to the last byte. */
	p = malloc(100);
	sample_sink = p;
	sample_check(pf, rep, p != NULL, "malloc(100)");
	if (p) {
		sample_check(pf, rep, (uintptr_t)p % 8 == 0, "malloc: 8-byte alignment");
		us = malloc_usable_size(p);
		sample_check(pf, rep, us >= 100, "malloc_usable_size >= 100");
		memset(p, 0xAB, us);
		sample_check(pf, rep, vitalloc_usable_size(p) == us, "vitalloc knows the block");
	}

	/* realloc keeps the contents while growing and shrinking. */
	if (p) {
		fill(p, 100, 1);
		q = realloc(p, 10000);
		sample_sink = q;
		ok = q != NULL && verify(q, 100, 1) == 0;
		if (q) {
			p = q;
			fill(p, 10000, 2);
			q = realloc(p, 200000);
			sample_sink = q;
			ok = ok && q != NULL && verify(q, 10000, 2) == 0;
			if (q)
				p = q;
			q = realloc(p, 50);
			sample_sink = q;
			ok = ok && q != NULL && verify(q, 50, 2) == 0;
			if (q)
				p = q;
		}
		sample_check(pf, rep, ok, "realloc 100 -> 10000 -> 200000 -> 50 keeps the contents");
		free(p);
	}

	/* calloc zeroes, also when the memory was used before. */
	p = calloc(1000, 4);
	sample_sink = p;
	ok = p != NULL;
	for (i = 0; ok && i < 4000; i++)
		ok = p[i] == 0;
	sample_check(pf, rep, ok, "calloc(1000, 4) is zeroed");
	free(p);

	/* The C library's own allocations come from vitalloc too. */
	q = (unsigned char *)strdup("a string copied by the C library");
	sample_sink = q;
	sample_check(pf, rep, q != NULL && vitalloc_usable_size(q) >= 33, "strdup's block is vitalloc's");
	free(q);

	/* Aligned allocations. */
	{
		void *a = NULL;
		int r = posix_memalign(&a, 64, 1000);
		sample_sink = a;
		sample_check(pf, rep, r == 0 && a && (uintptr_t)a % 64 == 0, "posix_memalign(64, 1000)");
		free(a);
		a = memalign(4096, 5000);
		sample_sink = a;
		sample_check(pf, rep, a && (uintptr_t)a % 4096 == 0, "memalign(4096, 5000)");
		free(a);
		a = aligned_alloc(256, 512);
		sample_sink = a;
		sample_check(pf, rep, a && (uintptr_t)a % 256 == 0, "aligned_alloc(256, 512)");
		free(a);
	}

	/* A large block gets a memblock of its own and gives it back. */
	vitalloc_stats(&s1);
	p = malloc(3 * MiB);
	sample_sink = p;
	vitalloc_stats(&s2);
	if (sample_check(pf, rep, p != NULL, "malloc(3 MiB)")) {
		p[0] = 1;
		p[3 * MiB - 1] = 2;
		sample_check(pf, rep, s2.large_blocks == s1.large_blocks + 1, "3 MiB: a block of its own");
		free(p);
		vitalloc_stats(&s2);
		sample_check(pf, rep, s2.large_blocks == s1.large_blocks, "3 MiB: given back on free");
	}

	/* Failure: NULL with ENOMEM, counted. */
	errno = 0;
	p = malloc(huge);
	sample_sink = p;
	sample_check(pf, rep, p == NULL && errno == ENOMEM, "malloc(SIZE_MAX / 2) fails with ENOMEM");
	free(p);

	vitalloc_stats(&s1);
	sample_check(pf, rep, s1.malloc_calls >= s0.malloc_calls + 8 && s1.realloc_calls >= s0.realloc_calls + 3,
		     "every call reached vitalloc");
	sample_check(pf, rep, s1.failed_calls == s0.failed_calls + 1, "the failed call was counted");
	sample_check(pf, rep, s1.allocations == s0.allocations, "every block was freed");
	sample_check(pf, rep, vitalloc_check() == 0, "vitalloc_check()");

	sample_printf(pf, "[C]     malloc, realloc, calloc, strdup, aligned, large, ENOMEM: %d/%d ok",
		      (rep->checks - checks) - (rep->failures - failures), rep->checks - checks);
	return rep->failures - failures;
}

/* ---------------------------------------------------------------- churn -- */

typedef struct slot {
	unsigned char *p;
	size_t size;
	uint32_t tag;
	unsigned char large;
} slot_t;

static size_t churn_size(uint32_t *r, int large_ok)
{
	uint32_t pick = rnd(r) % 1000;
	if (pick < 700)
		return 1 + rnd(r) % 256; /* small */
	if (pick < 950)
		return 257 + rnd(r) % (16 * 1024 - 256); /* medium */
	if (pick < 997 || !large_ok)
		return 16 * 1024 + rnd(r) % (240 * 1024); /* big */
	return MiB + rnd(r) % (3 * MiB); /* large: a memblock of its own */
}

int sample_churn(const sample_platform_t *pf, const sample_config_t *cfg, uint32_t seed, sample_churn_result_t *out)
{
	slot_t *slots;
	uint32_t r = seed ? seed : 1, next_tag = seed * 2654435761u;
	unsigned n = cfg->churn_slots ? cfg->churn_slots : 1, large_live = 0, i;
	size_t live = 0;
	unsigned long op;
	uint64_t t0;
	vitalloc_stats_t st;
	long long fm;

	memset(out, 0, sizeof *out);
	out->free_memory_low = free_memory(pf);
	slots = calloc(n, sizeof *slots);
	sample_sink = slots;
	if (!slots) {
		out->failed++;
		return 1;
	}

	t0 = pf->now_us(pf->ctx);
	for (op = 0; op < cfg->churn_ops; op++) {
		slot_t *s = &slots[rnd(&r) % n];
		uint32_t what = rnd(&r) % 100;
		out->ops++;
		if (!s->p) {
			size_t size = churn_size(&r, large_live < cfg->churn_large_live);
			unsigned char *p;
			if (what < 10) {
				p = calloc(1, size);
				out->callocs++;
				/* calloc's zeroes, checked on a sample of words */
				if (p && (p[0] | p[size / 2] | p[size - 1]))
					out->corrupt++;
			} else if (what < 15) {
				void *a = NULL;
				size_t align = (size_t)16 << (rnd(&r) % 9); /* 16 .. 4096 */
				if (posix_memalign(&a, align, size) != 0)
					a = NULL;
				if (a && (uintptr_t)a % align)
					out->corrupt++;
				p = a;
				out->aligned++;
			} else {
				p = malloc(size);
				out->mallocs++;
			}
			sample_sink = p;
			if (!p) {
				out->failed++;
				continue;
			}
			s->p = p;
			s->size = size;
			s->tag = next_tag++;
			s->large = size >= MiB;
			large_live += s->large;
			fill(p, size, s->tag);
			live += size;
			out->bytes_allocated += size;
			if (live > out->peak_live_bytes) {
				out->peak_live_bytes = live;
				vitalloc_stats(&st);
				if (st.reserved > out->peak_reserved)
					out->peak_reserved = st.reserved;
				fm = free_memory(pf);
				if (fm >= 0 && (out->free_memory_low < 0 || fm < out->free_memory_low))
					out->free_memory_low = fm;
			}
		} else if (what < 15) {
			/* realloc: the common prefix must survive the move */
			size_t size = churn_size(&r, !s->large && large_live < cfg->churn_large_live);
			size_t keep = size < s->size ? size : s->size;
			unsigned char *q;
			out->corrupt += verify(s->p, s->size, s->tag);
			out->bytes_verified += s->size;
			q = realloc(s->p, size);
			sample_sink = q;
			out->reallocs++;
			if (!q) {
				out->failed++;
				continue; /* the old block is intact */
			}
			out->corrupt += verify(q, keep, s->tag);
			out->bytes_verified += keep;
			large_live -= s->large;
			live -= s->size;
			s->p = q;
			s->size = size;
			s->tag = next_tag++;
			s->large = size >= MiB;
			large_live += s->large;
			live += size;
			out->bytes_allocated += size;
			fill(q, size, s->tag);
		} else {
			out->corrupt += verify(s->p, s->size, s->tag);
			out->bytes_verified += s->size;
			free(s->p);
			out->frees++;
			large_live -= s->large;
			live -= s->size;
			s->p = NULL;
		}
	}
	for (i = 0; i < n; i++) {
		if (slots[i].p) {
			out->corrupt += verify(slots[i].p, slots[i].size, slots[i].tag);
			out->bytes_verified += slots[i].size;
			free(slots[i].p);
			out->frees++;
		}
	}
	out->elapsed_us = pf->now_us(pf->ctx) - t0;
	free(slots);
	return out->corrupt != 0 || out->failed != 0;
}

/* ---------------------------------------------------------------- speed -- */

int sample_speed(const sample_platform_t *pf, const sample_config_t *cfg, uint32_t seed, sample_speed_result_t *out)
{
	unsigned batch = cfg->speed_batch ? cfg->speed_batch : 1, round, i;
	unsigned char **ptrs = malloc(batch * sizeof *ptrs);
	uint32_t r = seed ? seed : 1;
	uint64_t t0;
	int failed = 0;

	memset(out, 0, sizeof *out);
	sample_sink = ptrs;
	if (!ptrs)
		return 1;
	t0 = pf->now_us(pf->ctx);
	for (round = 0; round < cfg->speed_rounds; round++) {
		for (i = 0; i < batch; i++) {
			ptrs[i] = malloc(16 + rnd(&r) % 497); /* 16 .. 512 bytes */
			if (ptrs[i])
				ptrs[i][0] = (unsigned char)i;
			else
				failed = 1;
		}
		for (i = batch - 1; i > 0; i--) { /* free in a random order */
			unsigned j = rnd(&r) % (i + 1);
			unsigned char *t = ptrs[i];
			ptrs[i] = ptrs[j];
			ptrs[j] = t;
		}
		for (i = 0; i < batch; i++)
			free(ptrs[i]);
		out->ops += 2ull * batch;
	}
	out->elapsed_us = pf->now_us(pf->ctx) - t0;
	free(ptrs);
	return failed;
}

/* --------------------------------------------------------------- growth -- */

int sample_growth(const sample_platform_t *pf, const sample_config_t *cfg, sample_report_t *rep)
{
	const size_t block = 64 * KiB;
	size_t n = cfg->growth_bytes / block, i, got = 0;
	unsigned char **blocks = calloc(n ? n : 1, sizeof *blocks);
	unsigned long long bad = 0;
	vitalloc_stats_t s;
	int failures = rep->failures;
	char a[24], b[24], c[24], d[24];

	sample_sink = blocks;
	if (!sample_check(pf, rep, blocks != NULL, "growth: block table"))
		return 1;
	vitalloc_trim(0);
	vitalloc_stats(&s);
	rep->growth_reserved_before = s.reserved;
	rep->growth_free_before = free_memory(pf);
	for (i = 0; i < n; i++) {
		blocks[i] = malloc(block);
		sample_sink = blocks[i];
		if (!blocks[i])
			break;
		fill(blocks[i], block, (uint32_t)i);
		got++;
	}
	vitalloc_stats(&s);
	rep->growth_reserved_peak = s.reserved;
	rep->growth_free_peak = free_memory(pf);
	for (i = 0; i < got; i++) {
		bad += verify(blocks[i], block, (uint32_t)i);
		free(blocks[i]);
	}
	free(blocks);
	vitalloc_trim(0);
	vitalloc_stats(&s);
	rep->growth_reserved_after = s.reserved;
	rep->growth_free_after = free_memory(pf);

	sample_check(pf, rep, got == n, "growth: every 64 KiB block allocated");
	sample_check(pf, rep, bad == 0, "growth: contents intact");
	sample_check(pf, rep, rep->growth_reserved_peak >= got * block, "growth: vitalloc held what was asked");
	sample_check(pf, rep, rep->growth_reserved_after <= rep->growth_reserved_before + rep->growth_reserved_peak / 8,
		     "growth: memory given back after free + trim");
	sample_printf(pf, "[grow]  %s in 64 KiB blocks, freed, trimmed (newlib would keep it)",
		      sample_size(a, (unsigned long long)got * block));
	sample_printf(pf, "        vitalloc held %s -> %s -> %s", sample_size(b, rep->growth_reserved_before),
		      sample_size(c, rep->growth_reserved_peak), sample_size(d, rep->growth_reserved_after));
	if (rep->growth_free_before >= 0)
		sample_printf(pf, "        free main memory %s -> %s -> %s", free_str(a, rep->growth_free_before),
			      free_str(b, rep->growth_free_peak), free_str(c, rep->growth_free_after));
	return rep->failures - failures;
}

/* ------------------------------------------------------------------ run -- */

static void print_churn(const sample_platform_t *pf, const sample_config_t *cfg, const sample_churn_result_t *c)
{
	char a[24], b[24];
	sample_printf(pf, "[churn] %llu ops on %u slots, sizes 1 B - 4 MiB: %llu ms", c->ops, cfg->churn_slots,
		      (unsigned long long)(c->elapsed_us / 1000));
	sample_printf(pf, "        %s allocated, %s verified: %llu corrupt, %llu failed", sample_size(a, c->bytes_allocated),
		      sample_size(b, c->bytes_verified), c->corrupt, c->failed);
}

static unsigned long long ns_per_call(const sample_speed_result_t *s)
{
	return s->ops ? (unsigned long long)s->elapsed_us * 1000 / s->ops : 0;
}

static void print_speed(const sample_platform_t *pf, const sample_speed_result_t *s)
{
	sample_printf(pf, "[speed] %llu malloc + free of 16-512 B: %llu ms, %llu ns per call", s->ops,
		      (unsigned long long)(s->elapsed_us / 1000), ns_per_call(s));
}

int sample_run(const sample_platform_t *pf, const sample_config_t *cfg, sample_report_t *rep)
{
	char a[24], b[24];
	void *probe;
	int rc;

	memset(rep, 0, sizeof *rep);
	rep->growth_free_before = rep->growth_free_peak = rep->growth_free_after = -1;
	rep->reserved_free_memory = -1;

	/* Is vitalloc the heap? After one malloc, its counter moves. */
	vitalloc_stats(&rep->at_start);
	probe = malloc(1);
	sample_sink = probe;
	free(probe);
	{
		vitalloc_stats_t s;
		vitalloc_stats(&s);
		rep->vitalloc_is_heap = s.malloc_calls > rep->at_start.malloc_calls;
	}
	sample_printf(pf, "vitalloc sample -- malloc is vitalloc's: %s (malloc_calls before: %llu)",
		      rep->vitalloc_is_heap ? "yes" : "NO", (unsigned long long)rep->at_start.malloc_calls);
	if (!sample_check(pf, rep, rep->vitalloc_is_heap, "malloc is not vitalloc's: put vitalloc before -lc"))
		return rep->failures;

	sample_c_part(pf, rep);
	phase(pf, SAMPLE_PHASE_C);
	sample_cpp_part(pf, rep);
	sample_gpu_part(pf, rep);
	phase(pf, SAMPLE_PHASE_CPP);

	rc = sample_churn(pf, cfg, 12345, &rep->churn[0]);
	print_churn(pf, cfg, &rep->churn[0]);
	sample_check(pf, rep, rc == 0, "churn: every block intact, no failure");
	sample_check(pf, rep, vitalloc_check() == 0, "churn: vitalloc_check()");
	rc = sample_speed(pf, cfg, 777, &rep->speed[0]);
	print_speed(pf, &rep->speed[0]);
	sample_check(pf, rep, rc == 0, "speed: no failure");
	phase(pf, SAMPLE_PHASE_CHURN);

	sample_growth(pf, cfg, rep);
	phase(pf, SAMPLE_PHASE_GROWTH);

	if (pf->reserve && cfg->newlib_heap_bytes) {
		uint64_t t0 = pf->now_us(pf->ctx);
		sample_printf(pf, "-- second run: %s held up front, as newlib's start-up heap is --",
			      sample_size(a, cfg->newlib_heap_bytes));
		if (pf->reserve(pf->ctx, cfg->newlib_heap_bytes) == 0) {
			rep->second_run = 1;
			rep->reserve_us = pf->now_us(pf->ctx) - t0;
			rep->reserved_free_memory = free_memory(pf);
			sample_printf(pf, "[hold]  %s taken in %llu us%s%s", sample_size(a, cfg->newlib_heap_bytes),
				      (unsigned long long)rep->reserve_us,
				      rep->reserved_free_memory >= 0 ? "; free main memory now " : "",
				      rep->reserved_free_memory >= 0 ? free_str(b, rep->reserved_free_memory) : "");
			rc = sample_churn(pf, cfg, 12345, &rep->churn[1]);
			print_churn(pf, cfg, &rep->churn[1]);
			sample_check(pf, rep, rc == 0, "second churn: every block intact, no failure");
			rc = sample_speed(pf, cfg, 777, &rep->speed[1]);
			print_speed(pf, &rep->speed[1]);
			sample_check(pf, rep, rc == 0, "second speed: no failure");
			phase(pf, SAMPLE_PHASE_RESERVED);
			pf->release(pf->ctx);
		} else {
			sample_printf(pf, "[hold]  could not take %s (not enough free memory): skipped",
				      sample_size(a, cfg->newlib_heap_bytes));
		}
	}

	/* The comparison. */
	sample_printf(pf, "-- vitalloc vs newlib's pattern (%s held from start to exit) --",
		      sample_size(a, cfg->newlib_heap_bytes));
	sample_printf(pf, "  %-26s %-17s %s", "", "vitalloc", "newlib's pattern");
	if (rep->second_run) {
		snprintf(a, sizeof a, "%llu ms", (unsigned long long)(rep->churn[0].elapsed_us / 1000));
		snprintf(b, sizeof b, "%llu ms", (unsigned long long)(rep->churn[1].elapsed_us / 1000));
		sample_printf(pf, "  %-26s %-17s %s", "churn", a, b);
		snprintf(a, sizeof a, "%llu ns", ns_per_call(&rep->speed[0]));
		snprintf(b, sizeof b, "%llu ns", ns_per_call(&rep->speed[1]));
		sample_printf(pf, "  %-26s %-17s %s", "malloc + free, per call", a, b);
	}
	sample_size(a, rep->churn[0].peak_reserved);
	strcat(a, " at peak");
	sample_size(b, cfg->newlib_heap_bytes);
	strcat(b, " always");
	sample_printf(pf, "  %-26s %-17s %s", "heap memory held", a, b);
	if (rep->churn[0].free_memory_low >= 0)
		sample_printf(pf, "  %-26s %-17s %s", "free main memory, lowest", free_str(a, rep->churn[0].free_memory_low),
			      rep->second_run ? free_str(b, rep->churn[1].free_memory_low) : "-");
	sample_printf(pf, "  (the churn needed %s live at its peak)", sample_size(a, rep->churn[0].peak_live_bytes));

	vitalloc_stats(&rep->at_end);
	sample_print_stats(pf, "heap", &rep->at_end);
	sample_check(pf, rep, vitalloc_check() == 0, "vitalloc_check() at the end");
	phase(pf, SAMPLE_PHASE_DONE);
	if (rep->failures)
		sample_printf(pf, "RESULT: FAILED, %d of %d checks", rep->failures, rep->checks);
	else
		sample_printf(pf, "RESULT: ok, %d checks", rep->checks);
	return rep->failures;
}
