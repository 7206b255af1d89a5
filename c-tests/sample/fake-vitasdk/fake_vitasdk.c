/*
 * fake_vitasdk.c -- a stand-in for the parts of the Vita that
 * vita-sample/src/main_vita.c uses beyond the kernel's memory calls (those
 * come from the simulated kernel, c-tests/vita-sim), so that main_vita.c
 * is compiled and run under qemu-arm: SceDisplay keeps the framebuffer
 * address, SceCtrl reports START pressed, SceIofilemgr maps "ux0:" to the
 * directory ux0/ under the working directory (semihosting: it must exist),
 * the process clock is clock(), and sceKernelExitProcess writes the
 * framebuffer to screen.ppm and exits. Not VitaSDK: only the calls
 * main_vita.c makes, with vita-headers' prototypes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <psp2/ctrl.h>
#include <psp2/display.h>
#include <psp2/io/fcntl.h>
#include <psp2/io/stat.h>
#include <psp2/kernel/processmgr.h>
#include <psp2/kernel/threadmgr.h>

#define FAKE_ERROR_EXISTS ((int)0x80010011u)
#define FAKE_ERROR_NOENT ((int)0x80010002u)

static SceDisplayFrameBuf shown;
static int polls;

int sceDisplaySetFrameBuf(const SceDisplayFrameBuf *pParam, SceDisplaySetBufSync sync)
{
	(void)sync;
	if (!pParam || pParam->size != sizeof *pParam || pParam->pitch < pParam->width)
		return (int)0x80290001u; /* INVALID_VALUE */
	shown = *pParam;
	return 0;
}

int sceCtrlPeekBufferPositive(int port, SceCtrlData *pad_data, int count)
{
	(void)port;
	memset(pad_data, 0, sizeof *pad_data * (size_t)count);
	if (++polls >= 3)
		pad_data->buttons = SCE_CTRL_START;
	return count;
}

/* "ux0:data/x" -> "ux0/data/x" */
static const char *host_path(const char *file, char *buf, size_t size)
{
	const char *colon = strchr(file, ':');
	if (!colon || (size_t)(colon - file) + strlen(colon) + 1 > size)
		return NULL;
	memcpy(buf, file, (size_t)(colon - file));
	buf[colon - file] = '/';
	strcpy(buf + (colon - file) + 1, colon + 1);
	return buf;
}

SceUID sceIoOpen(const char *file, int flags, SceMode mode)
{
	char path[256];
	int oflags = 0, fd;
	if (!host_path(file, path, sizeof path))
		return FAKE_ERROR_NOENT;
	if ((flags & (SCE_O_RDONLY | SCE_O_WRONLY)) == (SCE_O_RDONLY | SCE_O_WRONLY))
		oflags = O_RDWR;
	else if (flags & SCE_O_WRONLY)
		oflags = O_WRONLY;
	else
		oflags = O_RDONLY;
	if (flags & SCE_O_CREAT)
		oflags |= O_CREAT;
	if (flags & SCE_O_TRUNC)
		oflags |= O_TRUNC;
	fd = open(path, oflags, mode);
	return fd < 0 ? FAKE_ERROR_NOENT : fd;
}

int sceIoClose(SceUID fd)
{
	return close(fd) == 0 ? 0 : FAKE_ERROR_NOENT;
}

int sceIoWrite(SceUID fd, const void *data, SceSize size)
{
	ssize_t n = write(fd, data, size);
	return n < 0 ? FAKE_ERROR_NOENT : (int)n;
}

int sceIoMkdir(const char *dir, SceMode mode)
{
	(void)dir;
	(void)mode;
	return FAKE_ERROR_EXISTS; /* semihosting cannot make directories: the test does */
}

SceUInt64 sceKernelGetProcessTimeWide(void)
{
	return (SceUInt64)clock() * (1000000u / CLOCKS_PER_SEC);
}

int sceKernelDelayThread(SceUInt delay)
{
	(void)delay;
	return 0;
}

int sceKernelExitProcess(int res)
{
	if (shown.base) {
		FILE *f = fopen("screen.ppm", "wb");
		if (f) {
			const uint32_t *px = shown.base;
			unsigned x, y;
			fprintf(f, "P6 %u %u 255\n", shown.width, shown.height);
			for (y = 0; y < shown.height; y++)
				for (x = 0; x < shown.width; x++) {
					uint32_t p = px[(size_t)y * shown.pitch + x]; /* 0xAABBGGRR */
					fputc((int)(p & 0xff), f);
					fputc((int)((p >> 8) & 0xff), f);
					fputc((int)((p >> 16) & 0xff), f);
				}
			fclose(f);
		}
	}
	printf("fake-vitasdk: sceKernelExitProcess(%d)\n", res);
	exit(res);
}
