/*
 * test_abort_fork -- misuse reports checked from a parent process (host):
 * each misuse runs in a forked child whose stderr goes to a pipe.
 *
 *  - the child is ended by SIGABRT (abort(), not exit);
 *  - stderr holds exactly one line: "vitalloc: <call>(0x<addr>): ...;
 *    aborting" with the address the child misused;
 *  - vitalloc_set_error_hook: the hook is called once, before the end,
 *    with exactly that line (NUL-terminated); it can use write(2);
 *  - the parent's heap is unaffected (vitalloc_check() == 0).
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt_test.h"

static int hook_fd = -1;

static void hook(const char *msg)
{
	(void)!write(hook_fd, msg, strlen(msg));
}

typedef void (*misuse_fn)(void *);
static void do_free(void *p) { free(p); }
static void do_cfree(void *p) { cfree(p); }
static void *volatile sink;
static void do_realloc(void *p) { sink = realloc(p, 64); }
static void do_vfree(void *p) { vitalloc_free(p); }

static char global_block[128];

enum { FREED_SMALL, FREED_MEDIUM, FREED_LARGE, GLOBAL, INTERIOR };

static void *make(int kind)
{
	size_t n = kind == FREED_SMALL ? 16 : kind == FREED_MEDIUM ? 5000 : 4 * VT_MIB;
	if (kind == GLOBAL)
		return vt_ptr(global_block);
	/* A live neighbour of the same size keeps the slab (or segment) in
	   place, as other objects do in any real program, so a second free
	   is recognised as a double free. */
	static void *volatile neighbour;
	neighbour = malloc(n);
	unsigned char *p = calloc(1, kind == INTERIOR ? 5000 : n);
	if (!p || !neighbour)
		_exit(90);
	if (kind == INTERIOR)
		return vt_ptr(p + 16);
	free(p);
	return vt_ptr(p);
}

static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	return n;
}

static void run(const char *call, misuse_fn fn, int kind, int with_hook,
		const char *what)
{
	int err[2], hk[2], addr[2];
	VT_REQUIRE(pipe(err) == 0 && pipe(hk) == 0 && pipe(addr) == 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	VT_REQUIRE(pid >= 0);
	if (pid == 0) {
		close(err[0]);
		close(hk[0]);
		close(addr[0]);
		dup2(err[1], 2);
		hook_fd = hk[1];
		if (with_hook)
			vitalloc_set_error_hook(hook);
		void *p = make(kind);
		char line[64];
		int len = snprintf(line, sizeof line, "0x%lx", (unsigned long)(uintptr_t)p);
		(void)!write(addr[1], line, (size_t)len);
		fn(p);
		_exit(0); /* not detected */
	}
	close(err[1]);
	close(hk[1]);
	close(addr[1]);
	char ebuf[4096], hbuf[4096], abuf[64];
	read_all(addr[0], abuf, sizeof abuf);
	read_all(err[0], ebuf, sizeof ebuf);
	read_all(hk[0], hbuf, sizeof hbuf);
	close(err[0]);
	close(hk[0]);
	close(addr[0]);
	int status = 0;
	VT_REQUIRE(waitpid(pid, &status, 0) == pid);

	char expect[256];
	snprintf(expect, sizeof expect, "vitalloc: %s(%s): %s", call, abuf, what);
	int ok = 1;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
		VT_FAIL_AT("%s: child was not ended by SIGABRT (status 0x%x)", expect, status);
		ok = 0;
	}
	/* Exactly one line, the expected one. */
	size_t elen = strlen(ebuf);
	if (strncmp(ebuf, expect, strlen(expect)) != 0 || elen == 0 ||
	    ebuf[elen - 1] != '\n' || strchr(ebuf, '\n') != ebuf + elen - 1 ||
	    strstr(ebuf, "; aborting\n") != ebuf + elen - 11) {
		VT_FAIL_AT("stderr is not the one expected line '%s...; aborting':\n%s",
			   expect, ebuf);
		ok = 0;
	}
	if (with_hook && strcmp(hbuf, ebuf) != 0) {
		VT_FAIL_AT("the hook got '%s', stderr has '%s'", hbuf, ebuf);
		ok = 0;
	}
	if (!with_hook && hbuf[0]) {
		VT_FAIL_AT("hook called without being installed: %s", hbuf);
		ok = 0;
	}
	vt_checks++;
	if (ok)
		printf("ok: %s", ebuf);
}

int main(void)
{
	vt_start("test_abort_fork");
	run("free", do_free, FREED_SMALL, 0, "double free");
	run("free", do_free, FREED_MEDIUM, 1, "double free");
	run("free", do_free, FREED_SMALL, 1, "double free");
	run("cfree", do_cfree, FREED_MEDIUM, 0, "double free");
	run("vitalloc_free", do_vfree, FREED_SMALL, 1, "double free");
	run("realloc", do_realloc, FREED_SMALL, 0, "double free");
	run("free", do_free, GLOBAL, 1, "invalid pointer");
	run("free", do_free, INTERIOR, 1, "invalid pointer");
	run("realloc", do_realloc, GLOBAL, 0, "invalid pointer");
	run("realloc", do_realloc, INTERIOR, 1, "invalid pointer");
	/* A freed 4 MiB block went back to the system: vitalloc can only
	   tell that it does not own the address any more. */
	run("free", do_free, FREED_LARGE, 1, "");
	VT_HEAP_OK();
	return vt_done("test_abort_fork");
}
