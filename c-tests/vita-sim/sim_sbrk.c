/*
 * sim_sbrk.c -- simulates VitaSDK's sbrk.o (newlib's sys/vita heap).
 *
 * Defines exactly the four globals VitaSDK's sbrk.o defines:
 * _init_vita_heap, _free_vita_heap, _get_vita_heap_size and _sbrk_r.
 * _init_vita_heap reserves ONE memblock of type USER_RW named "Newlib heap"
 * of _newlib_heap_size_user bytes from the simulated kernel (even if the
 * program never allocates) and _sbrk_r bumps a pointer inside it under an
 * LwMutex; the heap never grows. The default size (128 MiB) is a weak
 * definition in its own member, sim_heap_size_default.o, which only this
 * object's strong reference pulls in: a program's own definition wins.
 *
 * It lives alone in libsim_sbrk.a, linked AFTER libvitalloc.a and before
 * -lc: when vitalloc defines the four globals this member is never
 * extracted, and no heap block is reserved. It must therefore never define
 * any other global symbol, and must never call malloc & co.
 */
#include <errno.h> /* newlib's defines __NEWLIB__ */
#include <stddef.h>
#include "sim_kernel.h"

#ifdef __NEWLIB__
#include <reent.h>
#else
struct _reent { int _errno; }; /* host: only the errno field is used */
#endif

extern unsigned int _newlib_heap_size_user; /* strong: see sim_heap_size_default.c */

static SceUID heap_uid = -1;
static unsigned int heap_size;
static char *heap_base, *heap_cur, *heap_end;
static SceKernelLwMutexWork sbrk_mutex __attribute__((aligned(8)));

void _init_vita_heap(void)
{
	void *base = NULL;
	/* like VitaSDK: never sets errno here (reent not set up yet) */
	if (sceKernelCreateLwMutex(&sbrk_mutex, "sbrk mutex", 0, 0, NULL) < 0)
		return;
	heap_size = _newlib_heap_size_user;
	heap_uid = sceKernelAllocMemBlock("Newlib heap", SIM_MEMBLOCK_TYPE_USER_RW, heap_size, NULL);
	if (heap_uid < 0 || sceKernelGetMemBlockBase(heap_uid, &base) < 0) {
		heap_uid = -1;
		heap_size = 0;
		return;
	}
	heap_base = heap_cur = base;
	heap_end = heap_base + heap_size;
}

void _free_vita_heap(void)
{
	sceKernelDeleteLwMutex(&sbrk_mutex);
	if (heap_uid >= 0)
		sceKernelFreeMemBlock(heap_uid);
	heap_uid = -1;
	heap_base = heap_cur = heap_end = NULL;
}

int _get_vita_heap_size(void)
{
	return (int)heap_size;
}

void *_sbrk_r(struct _reent *r, ptrdiff_t incr)
{
	char *prev;
	if (heap_base == NULL) {
		r->_errno = ENOMEM;
		return (void *)-1;
	}
	sceKernelLockLwMutex(&sbrk_mutex, 1, NULL);
	if (incr > heap_end - heap_cur || incr < heap_base - heap_cur) {
		sceKernelUnlockLwMutex(&sbrk_mutex, 1);
		r->_errno = ENOMEM;
		return (void *)-1;
	}
	prev = heap_cur;
	heap_cur += incr;
	sceKernelUnlockLwMutex(&sbrk_mutex, 1);
	return prev;
}
