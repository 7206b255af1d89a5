/*
 * textscreen.h -- a minimal text console drawn into a 32-bit framebuffer,
 * for the sample's on-screen output (main_vita.c gives it the Vita's
 * 960x544 framebuffer; tests give it a buffer in memory).
 *
 * Pixels are 0xAABBGGRR words (SceDisplay's A8B8G8R8 on the little-endian
 * Vita). The font's cell is 6x8 pixels, times `scale`: at scale 2 the Vita's
 * screen holds 80 columns and 34 rows. Text wraps at the right edge and the
 * screen scrolls up when full. Never allocates.
 */
#ifndef VITALLOC_SAMPLE_TEXTSCREEN_H
#define VITALLOC_SAMPLE_TEXTSCREEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TEXTSCREEN_RGB(r, g, b) (0xff000000u | ((uint32_t)(b) << 16) | ((uint32_t)(g) << 8) | (uint32_t)(r))

typedef struct textscreen {
	uint32_t *pixels;             /* top-left pixel */
	unsigned width, height, pitch; /* in pixels; pitch >= width */
	unsigned scale;               /* 1, 2, ...: pixels per font pixel */
	unsigned cols, rows;          /* text cells on screen */
	unsigned x, y;                /* cursor, in cells */
	uint32_t fg, bg;
} textscreen_t;

/* Sets up and clears the screen (white on black). */
void textscreen_init(textscreen_t *ts, uint32_t *pixels, unsigned width, unsigned height, unsigned pitch,
		     unsigned scale);
void textscreen_clear(textscreen_t *ts);
void textscreen_color(textscreen_t *ts, uint32_t fg, uint32_t bg);
/* Draws one character ('\n', '\r' and '\t' move the cursor; other
   characters outside printable ASCII are drawn as '?'). */
void textscreen_putc(textscreen_t *ts, char c);
void textscreen_puts(textscreen_t *ts, const char *s);

#ifdef __cplusplus
}
#endif

#endif /* VITALLOC_SAMPLE_TEXTSCREEN_H */
