/*
 * test_link -- the link test (DESIGN.md section 1): a program that never
 * calls malloc & co. itself, only printf, strdup and fopen/fputs/fclose,
 * must still have its C library's allocations served by vitalloc.
 *
 * Proof: vitalloc_stats() shows allocating calls, the block strdup
 * returned is one vitalloc knows (vitalloc_usable_size would end the
 * program on a foreign pointer), and the counters move with each libc call.
 * Only vitalloc_* functions are referenced from here; nothing in this file
 * names malloc, free, or any other standard allocation function.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vitalloc.h"

static int failures;
#define CHECK(e)                                                               \
	do {                                                                   \
		if (!(e)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #e);                                 \
			failures++;                                            \
		}                                                              \
	} while (0)

int main(void)
{
	vitalloc_stats_t s0, s1, s2, s3;
	vitalloc_stats(&s0);

	printf("test_link: %s %d %.3f\n", "printf", 42, 3.25);
	fflush(stdout);
	vitalloc_stats(&s1);

	char *dup = strdup("a string copied by the C library");
	CHECK(dup != NULL);
	vitalloc_stats(&s2);
	CHECK(s2.malloc_calls > s1.malloc_calls);
	CHECK(s2.allocations == s1.allocations + 1);
	if (dup) {
		/* Aborts if dup is not a vitalloc block. */
		size_t us = vitalloc_usable_size(dup);
		CHECK(us >= strlen(dup) + 1);
		CHECK(s2.in_use - s1.in_use == us);
	}

	/* fopen allocates the FILE (glibc) or its buffer (newlib). */
	const char *path = "vitalloc_test_link.tmp";
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("hello from test_link\n", f);
		fprintf(f, "%d\n", 1234);
		CHECK(fclose(f) == 0);
		remove(path);
	}
	vitalloc_stats(&s3);
	CHECK(s3.malloc_calls > s2.malloc_calls);
	CHECK(s3.free_calls > s2.free_calls);

	printf("test_link: malloc_calls %llu (before printf %llu), free_calls %llu, "
	       "allocations %llu\n",
	       (unsigned long long)s3.malloc_calls,
	       (unsigned long long)s0.malloc_calls,
	       (unsigned long long)s3.free_calls, (unsigned long long)s3.allocations);
	/* The heart of it: libc's own allocations went to vitalloc. */
	CHECK(s3.malloc_calls > 0);
	CHECK(vitalloc_check() == 0);
	printf("test_link: %s\n", failures ? "FAILED" : "ok");
	return failures != 0;
}
