/* Fake VitaSDK: sceIoMkdir (as in vita-headers' psp2/io/stat.h). */
#ifndef FAKE_PSP2_IO_STAT_H
#define FAKE_PSP2_IO_STAT_H
#include <psp2/types.h>
int sceIoMkdir(const char *dir, SceMode mode);
#endif
