/*
 * sim_kernel.h -- a simulated PlayStation Vita kernel for vitalloc's tests.
 *
 * Simulates the part of SceSysmem / SceLibKernel / SceThreadmgr that an
 * allocator uses (memblocks, free-memory query, LwMutex, TLS slots, thread
 * identity and liveness, sceClibPrintf), with the prototypes of vita-headers, for ARM
 * programs under qemu-arm (newlib + rdimon) and for host (x86_64, glibc)
 * programs. It is strict where the real kernel is strict, and stricter
 * where that catches bugs (see sim_kernel.c).
 *
 * Threads. On ARM the simulator keeps a table of simulated threads (the
 * "main" thread exists from start-up); exactly one is current, and the
 * test switches between them explicitly (sim_thread_switch) -- there is no
 * scheduler, nothing runs concurrently. As on the Vita (and as Vita3K
 * models it), each thread has a 0x800-byte TLS area whose end is the value
 * of the ARM register TPIDRURO (mrc p15, 0, rX, c13, c0, 3):
 *     sceKernelGetTLSAddr(key) == TPIDRURO - 0x800 + 4 * key, keys 0..0x100,
 * 4-byte slots (a build option moves them above TPIDRURO instead: see
 * sim_tls_slot_offset). The simulator sets TPIDRURO with the ARM Linux private
 * syscall set_tls, which qemu-arm (linux-user) implements: the ARM test
 * programs must run under qemu-arm, not on bare hardware or qemu-system.
 * sim_crt.o sets it before _init_vita_heap (sim_kernel_start below).
 * On the host, real pthreads are the threads: TLS slots are pointer-sized
 * (8 bytes) __thread storage, and the sim_thread_* calls are unsupported
 * (see each declaration).
 *
 * It must never: call malloc/calloc/realloc/free (they are what the code
 * under test replaces), use code from elsewhere, or depend on the real psp2
 * headers. Define SIM_KERNEL_NO_SCE_TYPES before including it if the real
 * vita-headers types are already declared.
 */
#ifndef VITALLOC_SIM_KERNEL_H
#define VITALLOC_SIM_KERNEL_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- types -- */
#ifndef SIM_KERNEL_NO_SCE_TYPES
typedef int SceUID;
typedef unsigned int SceSize;
typedef unsigned int SceUInt32;
typedef int SceInt32;
typedef long long SceInt64;
typedef unsigned long long SceUInt64;
typedef SceUInt64 SceKernelSysClock;
typedef int (*SceKernelThreadEntry)(SceSize args, void *argp);

typedef struct SceKernelAllocMemBlockOpt { /* 0x40 bytes */
	SceSize size;            /* sizeof(SceKernelAllocMemBlockOpt) */
	SceUInt32 attr;          /* 0x4 = SCE_KERNEL_ALLOC_MEMBLOCK_ATTR_HAS_ALIGNMENT */
	SceSize alignment;
	SceUInt32 uidBaseBlock;
	const char *strBaseBlockName;
	int flags;
	int reserved[10];
} SceKernelAllocMemBlockOpt;

typedef struct SceKernelMemBlockInfo { /* 0x18 bytes */
	SceSize size;            /* in: sizeof(SceKernelMemBlockInfo) */
	void *mappedBase;
	SceSize mappedSize;
	int memoryType;          /* 0xD0 cached (NORMAL), 0x80 uncached (NORMAL_NC) */
	SceUInt32 access;        /* R|W = 0x6 */
	SceUInt32 type;          /* SceKernelMemBlockType (an int-sized enum on the Vita) */
} SceKernelMemBlockInfo;

typedef struct SceKernelFreeMemorySizeInfo { /* 0x10 bytes */
	int size;                /* in: sizeof(SceKernelFreeMemorySizeInfo) */
	int size_user;           /* free USER_RW / USER_RW_UNCACHE budget */
	int size_cdram;          /* free USER_CDRAM_RW budget */
	int size_phycont;        /* free USER_MAIN_PHYCONT_*_RW budget */
} SceKernelFreeMemorySizeInfo;

typedef struct SceKernelLwMutexWork { /* 32 bytes, 8-byte aligned */
	SceInt64 data[4];
} SceKernelLwMutexWork;

/* vita-headers psp2common/kernel/threadmgr.h: 0x80 bytes on the Vita
   (0x88 on a 64-bit host: entry and stack are pointers). */
typedef struct SceKernelThreadInfo {
	SceSize size;                 /* in: sizeof(SceKernelThreadInfo) */
	SceUID processId;
	char name[32];
	SceUInt32 attr;
	SceUInt32 status;             /* SIM_THREAD_STATUS_* (SceThreadStatus) */
	SceKernelThreadEntry entry;
	void *stack;
	SceInt32 stackSize;
	SceInt32 initPriority;
	SceInt32 currentPriority;
	SceInt32 initCpuAffinityMask;
	SceInt32 currentCpuAffinityMask;
	SceInt32 currentCpuId;
	SceInt32 lastExecutedCpuId;
	SceUInt32 waitType;
	SceUID waitId;
	SceInt32 exitStatus;
	SceKernelSysClock runClocks;
	SceUInt32 intrPreemptCount;
	SceUInt32 threadPreemptCount;
	SceUInt32 threadReleaseCount;
	SceInt32 changeCpuCount;
	SceInt32 fNotifyCallback;
	SceInt32 reserved;
} SceKernelThreadInfo;
#endif /* SIM_KERNEL_NO_SCE_TYPES */

/* ------------------------------------------------------------ constants -- */
#define SIM_MEMBLOCK_TYPE_USER_RW                 0x0C20D060u /* 4 KiB granule */
#define SIM_MEMBLOCK_TYPE_USER_RW_UNCACHE         0x0C208060u /* 4 KiB */
#define SIM_MEMBLOCK_TYPE_USER_CDRAM_RW           0x09408060u /* 256 KiB */
#define SIM_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_RW    0x0C80D060u /* 1 MiB */
#define SIM_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_NC_RW 0x0D808060u /* 1 MiB */
#define SIM_ALLOC_MEMBLOCK_ATTR_HAS_ALIGNMENT     0x00000004u
#define SIM_LW_MUTEX_ATTR_RECURSIVE               0x00000002u
#define SIM_LW_MUTEX_ATTR_TH_PRIO                 0x00002000u
#define SIM_THREAD_ID_SELF                        0 /* SCE_KERNEL_THREAD_ID_SELF */
#define SIM_TLS_KEY_MAX                           0x100 /* keys 0..0x100 */
#define SIM_TLS_AREA_SIZE                         0x800 /* below TPIDRURO */
#define SIM_TLS_ABOVE_OFFSET                      0x40  /* SIM_TLS_LAYOUT_ABOVE: slot 0 at TPIDRURO + this */
/* SceThreadStatus values the simulator reports. */
#define SIM_THREAD_STATUS_RUNNING                 1  /* the current thread */
#define SIM_THREAD_STATUS_READY                   2  /* alive, not current */
#define SIM_THREAD_STATUS_DORMANT                 16 /* exited, not deleted */
#define SIM_THREAD_STATUS_DELETED                 32 /* killed by the thread manager, not deleted */
/* Slots the kernel fills in a new thread's TLS (Vita3K kernel/types.h
   TlsItems, thread.cpp); every other slot starts at 0. */
#define SIM_TLS_KEY_PROCESS_ID                    0
#define SIM_TLS_KEY_THREAD_ID                     1
#define SIM_TLS_KEY_PRIORITY                      8
#define SIM_TLS_KEY_CPU_AFFINITY                  9
/* The simulated process and main thread (ids are UID-like, never 0;
   thread n (creation order, main = 0) gets 0x40010003 + 0x10 * n; memblock
   uids are 0x40010001 + 0x10 * k, so the two never collide). */
#define SIM_PROCESS_ID                            0x40010001
#define SIM_MAIN_THREAD_ID                        0x40010003
#define SIM_MAX_THREADS                           64 /* live + dormant */

/* Error codes, as returned (negative int); values from vita-headers
   include/psp2/kernel/error.h (SCE_KERNEL_ERROR_<name>). */
#define SIM_ERR_ILLEGAL_ADDR          ((int)0x80020006u)
#define SIM_ERR_ILLEGAL_ALIGNMENT     ((int)0x80020007u)
#define SIM_ERR_ILLEGAL_SIZE          ((int)0x8002000Bu)
#define SIM_ERR_ILLEGAL_ATTR          ((int)0x80020012u) /* unsupported opt attr bits */
#define SIM_ERR_INVALID_UID           ((int)0x80024501u)
#define SIM_ERR_UID_MAX_OPEN          ((int)0x8002450Cu)
#define SIM_ERR_ILLEGAL_MEMBLOCK_TYPE ((int)0x80024B01u)
#define SIM_ERR_ILLEGAL_MEMBLOCK_SIZE ((int)0x80024B05u)
#define SIM_ERR_NO_MEMORY             ((int)0x8002710Bu)
#define SIM_ERR_WAIT_TIMEOUT          ((int)0x80028005u)
#define SIM_ERR_LW_MUTEX_FAILED_TO_OWN ((int)0x80028185u)
#define SIM_ERR_UNSUP                 ((int)0x80020004u) /* host: sim_thread_* */
#define SIM_ERR_INVALID_ARGUMENT_SIZE ((int)0x80020009u) /* GetThreadInfo: info->size */
#define SIM_ERR_UNKNOWN_THREAD_ID     ((int)0x80028021u) /* no such (live) thread */
#define SIM_ERR_ILLEGAL_THREAD_ID     ((int)0x80028022u)
#define SIM_ERR_DORMANT               ((int)0x80028027u)
#define SIM_ERR_NOT_DORMANT           ((int)0x80028028u) /* DeleteThread: thread still alive */

/* ------------------------------------------------- the simulated kernel -- */
SceUID sceKernelAllocMemBlock(const char *name, SceUInt32 type, SceSize size, SceKernelAllocMemBlockOpt *opt);
int sceKernelFreeMemBlock(SceUID uid);
int sceKernelGetMemBlockBase(SceUID uid, void **base);
SceUID sceKernelFindMemBlockByAddr(const void *addr, SceSize size);
int sceKernelGetMemBlockInfoByAddr(void *base, SceKernelMemBlockInfo *info);
int sceKernelGetFreeMemorySize(SceKernelFreeMemorySizeInfo *info);

/* SceLibKernel's debug output (psp2/kernel/clib.h). Conversions %s %d %i
   %u %x %p %c %% without flags or widths (anything else aborts: not
   simulated); at most SIM_CLIB_PRINTF_MAX - 1 characters, the rest cut.
   Written to stderr in one write(); the text is kept for
   sim_clib_printf_last(). Returns the characters written. */
#define SIM_CLIB_PRINTF_MAX 512
int sceClibPrintf(const char *fmt, ...);

int sceKernelCreateLwMutex(SceKernelLwMutexWork *work, const char *name, unsigned int attr, int initCount, const void *opt);
int sceKernelDeleteLwMutex(SceKernelLwMutexWork *work);
int sceKernelLockLwMutex(SceKernelLwMutexWork *work, int count, unsigned int *timeout);
int sceKernelTryLockLwMutex(SceKernelLwMutexWork *work, int count);
int sceKernelUnlockLwMutex(SceKernelLwMutexWork *work, int count);

/* Threads (prototypes of vita-headers psp2/kernel/threadmgr/thread.h).
 * sceKernelGetTLSAddr(key): the current thread's slot, keys 0..0x100, NULL
 *   otherwise; ARM: TPIDRURO - 0x800 + 4 * key (aborts with a message if
 *   TPIDRURO was changed behind the simulator's back); host: 8-byte
 *   __thread slots of the calling pthread.
 * sceKernelGetThreadInfo(thid, info): thid 0 = the caller. Fails with
 *   ILLEGAL_ADDR (info NULL), INVALID_ARGUMENT_SIZE (info->size !=
 *   sizeof(SceKernelThreadInfo), checked first), UNKNOWN_THREAD_ID (no
 *   such thread, or it exited and was deleted). Fills name ("main_thread",
 *   "sim_thread_0x..."), processId, status (RUNNING / READY / DORMANT),
 *   priorities, affinity masks and exitStatus; the rest is 0. Host: any id
 *   a pthread was given counts as existing (pthread exits are not seen).
 * sceKernelGetThreadTLSAddr(thid, key): that thread's slot (thid 0 = the
 *   caller); NULL for a bad key or a thread that does not exist (a dormant
 *   thread still has its slots). Host: the caller's own slots only.
 * In a new thread every slot is 0 except SIM_TLS_KEY_* (below). */
int sceKernelGetThreadId(void);
int sceKernelGetThreadInfo(SceUID thid, SceKernelThreadInfo *info);
void *sceKernelGetThreadTLSAddr(SceUID thid, int key);
void *sceKernelGetTLSAddr(int key);
/* sceKernelDeleteThread(thid): deletes a thread that no longer runs
   (dormant, or killed: see sim_thread_exit_dormant / sim_thread_kill),
   exactly as sim_thread_exit does; NOT_DORMANT for an alive thread (the
   caller included), UNKNOWN_THREAD_ID for no such thread. Host: UNSUP. */
int sceKernelDeleteThread(SceUID thid);

/* ------------------------------------------------- test-control API ------ */
/* Where slot 0 lies relative to TPIDRURO in this build of the simulator:
   sceKernelGetTLSAddr(key) == TPIDRURO + sim_tls_slot_offset() + 4 * key.
   -SIM_TLS_AREA_SIZE (-0x800) normally, the layout the Vita's fast paths
   expect; SIM_TLS_ABOVE_OFFSET (0x40) when the simulator is compiled with
   SIM_TLS_LAYOUT_ABOVE=1 (CMake: -DVITA_SIM_TLS_ABOVE=ON), a layout no
   fast path may assume: the 0x800 bytes below TPIDRURO then hold non-zero
   garbage (odd values, never valid pointers) in every thread. Host: the
   layout of the ARM build (the host's slots are __thread storage). */
int sim_tls_slot_offset(void);

typedef struct {
	unsigned live_blocks, peak_blocks, alloc_calls, free_calls, failed_calls;
	unsigned long long live_bytes, peak_bytes;
} sim_counters_t;

typedef struct {
	SceUID uid;
	void *base;
	SceSize size;
	SceUInt32 type;
	char name[32];
} sim_block_t;

/* Fill fresh memblocks with 0xA5 (and, on ARM, freed ones with 0xDD).
   Default 0: fresh blocks are zeroed, as on the real Vita. */
void sim_set_poison(int on);
/* The (n+1)-th next AllocMemBlock call that passes argument validation
   fails with NO_MEMORY (n = 0: the very next one); one-shot. -1 disables. */
void sim_fail_alloc_after(int n);
/* Every n-th valid AllocMemBlock call from now on fails with NO_MEMORY;
   n <= 0 disables. */
void sim_fail_alloc_every(int n);
/* Budget of the main class (USER_RW + USER_RW_UNCACHE), default 256 MiB. */
void sim_set_budget(unsigned main_bytes);
/* All three budgets: main (256 MiB), CDRAM (112 MiB), phycont (26 MiB). */
void sim_set_budgets(unsigned main_bytes, unsigned cdram_bytes, unsigned phycont_bytes);
/* Maximum number of live memblocks (default 2048, at most 4096). */
void sim_set_block_limit(int n);
void sim_get_counters(sim_counters_t *out);
void sim_reset_peaks(void); /* peaks := current live values */
/* i-th live block in address order; 1 if it exists, 0 past the end. */
int sim_live_block(unsigned i, sim_block_t *out);
/* Lock count of a live LwMutex (0 = unlocked), -1 if the work area holds none. */
int sim_lwmutex_count(const SceKernelLwMutexWork *work);
/* The text of the last sceClibPrintf call ("" before the first), and how
   many calls there were. */
const char *sim_clib_printf_last(void);
unsigned sim_clib_printf_count(void);
/* On LwMutex misuse, call hook(message) instead of printing and
   abort()ing; the hook may longjmp out (the simulator holds no lock then).
   NULL restores the default. For the simulator's own tests. */
void sim_set_misuse_hook(void (*hook)(const char *msg));

/* ---- simulated threads (ARM; see "Threads" at the top) ------------------
 * sceKernelGetThreadId() is the current thread's id; sceKernelGetTLSAddr
 * gives its slots (TPIDRURO - 0x800 + 4 * key); an LwMutex is owned by the
 * thread that was current when it was locked, so unlocking it after a
 * switch is misuse, and locking a mutex another simulated thread holds is
 * misuse too (it would block forever: nothing else runs) -- except TryLock
 * (FAILED_TO_OWN) and Lock with a timeout (WAIT_TIMEOUT at once). Switching
 * away from a thread that holds a mutex is allowed (the Vita's scheduler
 * preempts holders). A mutex held by a thread that exits stays held.
 * Threads never run code of their own: a test "runs as" a thread by
 * switching to it. On the host all of these return SIM_ERR_UNSUP
 * (sim_thread_current: the calling pthread's sceKernelGetThreadId()).
 */
/* Sets TPIDRURO for the current (main) thread; sim_crt.o calls it before
   _init_vita_heap. Idempotent; every thread call (sceKernelGet*Thread*,
   sceKernelGetTLSAddr, sim_thread_*) also does it lazily. Never allocates;
   if set_tls does not work (not under qemu-arm) it prints one line and
   aborts. Does nothing on the host. */
void sim_kernel_start(void);
/* A new alive thread (status READY): a fresh TLS area, zeroed except the
   kernel's slots (SIM_TLS_KEY_*: process id, its thread id, priority,
   affinity). Not current. Returns its id, or SIM_ERR_NO_MEMORY when
   SIM_MAX_THREADS threads (alive or dormant) exist. */
SceUID sim_thread_create(void);
/* Like sim_thread_create, but the thread gets the id thid, which must be
   > 0 and not the id of an alive or dormant thread (e.g. a dead thread's:
   the Vita reuses UIDs); else SIM_ERR_ILLEGAL_THREAD_ID. */
SceUID sim_thread_create_with_id(SceUID thid);
/* Makes thid the current thread: TPIDRURO, sceKernelGetThreadId, LwMutex
   ownership. 0 on success (also if it already is current);
   SIM_ERR_UNKNOWN_THREAD_ID if it does not exist, SIM_ERR_DORMANT if it
   has exited but not been deleted. */
int sim_thread_switch(SceUID thid);
/* The thread exits and is deleted (sceKernelExitDeleteThread): from now on
   sceKernelGetThreadInfo fails with UNKNOWN_THREAD_ID and
   sceKernelGetThreadTLSAddr returns NULL; its TLS area is free and handed,
   zeroed, to a later thread (the lowest free area first; with
   sim_set_poison(1) it is filled with 0xDD meanwhile). Works on an alive
   or a dormant thread. If thid is the current thread, the main thread
   becomes current. The main thread cannot exit (SIM_ERR_ILLEGAL_THREAD_ID);
   unknown ids: SIM_ERR_UNKNOWN_THREAD_ID. */
int sim_thread_exit(SceUID thid);
/* The thread exits but is not deleted (sceKernelExitThread without
   sceKernelDeleteThread): sceKernelGetThreadInfo still succeeds, with
   status SIM_THREAD_STATUS_DORMANT and exitStatus = exit_status, and
   sceKernelGetThreadTLSAddr still gives its (kept) slots; it cannot be
   switched to. sim_thread_exit deletes it later. Errors as
   sim_thread_exit (SIM_ERR_DORMANT if it already is dormant). */
int sim_thread_exit_dormant(SceUID thid, int exit_status);
/* The thread manager kills the thread (e.g. its stack overflowed): like
   sim_thread_exit_dormant, but its status is SIM_THREAD_STATUS_DELETED
   (SCE_THREAD_DELETED / SCE_THREAD_KILLED, 32) and exitStatus 0. */
int sim_thread_kill(SceUID thid);
/* The current thread's id (== sceKernelGetThreadId()). */
SceUID sim_thread_current(void);

/* ---- runnable simulated threads and preemption points (ARM) -------------
 * sim_thread_spawn gives a new thread (as sim_thread_create) code of its
 * own: entry(arg) runs on a stack of the simulator's (64 KiB; at most 16
 * such threads at a time) the first time the scheduler switches to it.
 * When entry returns, the thread is dormant (as a Vita thread returning
 * from its entry; delete it with sceKernelDeleteThread) and another
 * runnable thread runs. Runnable: the main thread and every spawned thread
 * that has not finished. Nothing is preemptive by itself: switches happen
 * in sim_yield, in sceKernelLockLwMutex while another thread holds the
 * mutex (it waits by letting the others run, as on the Vita), and at
 * sim_preempt_point. The choice of the next thread and of whether a
 * preemption point switches comes from one xorshift32 sequence
 * (sim_preempt_config's seed): a run is repeatable.
 * A spawned thread must end by returning from entry; sim_thread_exit and
 * friends may end it from another thread (its context is dropped).
 * Host: sim_thread_spawn returns SIM_ERR_UNSUP, the rest does nothing. */
typedef void (*sim_entry_t)(void *arg);
SceUID sim_thread_spawn(sim_entry_t entry, void *arg);
/* Switches to another runnable thread (chosen at random), if any; returns
   when something switches back. Does nothing while the main thread's code
   runs as a thread without code (sim_thread_switch to a created thread). */
void sim_yield(void);
/* Main thread: runs the spawned threads until every one has finished. */
void sim_sched_run(void);
/* Preemption points: code under test (vitalloc built with the Cargo
   feature sim-preempt) calls sim_preempt_point(id) where a switch to
   another thread exposes an interleaving; it switches (sim_yield) with
   probability percent/100. percent 0 (the default) never switches. The
   seed also drives sim_yield's choices. */
#define SIM_PREEMPT_POINTS 8 /* ids 0..7 (others are ignored) */
void sim_preempt_config(unsigned seed, unsigned percent);
/* Point id alone switches with probability percent/100 from now on. */
void sim_preempt_set_point(unsigned id, unsigned percent);
void sim_preempt_point(unsigned id);
/* How often point id was reached, and how often it switched. */
void sim_preempt_counts(unsigned id, unsigned *hits, unsigned *switches);

#ifdef __cplusplus
}
#endif
#endif /* VITALLOC_SIM_KERNEL_H */
