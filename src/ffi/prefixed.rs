//! `vitalloc_*`: the documented C API (the functions of `vitalloc.h`),
//! always exported, so a program can call vitalloc explicitly even where the
//! standard names are not overridden.

use super::api::{self, Errno};
use crate::heap::{BlockHook, ClassStats, MallInfo, Stats};
use core::ffi::{c_char, c_int, c_void};

// In C, `Stats` is `vitalloc_stats_t`, `MallInfo` is `vitalloc_mallinfo_t`,
// `ClassStats` is `vitalloc_class_stats_t`, `DumpLine` is
// `vitalloc_dump_line_t` and `ErrorHook` is `vitalloc_error_hook_t`
// (cbindgen.toml renames them).
use crate::report::ErrorHook;

/// Allocates `size` bytes aligned to 8 bytes (32-bit ARM) or 16 (x86-64).
/// `size` 0 gives a unique pointer. Returns NULL with `errno = ENOMEM` when
/// no memory can be had. Thread-safe, O(1).
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_malloc(size: usize) -> *mut c_void {
    api::malloc(size, Errno::Thread)
}

/// Frees `ptr` (NULL does nothing). A pointer vitalloc never returned, or one
/// already freed, ends the program with a one-line message naming the call
/// and the address. Thread-safe, O(1).
///
/// # Safety
/// `ptr` is NULL or a live allocation from vitalloc.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_free(ptr: *mut c_void) {
    // SAFETY: forwarded.
    unsafe { api::free(ptr, "vitalloc_free") }
}

/// Allocates `n * size` zeroed bytes. NULL with `errno = ENOMEM` when the
/// product overflows or no memory can be had. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_calloc(n: usize, size: usize) -> *mut c_void {
    api::calloc(n, size, Errno::Thread)
}

/// Resizes `ptr` to `size` bytes, in place when possible, keeping the
/// contents up to the smaller size. `ptr` NULL allocates; `size` 0 shrinks
/// to the smallest allocation and returns a unique non-NULL pointer (as
/// newlib's realloc does; it does not free). On failure returns NULL with
/// `errno = ENOMEM` and `ptr` is left intact. Thread-safe.
///
/// # Safety
/// `ptr` is NULL or a live allocation from vitalloc.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { api::realloc(ptr, size, Errno::Thread, "vitalloc_realloc") }
}

/// Allocates `size` bytes aligned to `alignment`, which must be a power of
/// two (any size up to half the address space; at most `alignment` bytes are
/// wasted). NULL with `errno = EINVAL` for a bad alignment, `ENOMEM` when no
/// memory can be had. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_memalign(alignment: usize, size: usize) -> *mut c_void {
    api::memalign(alignment, size, Errno::Thread)
}

/// POSIX `posix_memalign`: stores an allocation of `size` bytes aligned to
/// `alignment` in `*memptr` and returns 0; returns `EINVAL` when `alignment`
/// is not a power of two multiple of `sizeof(void *)`, `ENOMEM` when no
/// memory can be had. `*memptr` is untouched on failure and `errno` is not
/// changed. Thread-safe.
///
/// # Safety
/// `memptr` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_posix_memalign(
    memptr: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    // SAFETY: forwarded.
    unsafe { api::posix_memalign(memptr, alignment, size) }
}

/// C11 `aligned_alloc`: as `vitalloc_memalign` (`size` need not be a
/// multiple of `alignment`). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    api::memalign(alignment, size, Errno::Thread)
}

/// The number of bytes usable at `ptr` (at least what was asked for; all of
/// them may be written; in the debug build, exactly what was asked for).
/// 0 for NULL. Thread-safe, O(1).
///
/// # Safety
/// `ptr` is NULL or a live allocation from vitalloc.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_usable_size(ptr: *mut c_void) -> usize {
    // SAFETY: forwarded.
    unsafe { api::usable_size(ptr, "vitalloc_usable_size") }
}

/// Fills `*out` with the heap's statistics: bytes in use and reserved from
/// the system (memblocks on the Vita) with their peaks, live allocations,
/// segments, large blocks, source blocks held, and call counters.
/// Thread-safe, O(1). A program can call it at start to check that vitalloc
/// (and not newlib's malloc) is the heap: after any allocation,
/// `malloc_calls` is non-zero.
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_stats(out: *mut Stats) {
    if !out.is_null() {
        // SAFETY: the caller provides a writable `out`.
        unsafe { out.write(api::stats()) }
    }
}

/// Walks the whole heap and verifies every invariant (segments and their
/// page runs, the page map, spans and their free lists, thread heaps, large
/// blocks, statistics) and, in the debug build, every live block's canary
/// and header and the quarantine's poison. Returns 0 when all hold;
/// otherwise reports the first violation in one line naming the structure
/// and the address, e.g. "vitalloc: vitalloc_check: span: a free object was
/// written to (write after free?) (at 0x81234560)", or in the debug build
/// "vitalloc: vitalloc_check: buffer overrun after block 0x... of N bytes,
/// allocated by 0x..." -- printed (stderr; `sceClibPrintf` on the Vita) and
/// passed to the error hook -- and returns 1. Slow (proportional
/// to the heap's size): for tests and debugging. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_check() -> c_int {
    api::check()
}

/// Gives cached free memory back to the system (empty slabs, the spare
/// segment, the cached large block), keeping at least `pad` free bytes if
/// there is a spare segment that large. Returns 1 if memory was released,
/// else 0. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_trim(pad: usize) -> c_int {
    api::trim(pad)
}

/// The heap's figures in `mallinfo` form (ten `size_t` fields, newlib's
/// layout): `arena` bytes in segments, `ordblks` free blocks, `smblks`
/// slabs, `hblks`/`hblkhd` large blocks and their bytes, `usmblks` peak
/// reserved bytes, `fsmblks` bytes in slabs, `uordblks` bytes in use,
/// `fordblks` free bytes in segments, `keepcost` bytes a trim could release.
/// Thread-safe, O(1).
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_mallinfo() -> MallInfo {
    api::mallinfo()
}

/// Limits the bytes vitalloc may hold from the system (0: no limit beyond
/// the system's own). Allocations that would exceed it fail with ENOMEM.
/// Memory already held is not released. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_set_limit(bytes: usize) {
    api::set_limit(bytes)
}

/// Installs `hook` (NULL removes it): called with the one-line message,
/// after it was printed, when vitalloc detects a misuse it cannot survive
/// (then the program is aborted: on the Vita, the hook is a chance to show
/// the message on screen or write it to a file) and when `vitalloc_check`
/// finds a broken invariant (then `vitalloc_check` returns 1). The hook must
/// not call vitalloc. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_set_error_hook(hook: ErrorHook) {
    crate::report::set_hook(hook)
}

/// Installs `hook` (NULL removes it), called whenever vitalloc obtains a
/// block from the system (event `VITALLOC_BLOCK_ACQUIRED`, after) or gives
/// one back (`VITALLOC_BLOCK_RELEASED`, before), with the block's base, size,
/// memory type, memblock uid and kind (0 segment, 1 large allocation,
/// 2 metadata) and `user`. On installation it is called at once for every
/// block already held, so a program can, e.g., map each segment for the GPU
/// (`sceGxmMapMemory`) whenever it is installed. The hook runs with the heap
/// locked: it must not allocate or free. Thread-safe.
///
/// # Safety
/// `hook` is NULL or a function with this signature; `user` is whatever it
/// expects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_set_block_hook(hook: BlockHook, user: *mut c_void) {
    super::HEAP.with(|h| h.set_block_hook(hook, user))
}

/// Single-block mode: from the first allocation on, vitalloc holds exactly
/// one memblock of `size` bytes (rounded up to the memory type's
/// granularity) and serves every allocation from it, large ones included;
/// the heap never grows beyond it nor gives it back. This is what vitaGL
/// and other code expecting newlib's single heap block need. Returns 0, or
/// -1 if vitalloc already holds memory (then nothing changes). On the Vita
/// newlib allocates before `main`, so define the symbol instead:
/// `unsigned int vitalloc_single_block_size = 64 * 1024 * 1024;` (read by
/// vitalloc at start-up, before any allocation), or link the CMake target
/// `vitalloc::single_block`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn vitalloc_set_single_block(size: usize) -> c_int {
    if super::HEAP.with(|h| h.set_single_block(size)) {
        0
    } else {
        -1
    }
}

/// Called by `vitalloc_dump` with each line (NUL-terminated, no newline,
/// in a buffer of vitalloc's that is only valid during the call) and the
/// `user` pointer given to `vitalloc_dump`.
pub type DumpLine = Option<unsafe extern "C" fn(line: *const c_char, user: *mut c_void)>;

/// Lists the heap's live blocks, one line each, through `line` — a leak
/// report at any point (at exit: what was never freed). Only the debug
/// build (CMake target `vitalloc::debug`) records blocks: the release build
/// calls `line` once with a line saying so and returns 0. In the debug
/// build the lines are, in this order:
/// `vitalloc: <n> live blocks, <bytes> bytes; quarantine <n> blocks, <bytes> bytes`,
/// then for each block live when the dump started, oldest first,
/// `vitalloc: block 0x<address> of <size> bytes, allocated by 0x<caller> (allocation <serial>)`
/// (`caller` is the return address into the code that called malloc &
/// co.: `addr2line -e <program> 0x<caller>` names the line), then for each
/// size class used so far
/// `vitalloc: class <size>: <a> allocations, <f> frees, <n> live (<bytes> bytes), peak <p> live`
/// (`class medium (up to <size>)` and `class large` last). Returns the
/// number of blocks listed. Nothing is allocated while the heap is walked,
/// and `line` runs with no lock held: it may allocate and free (blocks it
/// allocates are not listed), but must not call `vitalloc_dump`. `line`
/// NULL just counts. Thread-safe; O(live blocks).
///
/// # Safety
/// `line` is NULL or a function with this signature; `user` is whatever it
/// expects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_dump(line: DumpLine, user: *mut c_void) -> usize {
    // SAFETY: forwarded.
    unsafe { api::dump(line, user) }
}

/// Per-size-class statistics of the debug build: copies up to `n` entries
/// (one per size class of small requests, by the size the program asked
/// for, then one for medium and one for large requests) into `out` and
/// returns how many entries there are (`out` NULL or `n` 0: just that
/// number). The release build counts nothing per class and returns 0.
/// Thread-safe.
///
/// # Safety
/// `out` has room for `n` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_class_stats(out: *mut ClassStats, n: usize) -> usize {
    // SAFETY: forwarded.
    unsafe { api::class_stats(out, n) }
}
