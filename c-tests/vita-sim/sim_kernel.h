/*
 * sim_kernel.h -- a simulated PlayStation Vita kernel for vitalloc's tests.
 *
 * Simulates the part of SceSysmem / SceLibKernel that an allocator uses
 * (memblocks, free-memory query, LwMutex, TLS slots), with the prototypes of
 * vita-headers, for ARM programs under qemu-arm (newlib + rdimon) and for
 * host (x86_64, glibc) programs. It is strict where the real kernel is
 * strict, and stricter where that catches bugs (see sim_kernel.c).
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

/* Error codes, as returned (negative int). */
#define SIM_ERR_ILLEGAL_ADDR          ((int)0x80020006u)
#define SIM_ERR_ILLEGAL_ALIGNMENT     ((int)0x80020007u)
#define SIM_ERR_ILLEGAL_SIZE          ((int)0x8002000Bu)
#define SIM_ERR_ILLEGAL_ATTR          ((int)0x80020012u) /* unsupported opt attr bits */
#define SIM_ERR_INVALID_UID           ((int)0x80024501u)
#define SIM_ERR_UID_MAX_OPEN          ((int)0x8002450Cu)
#define SIM_ERR_ILLEGAL_MEMBLOCK_TYPE ((int)0x80024B01u)
#define SIM_ERR_ILLEGAL_MEMBLOCK_SIZE ((int)0x80024B05u)
#define SIM_ERR_NO_MEMORY             ((int)0x8002710Bu)
#define SIM_ERR_WAIT_TIMEOUT          ((int)0x800201A8u)
#define SIM_ERR_LW_MUTEX_FAILED_TO_OWN ((int)0x80028185u)

/* ------------------------------------------------- the simulated kernel -- */
SceUID sceKernelAllocMemBlock(const char *name, SceUInt32 type, SceSize size, SceKernelAllocMemBlockOpt *opt);
int sceKernelFreeMemBlock(SceUID uid);
int sceKernelGetMemBlockBase(SceUID uid, void **base);
SceUID sceKernelFindMemBlockByAddr(const void *addr, SceSize size);
int sceKernelGetMemBlockInfoByAddr(void *base, SceKernelMemBlockInfo *info);
int sceKernelGetFreeMemorySize(SceKernelFreeMemorySizeInfo *info);

int sceKernelCreateLwMutex(SceKernelLwMutexWork *work, const char *name, unsigned int attr, int initCount, const void *opt);
int sceKernelDeleteLwMutex(SceKernelLwMutexWork *work);
int sceKernelLockLwMutex(SceKernelLwMutexWork *work, int count, unsigned int *timeout);
int sceKernelTryLockLwMutex(SceKernelLwMutexWork *work, int count);
int sceKernelUnlockLwMutex(SceKernelLwMutexWork *work, int count);

void *sceKernelGetTLSAddr(int key);

/* ------------------------------------------------- test-control API ------ */
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
/* On LwMutex misuse, call hook(message) instead of printing and
   abort()ing; the hook may longjmp out (the simulator holds no lock then).
   NULL restores the default. For the simulator's own tests. */
void sim_set_misuse_hook(void (*hook)(const char *msg));

#ifdef __cplusplus
}
#endif
#endif /* VITALLOC_SIM_KERNEL_H */
