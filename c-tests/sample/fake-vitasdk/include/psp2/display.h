/* Fake VitaSDK: the SceDisplay calls main_vita.c makes (prototypes and
   values as in vita-headers' psp2/display.h, psp2common/display.h). */
#ifndef FAKE_PSP2_DISPLAY_H
#define FAKE_PSP2_DISPLAY_H
#include <psp2/types.h>
#define SCE_DISPLAY_PIXELFORMAT_A8B8G8R8 0x00000000U
typedef unsigned int SceDisplaySetBufSync;
#define SCE_DISPLAY_SETBUF_IMMEDIATE 0
#define SCE_DISPLAY_SETBUF_NEXTFRAME 1
typedef struct SceDisplayFrameBuf {
	SceSize size;
	void *base;
	unsigned int pitch;
	unsigned int pixelformat;
	unsigned int width;
	unsigned int height;
} SceDisplayFrameBuf;
int sceDisplaySetFrameBuf(const SceDisplayFrameBuf *pParam, SceDisplaySetBufSync sync);
#endif
