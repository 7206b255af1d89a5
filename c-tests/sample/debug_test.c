/*
 * debug_test.c -- a program linked with vitalloc::debug through the CMake
 * package (c-tests/sample on host and ARM, and package-smoke as a
 * two-line project): the debug build is the heap -- fresh blocks hold
 * 0xCD, usable size is the request, vitalloc_class_stats has entries and
 * vitalloc_dump lists this program's block with its size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitalloc.h"

static int failures;
#define CHECK(e)                                                                                   \
	do {                                                                                       \
		if (!(e)) {                                                                        \
			printf("debug_test: check failed: %s\n", #e);                               \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static char want[96];
static int found;

static void line(const char *l, void *user)
{
	(void)user;
	if (strstr(l, want))
		found++;
}

int main(void)
{
	unsigned char *p = malloc(77);
	CHECK(p != NULL);
	if (!p)
		return 1;
	CHECK(p[0] == 0xCD && p[76] == 0xCD);
	CHECK(vitalloc_usable_size(p) == 77);
	CHECK(vitalloc_class_stats(NULL, 0) > 0);
	snprintf(want, sizeof want, "block %p of 77 bytes, allocated by 0x", (void *)p);
	if (strncmp(want, "block 0x", 8) != 0) /* a %p without 0x (not glibc nor newlib) */
		snprintf(want, sizeof want, "block 0x%lx of 77 bytes, allocated by 0x",
			 (unsigned long)(size_t)p);
	CHECK(vitalloc_dump(line, NULL) >= 1);
	CHECK(found == 1);
	free(p);
	CHECK(vitalloc_check() == 0);
	printf("debug_test: %s\n", failures ? "FAILED" : "ok");
	return failures != 0;
}
