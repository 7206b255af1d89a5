/*
 * test_fork -- fork() while other threads allocate (host).
 *
 * vitalloc registers pthread_atfork handlers so that a child forked while
 * another thread holds the heap lock does not deadlock. Two threads churn
 * malloc/free; the main thread forks 40 times; each child allocates,
 * frees, checks the heap, reads and frees blocks its parent allocated
 * before the fork, and exits 0. A child that deadlocks is killed by
 * alarm() and fails the test.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vt_test.h"

static atomic_int stop;

static void *churn(void *arg)
{
	unsigned s = (unsigned)(intptr_t)arg;
	void *keep[64] = {0};
	while (!stop) {
		for (int i = 0; i < 64; i++) {
			s = s * 1103515245u + 12345u;
			free(keep[i]);
			size_t n = (s >> 8) % 70000;
			keep[i] = (s & 1) ? malloc(n) : memalign(64, n);
			if (keep[i])
				memset(keep[i], (int)(s & 0xff), n < 64 ? n : 64);
		}
	}
	for (int i = 0; i < 64; i++)
		free(keep[i]);
	return NULL;
}

static int child(unsigned char *inherited, size_t n)
{
	alarm(20);
	int bad = 0;
	if (!vt_verify(inherited, n, 42))
		bad |= 1;
	free(inherited);
	for (int i = 0; i < 2000; i++) {
		void *p = malloc((size_t)(i * 97) % 20000);
		if (!p)
			bad |= 2;
		free(p);
	}
	void *big = malloc(3 * VT_MIB);
	if (!big)
		bad |= 4;
	free(big);
	if (vitalloc_check() != 0)
		bad |= 8;
	return bad;
}

int main(void)
{
	vt_start("test_fork");
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		VT_REQUIRE(pthread_create(&t[i], NULL, churn, (void *)(intptr_t)(i + 7)) == 0);

	for (int round = 0; round < 40; round++) {
		size_t n = 1000 + (size_t)round * 1500;
		unsigned char *p = malloc(n);
		VT_REQUIRE(p != NULL);
		vt_fill(p, n, 42);
		fflush(stdout);
		pid_t pid = fork();
		VT_REQUIRE(pid >= 0);
		if (pid == 0)
			_exit(child(p, n));
		int status = 0;
		VT_REQUIRE(waitpid(pid, &status, 0) == pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			VT_FAIL_AT("round %d: child %s %d", round,
				   WIFSIGNALED(status) ? "killed by signal" : "exited with",
				   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		vt_checks++;
		VT_CHECK(vt_verify(p, n, 42)); /* the parent's copy is untouched */
		free(p);
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		VT_REQUIRE(pthread_join(t[i], NULL) == 0);
	VT_HEAP_OK();
	return vt_done("test_fork");
}
