/* Self-test of the TCG plugin (bench/arm/plugin/vtb_plugin.c): calls the
   hand-counted "allocator" of fake_alloc.S and prints what the plugin must
   report; bench/arm/run.sh compares the two lines. */
#include <stdint.h>
#include <stdio.h>
#include "harness.h"

void fa_entry(unsigned n);
void fa_inner(unsigned n);
void fh_helper(unsigned n);

volatile unsigned sink;

/* Foreign code the allocator calls (not counted). */
__attribute__((noinline)) void outside_fn(void);
__attribute__((noinline)) void outside_fn(void)
{
	for (unsigned i = 0; i < 10; i++)
		sink += i;
}

int main(void)
{
	unsigned long long insns = 0, calls = 0, max = 0, helper = 0;
	fa_entry(1000); /* before vtb_begin: not counted */
	vtb_begin();
	for (unsigned i = 1; i <= 10; i++) {
		unsigned n = 37 * i, c = 7 * n + 10;
		fa_entry(n);
		insns += c;
		calls++;
		helper += 3 * n + 1;
		if (c > max)
			max = c;
		fh_helper(n); /* a helper called from outside: not counted */
	}
	fa_inner(100); /* an entry point reached from outside: a new call */
	insns += 201;
	calls++;
	vtb_end();
	fa_entry(2000); /* after vtb_end: not counted */
	/* the largest call is the 10th, fa_entry's (its address without the Thumb bit) */
	printf("expect insns=%llu calls=%llu max_call=%llu helper=%llu max_at=0x%x max_index=10\n", insns, calls, max,
	       helper, (unsigned)(uintptr_t)fa_entry & ~1u);
	return 0;
}
