/* Fake VitaSDK: the SceSysmem calls main_vita.c makes (as in vita-headers'
   psp2/kernel/sysmem.h); the simulated kernel (c-tests/vita-sim)
   implements them. */
#ifndef FAKE_PSP2_KERNEL_SYSMEM_H
#define FAKE_PSP2_KERNEL_SYSMEM_H
#include <psp2/types.h>
typedef int SceKernelMemBlockType;
#define SCE_KERNEL_MEMBLOCK_TYPE_USER_RW 0x0c20d060
#define SCE_KERNEL_MEMBLOCK_TYPE_USER_CDRAM_RW 0x09408060
typedef struct SceKernelAllocMemBlockOpt {
	SceSize size;
	SceUInt32 attr;
	SceSize alignment;
	SceUInt32 uidBaseBlock;
	const char *strBaseBlockName;
	int flags;
	int reserved[10];
} SceKernelAllocMemBlockOpt;
typedef struct SceKernelFreeMemorySizeInfo {
	int size;
	int size_user;
	int size_cdram;
	int size_phycont;
} SceKernelFreeMemorySizeInfo;
SceUID sceKernelAllocMemBlock(const char *name, SceKernelMemBlockType type, SceSize size, SceKernelAllocMemBlockOpt *opt);
int sceKernelFreeMemBlock(SceUID uid);
int sceKernelGetMemBlockBase(SceUID uid, void **base);
int sceKernelGetFreeMemorySize(SceKernelFreeMemorySizeInfo *info);
#endif
