/*
 * sample_logic.h -- the portable part of vitalloc's sample homebrew.
 *
 * Everything the sample shows that is not Vita-specific: a C part and a C++
 * part exercising the allocator through the standard interfaces, a churn
 * test whose block contents are verified, an allocation speed test, a
 * grow-and-give-back test, and a second run of the churn and speed tests
 * while a block as large as newlib's start-up heap (128 MiB) is held, the way
 * newlib's sbrk heap would hold it. Output, the clock, and the memory
 * queries come from the platform through sample_platform_t, so the same code
 * runs on the Vita (main_vita.c), on the host and under qemu with the
 * simulated Vita kernel (c-tests/sample/), where it is tested.
 *
 * Build the C files with -fno-builtin: GCC must not drop the malloc/free
 * pairs the sample makes on purpose.
 */
#ifndef VITALLOC_SAMPLE_LOGIC_H
#define VITALLOC_SAMPLE_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include "vitalloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Phases, reported to sample_platform_t.phase after each one. */
#define SAMPLE_PHASE_C 1          /* the C part */
#define SAMPLE_PHASE_CPP 2        /* the C++ part */
#define SAMPLE_PHASE_CHURN 3      /* churn + speed, vitalloc as it is */
#define SAMPLE_PHASE_GROWTH 4     /* grown, freed and trimmed */
#define SAMPLE_PHASE_RESERVED 5   /* second run, the newlib-sized block still held */
#define SAMPLE_PHASE_DONE 6       /* block released, final statistics taken */

typedef struct sample_platform {
	void *ctx; /* passed back to every callback */
	/* Required: shows/records one line of text (no trailing newline). */
	void (*print)(void *ctx, const char *line);
	/* Required: a monotonic clock in microseconds. */
	uint64_t (*now_us)(void *ctx);
	/* Optional (NULL: unknown): main memory the system can still hand
	   out, in bytes, or -1. */
	long long (*free_memory)(void *ctx);
	/* Optional (NULL: the second run is skipped): takes a block of `bytes`
	   from the system outside vitalloc, the way newlib's start-up code
	   takes its heap; returns 0 on success. release() gives it back. */
	int (*reserve)(void *ctx, size_t bytes);
	void (*release)(void *ctx);
	/* Optional: called after each SAMPLE_PHASE_* (tests check the system's
	   state there). */
	void (*phase)(void *ctx, int phase);
} sample_platform_t;

typedef struct sample_config {
	unsigned churn_slots;       /* live-allocation slots of the churn test */
	unsigned long churn_ops;    /* churn operations */
	unsigned churn_large_live;  /* at most this many live blocks of 1-4 MiB (0: none) */
	unsigned speed_rounds;      /* speed test: rounds of ... */
	unsigned speed_batch;       /* ... this many malloc, then as many free */
	size_t growth_bytes;        /* grown in 64 KiB blocks, then given back */
	size_t newlib_heap_bytes;   /* the second run's block (newlib: 128 MiB) */
} sample_config_t;

typedef struct sample_churn_result {
	unsigned long long ops, mallocs, callocs, aligned, reallocs, frees;
	unsigned long long bytes_allocated; /* total requested */
	unsigned long long bytes_verified;  /* bytes whose contents were checked */
	unsigned long long corrupt;         /* mismatching words or bytes: 0 expected */
	unsigned long long failed;          /* allocations that returned NULL */
	size_t peak_live_bytes;             /* requested bytes live at the peak */
	size_t peak_reserved;               /* vitalloc's reserved bytes at the peak */
	long long free_memory_low;          /* lowest free main memory seen, -1 unknown */
	uint64_t elapsed_us;
} sample_churn_result_t;

typedef struct sample_speed_result {
	unsigned long long ops; /* malloc + free calls */
	uint64_t elapsed_us;
} sample_speed_result_t;

typedef struct sample_report {
	int checks;   /* checks made, all parts */
	int failures; /* checks failed */
	int vitalloc_is_heap;
	vitalloc_stats_t at_start, at_end;
	unsigned long long cpp_allocator_calls; /* vitalloc calls made by the C++ part */
	sample_churn_result_t churn[2];         /* [0] vitalloc alone, [1] with the block held */
	sample_speed_result_t speed[2];
	size_t growth_reserved_before, growth_reserved_peak, growth_reserved_after;
	long long growth_free_before, growth_free_peak, growth_free_after; /* -1 unknown */
	int second_run;                /* 1 when the block could be reserved */
	uint64_t reserve_us;           /* time taken to reserve it */
	long long reserved_free_memory; /* free main memory with it held, -1 unknown */
	size_t gpu_heap_in_use, gpu_heap_reserved; /* the CDRAM heap's, buffers loaded */
} sample_report_t;

/* The configuration the VPK uses (sized for the Vita's 256 MiB). */
void sample_config_default(sample_config_t *cfg);

/* Runs everything in order, printing as it goes, and fills *rep. Returns
   the number of failed checks (0: all good). */
int sample_run(const sample_platform_t *pf, const sample_config_t *cfg, sample_report_t *rep);

/* The parts (sample_run calls them); each returns its failed checks and
   adds to rep->checks / rep->failures. */
int sample_c_part(const sample_platform_t *pf, sample_report_t *rep);
int sample_cpp_part(const sample_platform_t *pf, sample_report_t *rep); /* sample_cpp.cpp */
int sample_gpu_part(const sample_platform_t *pf, sample_report_t *rep); /* sample_gpu.c */
int sample_churn(const sample_platform_t *pf, const sample_config_t *cfg, uint32_t seed,
		 sample_churn_result_t *out);
int sample_speed(const sample_platform_t *pf, const sample_config_t *cfg, uint32_t seed,
		 sample_speed_result_t *out);
int sample_growth(const sample_platform_t *pf, const sample_config_t *cfg, sample_report_t *rep);

/* Helpers shared with sample_cpp.cpp and the platforms. */
void sample_printf(const sample_platform_t *pf, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Records one check: counts it, prints it when it fails. Returns ok. */
int sample_check(const sample_platform_t *pf, sample_report_t *rep, int ok, const char *what);
/* "12.3 MiB", "512 KiB", "100 B" into buf (at least 24 bytes); returns buf. */
char *sample_size(char *buf, unsigned long long bytes);
/* Prints vitalloc_stats() in a few lines. */
void sample_print_stats(const sample_platform_t *pf, const char *title, const vitalloc_stats_t *s);

/* Every block the sample allocates is also stored here, so that no
   compiler can prove it unused and remove the allocation. */
extern void *volatile sample_sink;

#ifdef __cplusplus
}
#endif

#endif /* VITALLOC_SAMPLE_LOGIC_H */
