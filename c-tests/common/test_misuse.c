/*
 * test_misuse -- one misuse per program (chosen at compile time with
 * -DVT_SCENARIO=<name>): vitalloc must end the program with one line on
 * stderr naming the call and the address, e.g.
 *     vitalloc: free(0x55d0c0a3b2c0): double free (...); aborting
 *
 * Before the misuse the program prints `VT_ADDR=0x...` (the pointer it is
 * about to pass) on stdout; check_abort.cmake runs it and checks that it
 * did not exit normally, that stderr has exactly one `vitalloc:` line, and
 * that this line names the expected call and that very address. If the
 * misuse goes unnoticed the program prints "NOT DETECTED" and exits 0,
 * which fails the test.
 *
 * Scenario `hook_double_free` also installs vitalloc_set_error_hook: the
 * hook writes `VT_HOOK:<message>` to stdout with write(2) (it must not call
 * vitalloc, so no stdio), and the checker wants the very same message
 * there.
 */
#include <unistd.h>
#if !defined(__NEWLIB__)
#include <sys/mman.h>
#endif

#include "vt_test.h"

#ifndef VT_SCENARIO
#error "compile with -DVT_SCENARIO=<scenario name>"
#endif

#define VT_CAT_(a, b) a##b
#define VT_CAT(a, b) VT_CAT_(a, b)
#define SCENARIO(name) static __attribute__((unused)) void VT_CAT(scenario_, name)(void)

static struct _reent reent;
static char global_buf[256];
static void *volatile sink; /* results of calls that must not return */

static void announce(const void *p)
{
	printf("VT_ADDR=0x%lx\n", (unsigned long)(uintptr_t)p);
	fflush(stdout);
}

/* Allocates, fills, announces and frees once: the next free is double. */
/* A block freed while another block of its size stays live, as in any
 * program that has other objects of that size class: the slab (or the
 * segment) stays, so the second free is recognised as a double free. */
static void *freed_block(size_t n)
{
	static void *volatile neighbour[8];
	static unsigned used;
	if (used < 8)
		neighbour[used++] = malloc(n);
	(void)neighbour;
	unsigned char *p = malloc(n);
	if (!p) {
		printf("malloc(%lu) failed\n", (unsigned long)n);
		exit(3);
	}
	memset(p, 0x11, n);
	announce(p);
	free(p);
	return vt_ptr(p);
}

static void *live_block(size_t n)
{
	unsigned char *p = malloc(n);
	if (!p) {
		printf("malloc(%lu) failed\n", (unsigned long)n);
		exit(3);
	}
	memset(p, 0, n); /* zeros: an interior pointer finds no valid header */
	return p;
}

static void *stack_pointer(void)
{
	static volatile char *keep;
	char buf[64];
	buf[0] = 1;
	keep = buf;
	(void)keep;
	return vt_ptr(buf);
}

/* ---- double frees ---- */
SCENARIO(free_double_small) { free(freed_block(16)); }
/* The only object of its span: the span is empty after the first free. */
SCENARIO(free_double_last_in_slab)
{
	unsigned char *p = malloc(200);
	announce(p);
	free(p);
	free(vt_ptr(p));
}
/* Far more objects than a thread keeps spans for, all freed: most spans go
 * back to the page allocator and their segments to the system, so the
 * second free finds free pages or memory given back -- still reported as a
 * double free. */
SCENARIO(free_double_small_released)
{
	static unsigned char *ps[2000];
	for (int i = 0; i < 2000; i++)
		ps[i] = live_block(200);
	for (int i = 0; i < 2000; i++)
		free(ps[i]);
	announce(ps[1000]);
	free(vt_ptr(ps[1000]));
}
SCENARIO(free_double_medium) { free(freed_block(5000)); }
SCENARIO(free_double_large) { free(freed_block(4 * VT_MIB)); }
SCENARIO(cfree_double) { cfree(freed_block(100)); }
SCENARIO(free_r_double) { _free_r(&reent, freed_block(48)); }
SCENARIO(vitalloc_free_double) { vitalloc_free(freed_block(5000)); }
SCENARIO(realloc_double) { sink = realloc(freed_block(5000), 10); }
SCENARIO(realloc_double_small) { sink = realloc(freed_block(40), 100); }
SCENARIO(realloc_double_large) { sink = realloc(freed_block(4 * VT_MIB), 100); }
SCENARIO(usable_size_double_small) { printf("%lu\n", (unsigned long)malloc_usable_size(freed_block(24))); }
SCENARIO(usable_size_double_medium) { printf("%lu\n", (unsigned long)malloc_usable_size(freed_block(9000))); }

/* Memory of another heap: a block from the system (a memblock on the Vita,
 * mmap elsewhere), 16 bytes in, as another allocator would hand it out. */
static void *other_heap_block(void)
{
	void *base = NULL;
#if defined(__NEWLIB__)
	/* The simulated kernel's (vita-headers' prototypes). */
	extern int sceKernelAllocMemBlock(const char *, unsigned, unsigned, void *);
	extern int sceKernelGetMemBlockBase(int, void **);
	int uid = sceKernelAllocMemBlock("other_heap", 0x0C20D060u, 64 * 1024, NULL);
	if (uid < 0 || sceKernelGetMemBlockBase(uid, &base) < 0)
		base = NULL;
#else
	base = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		base = NULL;
#endif
	if (!base) {
		printf("no memory for the other heap\n");
		exit(3);
	}
	return (char *)base + 16;
}
/* ---- heap objects (vitalloc_heap_*) ---- */
static vitalloc_heap_t *quiet_heap_object(void)
{
	vitalloc_heap_t *h = vitalloc_heap_create(NULL);
	if (!h) {
		printf("vitalloc_heap_create failed\n");
		exit(3);
	}
	return h;
}
/* A heap object named in the message: check_abort.cmake reads VT_HEAP. */
static vitalloc_heap_t *heap_object(void)
{
	vitalloc_heap_t *h = quiet_heap_object();
	printf("VT_HEAP=0x%lx\n", (unsigned long)(uintptr_t)h);
	return h;
}
SCENARIO(heap_free_double)
{
	vitalloc_heap_t *h = heap_object();
	void *keep = vitalloc_heap_malloc(h, 100), *p = vitalloc_heap_malloc(h, 5000);
	(void)keep;
	announce(p);
	vitalloc_heap_free(h, p);
	vitalloc_heap_free(h, vt_ptr(p));
}
SCENARIO(heap_free_large_double)
{
	vitalloc_heap_t *h = heap_object();
	void *p = vitalloc_heap_malloc(h, 3 * VT_MIB);
	announce(p);
	vitalloc_heap_free(h, p);
	vitalloc_heap_free(h, vt_ptr(p));
}
SCENARIO(heap_free_main_heap_block)
{
	vitalloc_heap_t *h = heap_object();
	void *p = live_block(5000);
	announce(p);
	vitalloc_heap_free(h, p);
}
SCENARIO(heap_free_other_heap_block)
{
	vitalloc_heap_t *h = heap_object(), *other = vitalloc_heap_create(NULL);
	void *p = vitalloc_heap_malloc(other, 100);
	announce(p);
	vitalloc_heap_free(h, p);
}
SCENARIO(heap_free_interior)
{
	vitalloc_heap_t *h = heap_object();
	char *p = vitalloc_heap_malloc(h, 3 * 4096);
	announce(p + 4096);
	vitalloc_heap_free(h, vt_ptr(p + 4096));
}
SCENARIO(heap_realloc_stack)
{
	vitalloc_heap_t *h = heap_object();
	void *p = stack_pointer();
	announce(p);
	sink = vitalloc_heap_realloc(h, p, 100);
}
SCENARIO(heap_usable_size_double)
{
	vitalloc_heap_t *h = heap_object();
	void *keep = vitalloc_heap_malloc(h, 100), *p = vitalloc_heap_malloc(h, 100);
	(void)keep;
	announce(p);
	vitalloc_heap_free(h, p);
	printf("%lu\n", (unsigned long)vitalloc_heap_usable_size(h, vt_ptr(p)));
}
/* The main heap's free of a heap object's block. */
SCENARIO(free_heap_object_block)
{
	vitalloc_heap_t *h = quiet_heap_object(); /* free() names no heap */
	void *p = vitalloc_heap_malloc(h, 100);
	announce(p);
	free(p);
}

SCENARIO(free_other_heap)
{
	void *p = other_heap_block();
	announce(p);
	free(p);
}
SCENARIO(realloc_other_heap)
{
	void *p = other_heap_block();
	announce(p);
	sink = realloc(p, 100);
}

/* ---- pointers vitalloc never returned ---- */
SCENARIO(free_stack)
{
	void *p = stack_pointer();
	announce(p);
	free(p);
}
SCENARIO(free_global)
{
	void *p = vt_ptr(global_buf);
	announce(p);
	free(p);
}
SCENARIO(free_interior_small)
{
	unsigned char *p = live_block(200);
	announce(p + 16);
	free(vt_ptr(p + 16));
}
SCENARIO(free_interior_medium)
{
	unsigned char *p = live_block(5000);
	announce(p + 16);
	free(vt_ptr(p + 16));
}
SCENARIO(free_interior_large)
{
	unsigned char *p = live_block(4 * VT_MIB);
	announce(p + 16);
	free(vt_ptr(p + 16));
}
SCENARIO(realloc_stack)
{
	void *p = stack_pointer();
	announce(p);
	sink = realloc(p, 100);
}
SCENARIO(realloc_global)
{
	void *p = vt_ptr(global_buf + 32);
	announce(p);
	sink = realloc(p, 100);
}
SCENARIO(realloc_interior)
{
	unsigned char *p = live_block(3000);
	announce(p + 16);
	sink = realloc(vt_ptr(p + 16), 6000);
}
SCENARIO(realloc_r_foreign)
{
	void *p = vt_ptr(global_buf);
	announce(p);
	sink = _realloc_r(&reent, p, 100);
}
SCENARIO(vitalloc_realloc_foreign)
{
	void *p = stack_pointer();
	announce(p);
	sink = vitalloc_realloc(p, 100);
}
SCENARIO(reallocf_foreign)
{
	void *p = vt_ptr(global_buf);
	announce(p);
	sink = reallocf(p, 100);
}
SCENARIO(reallocf_r_foreign)
{
	void *p = vt_ptr(global_buf);
	announce(p);
	sink = _reallocf_r(&reent, p, 100);
}
SCENARIO(vitalloc_free_foreign)
{
	void *p = vt_ptr(global_buf + 64);
	announce(p);
	vitalloc_free(p);
}
SCENARIO(usable_size_foreign)
{
	void *p = vt_ptr(global_buf);
	announce(p);
	printf("%lu\n", (unsigned long)malloc_usable_size(p));
}
SCENARIO(usable_size_r_foreign)
{
	void *p = stack_pointer();
	announce(p);
	printf("%lu\n", (unsigned long)_malloc_usable_size_r(&reent, p));
}
SCENARIO(vitalloc_usable_size_foreign)
{
	unsigned char *p = live_block(5000);
	announce(p + 16);
	printf("%lu\n", (unsigned long)vitalloc_usable_size(vt_ptr(p + 16)));
}

/* ---- the error hook ---- */
static void hook(const char *message)
{
	static const char tag[] = "VT_HOOK:";
	size_t n = 0;
	while (message[n])
		n++;
	(void)!write(1, tag, sizeof tag - 1);
	(void)!write(1, message, n);
	if (n == 0 || message[n - 1] != '\n')
		(void)!write(1, "\n", 1);
}

SCENARIO(hook_double_free)
{
	vitalloc_set_error_hook(hook);
	free(freed_block(40));
}

SCENARIO(hook_removed)
{
	/* Installing then removing the hook: the program still ends with the
	   message on stderr, and the hook is not called. */
	vitalloc_set_error_hook(hook);
	vitalloc_set_error_hook(NULL);
	free(freed_block(5000));
}

int main(void)
{
	/* Warm stdio up: later printf calls must not allocate (a block they
	   allocated could reuse the one freed just before the misuse). */
	printf("test_misuse: scenario %s\n", VT_STR(VT_SCENARIO));
	fflush(stdout);
	VT_CAT(scenario_, VT_SCENARIO)();
	printf("NOT DETECTED: the misuse did not end the program\n");
	fflush(stdout);
	return 0;
}
