/*
 * sim_fake_heap.c -- stands in for libvitalloc.a in sim_selftest_nosbrk:
 * defines the four globals of VitaSDK's sbrk.o (and no memblock), so that,
 * linked before libsim_sbrk.a, the simulated sbrk.o is never extracted.
 * Its _sbrk_r bumps inside a small static arena so newlib's malloc (used by
 * printf on ARM) still works; on ARM it records TPIDRURO as it was when
 * _init_vita_heap ran. A test double: never used by vitalloc itself.
 */
#include <errno.h>
#include <stddef.h>
#ifdef __NEWLIB__
#include <reent.h>
#else
struct _reent { int _errno; };
#endif

int sim_fake_heap_initialised;
/* ARM: TPIDRURO when _init_vita_heap ran (sim_crt must have set it up
   first, as an allocator's fast path reads it from the first call). */
unsigned long sim_fake_heap_tp_at_init;
static char arena[256 * 1024] __attribute__((aligned(8)));
static size_t used;

void _init_vita_heap(void)
{
	sim_fake_heap_initialised++;
#if defined(__arm__) && !defined(__linux__)
	{
		unsigned long tp;
		__asm__ volatile("mrc p15, 0, %0, c13, c0, 3" : "=r"(tp));
		sim_fake_heap_tp_at_init = tp;
	}
#endif
}
void _free_vita_heap(void) { }
int _get_vita_heap_size(void) { return (int)sizeof arena; }

void *_sbrk_r(struct _reent *r, ptrdiff_t incr)
{
	char *prev = arena + used;
	if (incr > (ptrdiff_t)(sizeof arena - used) || incr < -(ptrdiff_t)used) {
		r->_errno = ENOMEM;
		return (void *)-1;
	}
	used += incr;
	return prev;
}
