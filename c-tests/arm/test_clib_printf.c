/*
 * test_clib_printf -- on the Vita every line vitalloc prints goes through
 * sceClibPrintf (the kernel's debug output, which catlog / PrincessLog /
 * psp2shell show), never through newlib's stdio, and then to the error
 * hook. The simulated kernel keeps the last sceClibPrintf line.
 *
 *  1. vitalloc_check() on a heap with a word of a free object overwritten
 *     returns 1; exactly one sceClibPrintf line, "vitalloc: vitalloc_check:
 *     span: a free object was written to (write after free?) (at 0x<the
 *     object>)"; the hook got that very line, after it was printed. With
 *     the word restored, vitalloc_check() is 0 and prints nothing.
 *  2. malloc_stats() prints newlib's lines and vitalloc's through
 *     sceClibPrintf.
 *  3. A double free: "vitalloc: free(0x<p>): double free (...); aborting"
 *     is printed by sceClibPrintf before the hook runs; the hook checks it
 *     and ends the program with _exit(0) (the abort would come next).
 */
#include <unistd.h>

#include "vt_test.h"
#include "arm_sim.h"

static char hooked[SIM_CLIB_PRINTF_MAX];
static unsigned hook_calls, printed_before_hook;
static void *double_freed;

static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0) { /* nothing to do */
	}
}

/* Parts 1 and 2: record. */
static void record_hook(const char *msg)
{
	hook_calls++;
	printed_before_hook = sim_clib_printf_count();
	strncpy(hooked, msg, sizeof hooked - 1);
}

/* Part 3: the program ends here. No stdio and no allocation. */
static void final_hook(const char *msg)
{
	char want[128], *w = want;
	static const char head[] = "vitalloc: free(0x";
	memcpy(w, head, sizeof head - 1);
	w += sizeof head - 1;
	uintptr_t a = (uintptr_t)double_freed;
	char hex[16];
	int n = 0;
	do {
		hex[n++] = "0123456789abcdef"[a & 15];
		a >>= 4;
	} while (a);
	while (n)
		*w++ = hex[--n];
	*w = 0;
	int ok = strcmp(sim_clib_printf_last(), msg) == 0 && strncmp(msg, want, strlen(want)) == 0 &&
		 strstr(msg, "): double free") && strstr(msg, "; aborting\n");
	say(ok ? "test_clib_printf: ok (the double free went through sceClibPrintf, then the hook)\n"
	       : "test_clib_printf: FAILED (the double free's line)\n");
	if (!ok) {
		say("  printed: ");
		say(sim_clib_printf_last());
		say("  hook:    ");
		say(msg);
	}
	_exit(ok ? 0 : 1);
}

int main(void)
{
	vt_start("test_clib_printf");
	vitalloc_set_error_hook(record_hook);

	/* 1. A free object's second word (its double-free mark) overwritten. */
	uintptr_t *keep = malloc(32), *p = malloc(32);
	VT_REQUIRE(keep && p);
	free(p);
	uintptr_t saved = p[1];
	p[1] = 0x12345678u;
	unsigned before = sim_clib_printf_count();
	VT_CHECK_EQ(vitalloc_check(), 1);
	VT_CHECK_EQ(sim_clib_printf_count(), before + 1);
	VT_CHECK_EQ(hook_calls, 1);
	VT_CHECK_EQ(printed_before_hook, before + 1);
	char want[160];
	snprintf(want, sizeof want,
		 "vitalloc: vitalloc_check: span: a free object was written to (write after free?) (at 0x%lx)\n",
		 (unsigned long)(uintptr_t)p);
	VT_CHECK(strcmp(sim_clib_printf_last(), want) == 0);
	VT_CHECK(strcmp(hooked, want) == 0);
	printf("  printed: %s", sim_clib_printf_last());
	p[1] = saved;
	before = sim_clib_printf_count();
	VT_CHECK_EQ(vitalloc_check(), 0);
	VT_CHECK_EQ(sim_clib_printf_count(), before);
	VT_CHECK_EQ(hook_calls, 1);

	/* 2. malloc_stats. */
	before = sim_clib_printf_count();
	malloc_stats();
	VT_CHECK_EQ(sim_clib_printf_count(), before + 5); /* newlib's three lines (one call), four of vitalloc's */
	VT_CHECK(as_starts_with(sim_clib_printf_last(), "vitalloc: "));
	VT_CHECK(strstr(sim_clib_printf_last(), " thread heaps; limit ") != NULL);
	VT_CHECK_EQ(hook_calls, 1);
	free(keep);

	if (vt_done("test_clib_printf (parts 1, 2)") != 0)
		return 1;

	/* 3. */
	vitalloc_set_error_hook(final_hook);
	void *q = malloc(48), *neighbour = malloc(48);
	VT_REQUIRE(q && neighbour);
	double_freed = q;
	free(q);
	free(vt_ptr(q));
	say("test_clib_printf: FAILED (the double free was not detected)\n");
	return 1;
}
