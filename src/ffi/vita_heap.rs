//! VitaSDK's `sbrk.o` replaced: the four globals its crt0 and newlib use
//! (DESIGN.md §1). Defining them keeps `sbrk.o` out of the link, so newlib's
//! 128 MiB heap memblock is never reserved, and crt0's reference to
//! `_init_vita_heap` pulls vitalloc's object in by itself.
//!
//! A program's own `_newlib_heap_size_user`, if it defines one, becomes the
//! heap's upper bound (existing projects keep their line and its meaning:
//! "at most this much heap"). Nothing here may set `errno`: newlib's
//! reentrancy structure does not exist yet when `_init_vita_heap` runs.

use super::HEAP;
use crate::heap::Tunables;
use crate::sys::vita::{SceKernelFreeMemorySizeInfo, sceKernelGetFreeMemorySize};
use core::ffi::{c_int, c_uint, c_void};

unsafe extern "C" {
    /// The program's heap size, if it defines one (null address otherwise).
    #[linkage = "extern_weak"]
    static _newlib_heap_size_user: *const c_uint;
    /// Single-block mode's size, if the program defines it (see
    /// `vitalloc_set_single_block`).
    #[linkage = "extern_weak"]
    static vitalloc_single_block_size: *const c_uint;
}

/// Called by crt0 before `main` and before C++ constructors: checks the
/// thread-local storage layout and creates the heap's lock while the
/// program is still single-threaded, and applies the program's
/// `_newlib_heap_size_user` as the limit. Reserves no memory.
#[unsafe(no_mangle)]
pub extern "C" fn _init_vita_heap() {
    // Before anything allocates, while this is the only thread: whether
    // the fast path may read the thread slot below TPIDRURO.
    crate::sys::thread::check_layout();
    HEAP.raw_lock().ensure_created();
    // SAFETY: a weak reference: null when the program defines no size,
    // otherwise the address of its `unsigned int`.
    let limit = unsafe { _newlib_heap_size_user.as_ref().map_or(0, |v| *v as usize) };
    // SAFETY: as above.
    let single = unsafe {
        vitalloc_single_block_size
            .as_ref()
            .map_or(0, |v| *v as usize)
    };
    HEAP.with(|h| {
        if limit != 0 {
            let t = h.tunables();
            h.set_tunables(Tunables { limit, ..t });
        }
        if single != 0 {
            h.set_single_block(single);
        }
    });
}

/// Called at exit by newlib. The kernel reclaims every memblock of a process
/// when it ends; freeing them here would pull the memory from under
/// destructors and `atexit` handlers that still run.
#[unsafe(no_mangle)]
pub extern "C" fn _free_vita_heap() {}

/// The heap's size for newlib (`getrlimit(RLIMIT_DATA)`): the limit when one
/// is set, otherwise what vitalloc holds plus the free user memory the
/// kernel reports.
#[unsafe(no_mangle)]
pub extern "C" fn _get_vita_heap_size() -> c_int {
    let s = HEAP.stats();
    if s.limit != 0 {
        return s.limit.min(c_int::MAX as usize) as c_int;
    }
    let mut info = SceKernelFreeMemorySizeInfo {
        size: size_of::<SceKernelFreeMemorySizeInfo>() as c_int,
        size_user: 0,
        size_cdram: 0,
        size_phycont: 0,
    };
    // SAFETY: `info` is a valid, sized structure.
    let free = if unsafe { sceKernelGetFreeMemorySize(&mut info) } >= 0 {
        info.size_user.max(0) as usize
    } else {
        0
    };
    (s.reserved + free).min(c_int::MAX as usize) as c_int
}

/// There is no program break: memory comes from memblocks. Always fails
/// with ENOMEM, as newlib's `_sbrk_r` does when its heap is full.
#[unsafe(no_mangle)]
pub extern "C" fn _sbrk_r(reent: *mut c_int, _incr: isize) -> *mut c_void {
    if !reent.is_null() {
        // SAFETY: newlib's `struct _reent` begins with `int _errno`.
        unsafe { *reent = crate::sys::ENOMEM };
    }
    usize::MAX as *mut c_void
}
