/*
 * package-smoke/main.c -- a program linked with vitalloc only through its
 * CMake package. It checks with vitalloc_stats() that its own allocations,
 * the C library's (printf's buffer, strdup) and the C++ part's (extra.cpp)
 * all reached vitalloc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitalloc.h"

int smoke_cxx(void); /* extra.cpp: C++ allocations; returns how many */

static int failures;
#define CHECK(e)                                                                                                       \
	do {                                                                                                           \
		if (!(e)) {                                                                                            \
			printf("package-smoke: check failed: %s\n", #e);                                               \
			failures++;                                                                                    \
		}                                                                                                      \
	} while (0)

int main(void)
{
	vitalloc_stats_t s0, s1, s2, s3;
	char *dup, *own;
	int n;

	vitalloc_stats(&s0);
	printf("package-smoke: printf %d %.2f\n", 42, 2.5);
	fflush(stdout);

	/* The C library allocates (strdup): vitalloc serves it. */
	dup = strdup("a string copied by the C library");
	vitalloc_stats(&s1);
	CHECK(dup != NULL);
	CHECK(s1.malloc_calls > s0.malloc_calls);
	/* vitalloc_usable_size ends the program on a block vitalloc never made. */
	CHECK(dup && vitalloc_usable_size(dup) >= strlen(dup) + 1);

	/* The program's own malloc. */
	own = malloc(1000);
	vitalloc_stats(&s2);
	CHECK(own != NULL && vitalloc_usable_size(own) >= 1000);
	CHECK(s2.allocations == s1.allocations + 1);
	memset(own, 'x', 1000);
	printf("package-smoke: %s, %.3s\n", dup, own);
	free(own);
	free(dup);

	/* C++: operator new and the containers. */
	n = smoke_cxx();
	vitalloc_stats(&s3);
	CHECK(n > 0);
	CHECK(s3.malloc_calls >= s2.malloc_calls + (unsigned)n);
	CHECK(s3.allocations == s1.allocations - 1);
	CHECK(vitalloc_check() == 0);

	printf("package-smoke: malloc_calls %llu, free_calls %llu, in use %llu bytes\n",
	       (unsigned long long)s3.malloc_calls, (unsigned long long)s3.free_calls,
	       (unsigned long long)s3.in_use);
	printf("package-smoke: %s\n", failures ? "FAILED" : "ok");
	return failures != 0;
}
