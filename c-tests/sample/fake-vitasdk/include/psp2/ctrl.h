/* Fake VitaSDK: the SceCtrl calls main_vita.c makes (as in vita-headers'
   psp2/ctrl.h, psp2common/ctrl.h). */
#ifndef FAKE_PSP2_CTRL_H
#define FAKE_PSP2_CTRL_H
#include <psp2/types.h>
#define SCE_CTRL_START 0x00000008
typedef struct SceCtrlData {
	uint64_t timeStamp;
	unsigned int buttons;
	unsigned char lx, ly, rx, ry;
	uint8_t up, right, down, left, lt, rt, l1, r1, triangle, circle, cross, square;
	uint8_t reserved[4];
} SceCtrlData;
int sceCtrlPeekBufferPositive(int port, SceCtrlData *pad_data, int count);
#endif
