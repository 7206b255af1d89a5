/*
 * harness.h -- the pieces every ARM benchmark program shares (bench/arm).
 *
 * A program calls vtb_begin() right before the allocator calls it wants
 * measured and vtb_end() right after; the TCG plugin (plugin/vtb_plugin.c)
 * counts the allocator's instructions between the two. vtb_report() then
 * prints the memory figures on one line of stdout, which bench/arm/run.sh
 * reads:
 *   vtb: <name> peak_live=<n> kernel_peak=<n> sbrk_peak=<n>
 * peak_live is the program's own figure (largest sum of requested sizes of
 * live blocks); kernel_peak is the simulated kernel's memblock peak (for
 * vitalloc, what it held); sbrk_peak is newlib's sbrk high-water mark (the
 * highest break minus the first one; 0 when newlib's malloc is not linked
 * or the program is not linked with -Wl,--wrap=_sbrk_r).
 *
 * The workloads' PRNG and live-bytes accounting live here too, so every
 * program draws its decisions the same way: never from an address the
 * allocator returned, so every allocator sees the same calls.
 */
#ifndef VTB_HARNESS_H
#define VTB_HARNESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void vtb_begin(void); /* noinline; counting starts here */
void vtb_end(void);   /* noinline; counting stops here */
void vtb_report(const char *name, unsigned long long peak_live); /* prints "vtb: <name> peak_live=<n> kernel_peak=<n> sbrk_peak=<n>" to stdout */


/* The PRNG: xorshift64, seeded once before the workload (the state must
   not be 0). Uniform draws use multiply-shift, not division, which the
   A9 lacks. */
void vtb_seed(uint64_t seed);
uint32_t vtb_next(void);                         /* 32 random bits */
uint32_t vtb_below(uint32_t n);                  /* uniform in 0..n-1 */
uint32_t vtb_range(uint32_t lo, uint32_t hi);    /* uniform in lo..hi */
uint32_t vtb_log_range(uint32_t lo, uint32_t hi); /* roughly log-uniform in lo..hi, lo a power of two */

/* The program's live requested bytes and their peak (the peak_live of
   vtb_report): vtb_live_add() after each allocation, vtb_live_sub() after
   each free; a realloc is both. */
void vtb_live_add(unsigned long long n);
void vtb_live_sub(unsigned long long n);
unsigned long long vtb_live(void);
unsigned long long vtb_peak_live(void);

#ifdef __cplusplus
}
#endif
#endif /* VTB_HARNESS_H */
