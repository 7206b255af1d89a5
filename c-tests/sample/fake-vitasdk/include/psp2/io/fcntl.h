/* Fake VitaSDK: the file calls main_vita.c makes (as in vita-headers'
   psp2/io/fcntl.h). */
#ifndef FAKE_PSP2_IO_FCNTL_H
#define FAKE_PSP2_IO_FCNTL_H
#include <psp2/types.h>
#define SCE_O_RDONLY 0x0001
#define SCE_O_WRONLY 0x0002
#define SCE_O_CREAT 0x0200
#define SCE_O_TRUNC 0x0400
SceUID sceIoOpen(const char *file, int flags, SceMode mode);
int sceIoClose(SceUID fd);
int sceIoWrite(SceUID fd, const void *data, SceSize size);
#endif
