/* Fake VitaSDK: sceKernelDelayThread (as in vita-headers'
   psp2/kernel/threadmgr.h). */
#ifndef FAKE_PSP2_KERNEL_THREADMGR_H
#define FAKE_PSP2_KERNEL_THREADMGR_H
#include <psp2/types.h>
int sceKernelDelayThread(SceUInt delay);
#endif
