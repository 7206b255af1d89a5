/*
 * sim_crt.c -- simulates the part of VitaSDK's crt0 that matters to an
 * allocator: _start calls _init_vita_newlib(), which calls _init_vita_heap()
 * before main and before any C/C++ constructor. On the Vita the kernel has
 * set up the main thread's TLS (TPIDRURO) before any user code runs; here
 * sim_kernel_start() does it (ARM: TPIDRURO := end of the main thread's
 * simulated TLS area; host: nothing), first, so an allocator's fast path may
 * read TPIDRURO from its very first call.
 *
 * Here a pointer in .preinit_array does it: newlib's __libc_init_array
 * (called by rdimon's crt0) and glibc both run .preinit_array before every
 * .init_array entry, whatever its constructor priority. Link this file as an
 * OBJECT (not from an archive) ahead of all libraries: its undefined
 * reference to _init_vita_heap is what pulls vitalloc's object in (when
 * libvitalloc.a comes first) or sim_sbrk.o from libsim_sbrk.a, exactly as
 * crt0's reference does on the Vita (sim_kernel_start comes from
 * libsim_kernel.a, last on the line). Executables only (.preinit_array is
 * not allowed in shared objects). Must never allocate or print.
 */
void _init_vita_heap(void);
void sim_kernel_start(void);

static void sim_crt_init(void)
{
	sim_kernel_start();
	_init_vita_heap();
}

__attribute__((section(".preinit_array"), used)) static void (*const sim_crt_preinit)(void) = sim_crt_init;
