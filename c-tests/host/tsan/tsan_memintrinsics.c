/*
 * tsan_memintrinsics.c -- __tsan_memcpy and __tsan_memset for the TSan
 * build of libvitalloc.a linked by gcc.
 *
 * rustc's LLVM (16 and later) turns the copies and fills of instrumented
 * code into calls to __tsan_memcpy/__tsan_memset; gcc 12's libtsan
 * predates them (it has every other __tsan_* entry the library calls). In
 * LLVM's runtime they are the checked memcpy/memset, which is what the
 * calls below are: this file is compiled with -fno-builtin, so they reach
 * libtsan's memcpy/memset interceptors, which record the accesses to both
 * ranges before copying.
 */
#include <string.h>

void *__tsan_memcpy(void *dst, const void *src, size_t n);
void *__tsan_memset(void *dst, int c, size_t n);

void *__tsan_memcpy(void *dst, const void *src, size_t n)
{
	return memcpy(dst, src, n);
}

void *__tsan_memset(void *dst, int c, size_t n)
{
	return memset(dst, c, n);
}
