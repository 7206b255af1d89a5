/* ARM instruction counts of vitalloc against newlib's own malloc (dlmalloc
 * 2.6, the allocator VitaSDK ships), on the same call sequence, under
 * qemu-arm. Built twice by bench/arm/run.sh: linked with libvitalloc.a, and
 * without it (newlib's malloc over the simulated sbrk.o heap). The workload
 * runs N operations, N taken from argv so the harness can subtract two runs
 * (N and 2N) and get instructions per operation without start-up costs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long rng = 0x9e3779b97f4a7c15ull;
static unsigned next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)rng;
}

#define SLOTS 512
static void *slot[SLOTS];

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	const char *w = argc > 1 ? argv[1] : "pair";
	unsigned sum = 0;
	/* Something stays allocated, as stdio's buffers do in any program. */
	static void *volatile resident;
	resident = malloc(100);
	if (!strcmp(w, "pair")) {
		for (int i = 0; i < n; i++) {
			char *p = malloc(32);
			p[0] = (char)i;
			sum += (unsigned char)p[0];
			free(p);
		}
	} else if (!strcmp(w, "small")) { /* 16-256 B, random lifetimes */
		for (int i = 0; i < n; i++) {
			unsigned r = next(), k = r % SLOTS;
			if (slot[k]) {
				free(slot[k]);
				slot[k] = 0;
			} else {
				slot[k] = malloc(16 + (r >> 9) % 240);
				((char *)slot[k])[0] = 1;
			}
		}
	} else { /* "mixed": 8 B - 8 KiB with realloc */
		for (int i = 0; i < n; i++) {
			unsigned r = next(), k = r % SLOTS, size = 8 + (r >> 9) % 8192;
			if (!slot[k]) {
				slot[k] = malloc(size);
			} else if (r & 0x100) {
				free(slot[k]);
				slot[k] = 0;
			} else {
				slot[k] = realloc(slot[k], size);
			}
			if (slot[k])
				((char *)slot[k])[0] = 1;
		}
	}
	printf("%s %d %u\n", w, n, sum);
	return 0;
}
