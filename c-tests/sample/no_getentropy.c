/*
 * no_getentropy.c -- linked into the sample's ARM programs (sample_test,
 * vita_main_fake): Debian's arm-none-eabi libstdc++ (std::random_device,
 * reached from the exception classes every container can throw) calls
 * newlib's arc4random, which needs getentropy; rdimon has none. Never
 * called.
 */
#include <errno.h>
#include <stddef.h>

int getentropy(void *buf, size_t len);
int getentropy(void *buf, size_t len)
{
	(void)buf;
	(void)len;
	errno = ENOSYS;
	return -1;
}
