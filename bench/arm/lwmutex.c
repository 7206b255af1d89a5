/* The simulated kernel's LwMutex lock+unlock pair alone, so bench/arm/run.sh
 * can say how much of vitalloc's count is the simulator's lock (on the Vita
 * the lock is the kernel's, and newlib's malloc takes one too; Debian's
 * newlib under qemu does not lock at all). */
#include <stdlib.h>
#include "sim_kernel.h"

static SceKernelLwMutexWork work;

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	sceKernelCreateLwMutex(&work, "bench", 0, 0, 0);
	for (int i = 0; i < n; i++) {
		sceKernelLockLwMutex(&work, 1, 0);
		sceKernelUnlockLwMutex(&work, 1);
	}
	return 0;
}
