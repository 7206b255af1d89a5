/*
 * sim_selftest_nosbrk.c -- proves the link-order mechanism vitalloc relies
 * on (DESIGN section 1): a library before libsim_sbrk.a that defines the
 * four sbrk.o globals keeps the simulated sbrk.o -- and its 128 MiB
 * reservation -- out of the program, and its _init_vita_heap runs before
 * main (on ARM: with TPIDRURO already set up). Link: sim_crt.o, this,
 * libsim_fake_heap.a, libsim_sbrk.a, libsim_kernel.a, -lc.
 */
#include <stdio.h>
#include <stdlib.h>
#include "sim_kernel.h"

extern int sim_fake_heap_initialised;
extern unsigned long sim_fake_heap_tp_at_init;

int main(void)
{
	sim_counters_t c;
	int ok;
	char *p;
	sim_get_counters(&c); /* before anything else touches the kernel */
	p = malloc(100);      /* newlib (ARM) / glibc (host): not from a memblock */
	ok = c.live_blocks == 0 && c.alloc_calls == 0 && sim_fake_heap_initialised == 1 && p &&
	     sceKernelFindMemBlockByAddr(p, 1) < 0;
#if defined(__arm__) && !defined(__linux__)
	/* sim_crt set TPIDRURO (the main thread's TLS) before _init_vita_heap */
	ok = ok && sim_fake_heap_tp_at_init != 0 &&
	     sim_fake_heap_tp_at_init == (unsigned long)sceKernelGetTLSAddr(0) - (unsigned long)sim_tls_slot_offset();
#endif
	free(p);
	printf("sim_selftest_nosbrk: %s (live blocks %u, fake _init_vita_heap calls %d)\n", ok ? "ok" : "FAILED",
	       c.live_blocks, sim_fake_heap_initialised);
	return ok ? 0 : 1;
}
