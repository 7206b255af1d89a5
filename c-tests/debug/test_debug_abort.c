/*
 * test_debug_abort -- one heap bug per program (chosen at compile time with
 * -DVT_SCENARIO=<name>), linked with the debug build (vitalloc::debug),
 * which must end the program with one exact line on stderr, e.g.
 *     vitalloc: free(0x55d0c0a3b2c0): buffer overrun after block
 *     0x55d0c0a3b2c0 of 10 bytes, allocated by 0x55d0bf8011a3; aborting
 *
 * Each scenario is one function that allocates (and frees) the block
 * itself; it prints VT_FN=<its own address> and VT_ADDR=<the block> on
 * stdout first, and common/check_abort.cmake checks the line: the call,
 * the block's address, its size, and that every recorded caller ("by
 * 0x...") lies inside that function. If the bug goes unnoticed the
 * program prints "NOT DETECTED" and exits 0, which fails the test.
 */
#include "vt_test.h"

#ifndef VT_SCENARIO
#error "compile with -DVT_SCENARIO=<scenario name>"
#endif

#define VT_CAT_(a, b) a##b
#define VT_CAT(a, b) VT_CAT_(a, b)
#define SCENARIO(name) static __attribute__((noinline, unused)) void VT_CAT(scenario_, name)(void)

static void *volatile sink;

static void announce(void (*fn)(void), const void *p)
{
	printf("VT_FN=0x%llx\nVT_ADDR=0x%llx\n", VT_U((uintptr_t)fn), VT_U((uintptr_t)p));
	fflush(stdout);
}

/* One byte past a 10-byte block, found by free. */
SCENARIO(overrun_free)
{
	unsigned char *p = malloc(10);
	announce(scenario_overrun_free, p);
	((unsigned char *)vt_ptr(p))[10] = 'x';
	free(p);
}

/* Three bytes past a 24-byte block, found by realloc. */
SCENARIO(overrun_realloc)
{
	unsigned char *p = malloc(24);
	announce(scenario_overrun_realloc, p);
	((unsigned char *)vt_ptr(p))[26] = 0;
	sink = realloc(p, 100);
}

/* A large block (its own memblock), one byte past its end. */
SCENARIO(overrun_large)
{
	unsigned char *p = malloc(3000000);
	announce(scenario_overrun_large, p);
	((unsigned char *)vt_ptr(p))[3000000] = 0;
	free(p);
}

/* The byte before a block: its header's tag. */
SCENARIO(underrun_free)
{
	unsigned char *p = malloc(32);
	announce(scenario_underrun_free, p);
	((unsigned char *)vt_ptr(p))[-1] ^= 0x40;
	free(p);
}

/* A write into a freed block, found when the block leaves the quarantine
 * (1 MiB of later frees push it out) -- i.e. before its memory is reused. */
SCENARIO(write_after_free)
{
	unsigned char *p = malloc(64);
	announce(scenario_write_after_free, p);
	free(p);
	((unsigned char *)vt_ptr(p))[3] = 1;
	for (int i = 0; i < 2000; i++)
		free(malloc(1000));
}

SCENARIO(double_free)
{
	unsigned char *p = malloc(32);
	announce(scenario_double_free, p);
	free(p);
	free(vt_ptr(p));
}

SCENARIO(free_stack)
{
	char local[64];
	sink = local;
	announce(scenario_free_stack, local + 16);
	free(vt_ptr(local + 16));
}

int main(void)
{
	VT_CAT(scenario_, VT_SCENARIO)();
	printf("NOT DETECTED\n");
	return 0;
}
