/*
 * test_reservation -- VitaSDK's 128 MiB heap reservation is gone when
 * vitalloc is linked (DESIGN.md section 1, consequence 5).
 *
 * Linked like a VitaSDK program: the simulated crt0 (sim_crt.o) calls
 * _init_vita_heap() from .preinit_array, before every constructor and
 * main; libvitalloc.a comes before libsim_sbrk.a (the simulated sbrk.o,
 * whose _init_vita_heap reserves a 128 MiB "Newlib heap" memblock). The
 * companion test_reservation_without_vitalloc shows that reservation
 * happening when vitalloc is not linked.
 *
 * Proves:
 *  - before any constructor runs (a priority-101 constructor looks): the
 *    simulated kernel has had no AllocMemBlock call and holds no block, yet
 *    exactly one LwMutex exists in the program's static data and vitalloc
 *    has served no allocation -- so vitalloc's _init_vita_heap ran (it
 *    creates the heap's lock) and reserved nothing;
 *  - at main: no block of 128 MiB or more, no "Newlib heap" block;
 *    _newlib_heap_size_user is not linked at all (the weak 128 MiB default
 *    lives next to the simulated sbrk.o and is not extracted), so vitalloc
 *    has no limit;
 *  - _get_vita_heap_size() (newlib's getrlimit(RLIMIT_DATA)) is vitalloc's:
 *    held + free user memory = the whole 256 MiB budget, whatever is
 *    allocated, and it follows the budget;
 *  - a small program's first allocations take one small segment, not a
 *    big reservation; every pointer is in a vitalloc memblock.
 */
#include "vt_test.h"
#include "arm_sim.h"

int _get_vita_heap_size(void);
/* Weak: NULL unless something defines it (only the simulated sbrk.o's
   default member would, and it must not be linked). */
extern unsigned int _newlib_heap_size_user __attribute__((weak));

static struct {
	int ran;
	sim_counters_t counters;
	unsigned nmutex;
	const SceKernelLwMutexWork *mutex[4];
	int mutex_count;
	as_census_t census;
	vitalloc_stats_t stats;
} at_ctor;

__attribute__((constructor(101))) static void before_everything(void)
{
	at_ctor.ran = 1;
	sim_get_counters(&at_ctor.counters);
	at_ctor.census = as_census();
	/* Before calling anything of vitalloc's (which might create the lock
	   lazily): who made an LwMutex already? */
	at_ctor.nmutex = as_find_lwmutexes(at_ctor.mutex, 4);
	at_ctor.mutex_count = at_ctor.nmutex ? sim_lwmutex_count(at_ctor.mutex[0]) : -1;
	vitalloc_stats(&at_ctor.stats);
}

int main(void)
{
	sim_counters_t c0;
	sim_get_counters(&c0); /* before stdio allocates */
	as_census_t m0 = as_census();
	vt_start("test_reservation");

	/* ---- before constructors ---- */
	VT_CHECK(at_ctor.ran);
	VT_CHECK_EQ(at_ctor.counters.alloc_calls, 0);
	VT_CHECK_EQ(at_ctor.counters.live_blocks, 0);
	VT_CHECK_EQ(at_ctor.census.total, 0);
	/* The only LwMutex before main is vitalloc's heap lock, created by its
	   _init_vita_heap (no allocation had happened to create it lazily). */
	VT_CHECK_EQ(at_ctor.nmutex, 1);
	VT_CHECK_EQ(at_ctor.mutex_count, 0);
	VT_CHECK_EQ(at_ctor.stats.malloc_calls, 0);
	VT_CHECK_EQ(at_ctor.stats.source_blocks, 0);
	VT_CHECK_EQ(at_ctor.stats.reserved, 0);

	/* ---- at main ---- */
	VT_CHECK_CMP(m0.largest, <, 128u * AS_MIB);
	VT_CHECK_EQ(m0.newlib_heap, 0);
	VT_CHECK_EQ(m0.other, 0);
	VT_CHECK_CMP(c0.peak_bytes, <, 128u * AS_MIB);
	VT_CHECK(&_newlib_heap_size_user == NULL);
	vitalloc_stats_t s0 = vt_stats();
	VT_CHECK_EQ(s0.limit, 0);
	/* Still the same mutex, unlocked, and no other. */
	const SceKernelLwMutexWork *mx[4];
	unsigned nmx = as_find_lwmutexes(mx, 4);
	VT_CHECK_EQ(nmx, 1);
	if (nmx >= 1 && at_ctor.nmutex >= 1) {
		VT_CHECK(mx[0] == at_ctor.mutex[0]);
		VT_CHECK_EQ(sim_lwmutex_count(mx[0]), 0);
	}

	/* ---- _get_vita_heap_size is vitalloc's ---- */
	SceKernelFreeMemorySizeInfo info;
	memset(&info, 0, sizeof info);
	info.size = sizeof info;
	VT_CHECK_EQ(sceKernelGetFreeMemorySize(&info), 0);
	vitalloc_stats_t s1 = vt_stats();
	int hs = _get_vita_heap_size();
	printf("test_reservation: _get_vita_heap_size() = %d (%d MiB); vitalloc holds %llu KiB, "
	       "the kernel has %d MiB free\n",
	       hs, hs >> 20, VT_U(s1.reserved >> 10), info.size_user >> 20);
	VT_CHECK_EQ(hs, s1.reserved + (size_t)info.size_user);
	VT_CHECK_EQ(hs, 256u * AS_MIB); /* vitalloc's blocks are all there is */
	VT_CHECK(hs != 128 << 20);

	/* ---- a small program stays small ---- */
	char *p = malloc(100);
	char *q = strdup("small");
	VT_REQUIRE(p && q);
	AS_CHECK_VITALLOC(p, 100, "malloc(100)");
	AS_CHECK_VITALLOC(q, 6, "strdup");
	as_census_t m1 = as_census();
	as_print_census("after the first allocations", m1);
	VT_CHECK_CMP(m1.bytes, <=, 1u * AS_MIB);
	VT_CHECK_CMP(m1.total, <=, 3);
	VT_CHECK_EQ(m1.vitalloc, m1.total);
	free(p);
	free(q);

	/* Held memory moves between vitalloc and the kernel, the sum stays. */
	void *big = malloc(10u * AS_MIB);
	VT_REQUIRE(big != NULL);
	AS_CHECK_VITALLOC(big, 10u * AS_MIB, "malloc(10 MiB)");
	VT_CHECK_EQ(_get_vita_heap_size(), 256u * AS_MIB);
	free(big);
	VT_CHECK_EQ(_get_vita_heap_size(), 256u * AS_MIB);
	/* ... and follows the budget. */
	sim_set_budget(64u * AS_MIB);
	VT_CHECK_EQ(_get_vita_heap_size(), 64u * AS_MIB);
	sim_set_budget(256u * AS_MIB);
	VT_CHECK_EQ(_get_vita_heap_size(), 256u * AS_MIB);

	as_census_t m2 = as_census();
	VT_CHECK_EQ(m2.newlib_heap, 0);
	VT_CHECK_CMP(m2.largest, <, 128u * AS_MIB);
	return vt_done("test_reservation");
}
