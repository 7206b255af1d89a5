/*
 * main_vita.c -- the Vita-specific part of vitalloc's sample homebrew.
 *
 * Gives sample_logic.c its platform: a text console on a 960x544
 * framebuffer of our own (SceDisplay, drawn by textscreen.c), the report
 * file ux0:data/vitalloc/report.txt (SceIofilemgr), the process clock
 * (sceKernelGetProcessTimeWide, microseconds), the kernel's free-memory
 * figure, and the 128 MiB memblock of the second run; then waits for START.
 * Everything else is portable and tested on the host and under qemu
 * (c-tests/sample).
 *
 * Stubs: SceDisplay_stub and SceCtrl_stub are linked by CMakeLists.txt; the
 * kernel, I/O and process-manager functions come from VitaSDK's default
 * link line (SceSysmem_stub, SceIofilemgr_stub, SceLibKernel_stub...).
 */
#include <psp2/ctrl.h>
#include <psp2/display.h>
#include <psp2/io/fcntl.h>
#include <psp2/io/stat.h>
#include <psp2/kernel/processmgr.h>
#include <psp2/kernel/sysmem.h>
#include <psp2/kernel/threadmgr.h>

#include <stdio.h>
#include <string.h>

#include "sample_logic.h"
#include "textscreen.h"
#include "vitalloc.h"

#ifndef VITALLOC_SAMPLE_VERSION
#define VITALLOC_SAMPLE_VERSION "?"
#endif

#define SCREEN_W 960
#define SCREEN_H 544
/* 960 * 544 * 4 bytes, rounded up to CDRAM's 256 KiB granularity. */
#define FB_BYTES (((SCREEN_W * SCREEN_H * 4) + 0x3FFFF) & ~0x3FFFF)
#define REPORT_DIR "ux0:data/vitalloc"
#define REPORT_PATH REPORT_DIR "/report.txt"

#define COLOR_BG TEXTSCREEN_RGB(0x10, 0x10, 0x20)
#define COLOR_TEXT TEXTSCREEN_RGB(0xe0, 0xe0, 0xe0)
#define COLOR_HEAD TEXTSCREEN_RGB(0x70, 0xc0, 0xff)
#define COLOR_OK TEXTSCREEN_RGB(0x70, 0xff, 0x70)
#define COLOR_FAIL TEXTSCREEN_RGB(0xff, 0x60, 0x60)

/* Static: the error hook reaches it too. Nothing here comes from malloc,
   so the screen and the report still work when the heap is broken. */
static struct {
	textscreen_t screen;
	int has_screen;
	SceUID fb_uid, report_fd, hold_uid;
} g = {.fb_uid = -1, .report_fd = -1, .hold_uid = -1};

/* One line on screen (in `color`) and in the report file. */
static void out(const char *line, uint32_t color)
{
	if (g.has_screen) {
		textscreen_color(&g.screen, color, COLOR_BG);
		textscreen_puts(&g.screen, line);
		textscreen_putc(&g.screen, '\n');
	}
	if (g.report_fd >= 0) {
		sceIoWrite(g.report_fd, line, strlen(line));
		sceIoWrite(g.report_fd, "\n", 1);
	}
}

static int screen_init(void)
{
	SceDisplayFrameBuf fb;
	void *base = NULL;

	/* The framebuffer is a memblock of its own, not a heap block. */
	g.fb_uid = sceKernelAllocMemBlock("vitalloc sample framebuffer", SCE_KERNEL_MEMBLOCK_TYPE_USER_CDRAM_RW,
					  FB_BYTES, NULL);
	if (g.fb_uid < 0)
		return -1;
	if (sceKernelGetMemBlockBase(g.fb_uid, &base) < 0)
		return -1;
	textscreen_init(&g.screen, base, SCREEN_W, SCREEN_H, SCREEN_W, 2); /* 80 x 34 characters */
	textscreen_color(&g.screen, COLOR_TEXT, COLOR_BG);
	textscreen_clear(&g.screen);

	memset(&fb, 0, sizeof fb);
	fb.size = sizeof fb;
	fb.base = base;
	fb.pitch = SCREEN_W;
	fb.pixelformat = SCE_DISPLAY_PIXELFORMAT_A8B8G8R8;
	fb.width = SCREEN_W;
	fb.height = SCREEN_H;
	if (sceDisplaySetFrameBuf(&fb, SCE_DISPLAY_SETBUF_NEXTFRAME) < 0)
		return -1;
	g.has_screen = 1;
	return 0;
}

/* ---------------------------------------------------- the sample's platform */

static void on_print(void *ctx, const char *line)
{
	uint32_t color = COLOR_TEXT;
	(void)ctx;
	if (strstr(line, "FAIL") || strstr(line, "NO "))
		color = COLOR_FAIL;
	else if (strncmp(line, "--", 2) == 0 || strncmp(line, "vitalloc sample", 15) == 0)
		color = COLOR_HEAD;
	else if (strncmp(line, "RESULT: ok", 10) == 0)
		color = COLOR_OK;
	out(line, color);
}

static uint64_t on_now_us(void *ctx)
{
	(void)ctx;
	return sceKernelGetProcessTimeWide();
}

static long long on_free_memory(void *ctx)
{
	SceKernelFreeMemorySizeInfo info;
	(void)ctx;
	memset(&info, 0, sizeof info);
	info.size = sizeof info;
	if (sceKernelGetFreeMemorySize(&info) < 0)
		return -1;
	return info.size_user;
}

/* The second run's block: what newlib's _init_vita_heap takes before main
   (one USER_RW memblock of _newlib_heap_size_user bytes, 128 MiB). */
static int on_reserve(void *ctx, size_t bytes)
{
	(void)ctx;
	g.hold_uid = sceKernelAllocMemBlock("vitalloc sample: newlib-sized heap", SCE_KERNEL_MEMBLOCK_TYPE_USER_RW,
					    bytes, NULL);
	return g.hold_uid < 0 ? -1 : 0;
}

static void on_release(void *ctx)
{
	(void)ctx;
	if (g.hold_uid >= 0)
		sceKernelFreeMemBlock(g.hold_uid);
	g.hold_uid = -1;
}

/* vitalloc found a misuse it cannot survive (a double free...): show the
   message, keep it in the report, leave time to read it; vitalloc ends the
   program when this returns. Must not allocate. */
static void on_vitalloc_error(const char *message)
{
	out(message, COLOR_FAIL);
	out("vitalloc ends the program in 10 seconds.", COLOR_FAIL);
	if (g.report_fd >= 0) {
		sceIoClose(g.report_fd);
		g.report_fd = -1;
	}
	sceKernelDelayThread(10 * 1000 * 1000);
}

static void wait_for_start(void)
{
	SceCtrlData pad;
	for (;;) {
		memset(&pad, 0, sizeof pad);
		if (sceCtrlPeekBufferPositive(0, &pad, 1) >= 0 && (pad.buttons & SCE_CTRL_START))
			return;
		sceKernelDelayThread(16 * 1000);
	}
}

int main(void)
{
	sample_platform_t pf;
	sample_config_t cfg;
	static sample_report_t rep;
	char line[128];
	int screen_rc, failures;

	screen_rc = screen_init();
	sceIoMkdir("ux0:data", 0777); /* both may exist already */
	sceIoMkdir(REPORT_DIR, 0777);
	g.report_fd = sceIoOpen(REPORT_PATH, SCE_O_WRONLY | SCE_O_CREAT | SCE_O_TRUNC, 0666);
	vitalloc_set_error_hook(on_vitalloc_error);

	snprintf(line, sizeof line, "-- vitalloc %s: a growing heap of memblocks instead of newlib's --",
		 VITALLOC_SAMPLE_VERSION);
	out(line, COLOR_HEAD);
	if (screen_rc < 0)
		out("(no screen: could not set up the framebuffer)", COLOR_FAIL);

	memset(&pf, 0, sizeof pf);
	pf.print = on_print;
	pf.now_us = on_now_us;
	pf.free_memory = on_free_memory;
	pf.reserve = on_reserve;
	pf.release = on_release;
	sample_config_default(&cfg);
	failures = sample_run(&pf, &cfg, &rep);

	if (g.report_fd >= 0) {
		out("Report written to " REPORT_PATH ".", COLOR_TEXT);
		sceIoClose(g.report_fd);
		g.report_fd = -1;
	} else {
		snprintf(line, sizeof line, "Could not write " REPORT_PATH " (error 0x%08X).", (unsigned)g.report_fd);
		out(line, COLOR_FAIL);
	}
	out("Press START to exit.", failures ? COLOR_FAIL : COLOR_OK);
	wait_for_start();

	if (g.fb_uid >= 0)
		sceKernelFreeMemBlock(g.fb_uid);
	sceKernelExitProcess(0);
	return 0;
}
