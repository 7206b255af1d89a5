/* Fake VitaSDK: process manager calls (as in vita-headers'
   psp2/kernel/processmgr.h). */
#ifndef FAKE_PSP2_KERNEL_PROCESSMGR_H
#define FAKE_PSP2_KERNEL_PROCESSMGR_H
#include <psp2/types.h>
int sceKernelExitProcess(int res);
SceUInt64 sceKernelGetProcessTimeWide(void);
#endif
