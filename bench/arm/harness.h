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
 */
#ifndef VTB_HARNESS_H
#define VTB_HARNESS_H

#ifdef __cplusplus
extern "C" {
#endif

void vtb_begin(void); /* noinline; counting starts here */
void vtb_end(void);   /* noinline; counting stops here */
void vtb_report(const char *name, unsigned long long peak_live); /* prints "vtb: <name> peak_live=<n> kernel_peak=<n> sbrk_peak=<n>" to stdout */

#ifdef __cplusplus
}
#endif
#endif /* VTB_HARNESS_H */
