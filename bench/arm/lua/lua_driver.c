/* lua_driver.c -- runs one Lua 5.4 script (argv[1]) as an allocation
 * workload for the ARM benchmark (bench/arm/run.sh).
 *
 * The state is created with lua_newstate and an allocator that behaves
 * exactly like Lua's default l_alloc (lauxlib.c): free() when nsize == 0,
 * realloc() otherwise. Those realloc/free calls into the C library ARE the
 * allocation stream being measured, so this file must add no other heap
 * traffic inside the measured region. The allocator also keeps the live
 * requested bytes (sum of nsize - osize) and their peak, and counts calls.
 *
 *   setup (not measured): read the script into memory, create the state,
 *                         open the standard libraries
 *   vtb_begin()
 *   measured:             compile + run the script, lua_close
 *   vtb_end()
 *   vtb_report(<script basename>, peak live requested bytes)
 *
 * A line "lua-driver: <name> calls=... peak_live=..." goes to stderr, so
 * stdout carries only the script's own output (its checksum) and whatever
 * the harness prints. Exit status: 0 on success, 1 on any error.
 *
 * Build: see build.sh (compiled with -I<repo>/bench/arm and Lua's headers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "../harness.h"

static size_t live_bytes;           /* requested bytes now held by Lua */
static size_t peak_live;            /* maximum of live_bytes */
static unsigned long n_malloc, n_realloc, n_free, n_free_null;

/* Lua's l_alloc plus bookkeeping. When ptr is NULL, Lua passes the kind of
 * object in osize, not a size, so only a non-NULL block has an old size. */
static void *driver_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	size_t old = ptr ? osize : 0;
	(void)ud;
	if (nsize == 0) {
		n_free++;
		if (!ptr)
			n_free_null++; /* Lua frees empty parts too: a real free(NULL) */
		live_bytes -= old;
		free(ptr);
		return NULL;
	} else {
		void *p = realloc(ptr, nsize);
		if (p) {
			if (ptr)
				n_realloc++;
			else
				n_malloc++;
			live_bytes += nsize - old; /* modular: works for shrinks too */
			if (live_bytes > peak_live)
				peak_live = live_bytes;
		}
		return p;
	}
}

/* as lauxlib's panic(): report and let Lua abort */
static int driver_panic(lua_State *L)
{
	const char *msg = lua_tostring(L, -1);
	fprintf(stderr, "lua-driver: PANIC: unprotected error in call to Lua API (%s)\n",
		msg ? msg : "error object is not a string");
	return 0;
}

/* warnings stay off, as with luaL_newstate's default */
static void driver_warn(void *ud, const char *msg, int tocont)
{
	(void)ud;
	(void)msg;
	(void)tocont;
}

/* whole file in one malloc'd buffer (outside the measured region) */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 16384);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static const char *base_name(const char *path)
{
	const char *b = path;
	for (const char *p = path; *p; p++)
		if (*p == '/' || *p == '\\')
			b = p + 1;
	return b;
}

int main(int argc, char **argv)
{
	/* stdout's buffer is static: newlib would otherwise malloc it on the
	 * script's first print, inside the measured region */
	static char outbuf[1024];
	const char *path, *name;
	char *src, chunkname[256];
	size_t len;
	lua_State *L;
	int status;

	if (argc < 2) {
		fprintf(stderr, "usage: %s script.lua\n", argv[0]);
		return 1;
	}
	path = argv[1];
	name = base_name(path);
	setvbuf(stdout, outbuf, _IOLBF, sizeof outbuf);

	src = read_file(path, &len);
	if (!src) {
		fprintf(stderr, "lua-driver: cannot read %s\n", path);
		return 1;
	}
	snprintf(chunkname, sizeof chunkname, "@%s", name);

	L = lua_newstate(driver_alloc, NULL);
	if (!L) {
		fprintf(stderr, "lua-driver: cannot create the Lua state\n");
		return 1;
	}
	lua_atpanic(L, driver_panic);
	lua_setwarnf(L, driver_warn, NULL);
	luaL_openlibs(L);

	vtb_begin();
	status = luaL_loadbuffer(L, src, len, chunkname);
	if (status == LUA_OK)
		status = lua_pcall(L, 0, 0, 0);
	if (status != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		fprintf(stderr, "lua-driver: %s: %s\n", name, msg ? msg : "(error object is not a string)");
	}
	lua_close(L);
	vtb_end();

	free(src);
	if (status != LUA_OK)
		return 1;
	if (live_bytes != 0) {
		fprintf(stderr, "lua-driver: %s: %lu bytes still live after lua_close\n", name,
			(unsigned long)live_bytes);
		return 1;
	}
	fflush(stdout);
	fprintf(stderr, "lua-driver: %s calls=%lu (malloc %lu, realloc %lu, free %lu of which free(NULL) %lu) peak_live=%lu\n",
		name, n_malloc + n_realloc + n_free, n_malloc, n_realloc, n_free, n_free_null, (unsigned long)peak_live);
	vtb_report(name, (unsigned long long)peak_live);
	return 0;
}
