//! The standard names: the malloc family, newlib's `_r` entry points, and
//! the extras newlib and glibc define. Built only with feature `c-library`:
//! these symbols replace the C library's allocator in the whole program.
//!
//! newlib links each of its wrapper objects as a unit (DESIGN.md §1): we
//! define every core `_r` function, `cfree`, and every public wrapper, so no
//! newlib malloc object is ever pulled in. `__malloc_lock`/`__malloc_unlock`
//! are deliberately not defined (VitaSDK's `mlock.o` always is).

use super::api::{self, Errno};
use crate::heap::MallInfo;
use core::ffi::{c_char, c_int, c_void};

/// newlib's `struct _reent`, opaque: only its first member (`int _errno`)
/// is touched.
type Reent = c_void;

fn r(reent: *mut Reent) -> Errno {
    Errno::Reent(reent.cast())
}

#[unsafe(no_mangle)]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    api::malloc(size, Errno::Thread)
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(p: *mut c_void) {
    // SAFETY: forwarded.
    unsafe { api::free(p, "free") }
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cfree(p: *mut c_void) {
    // SAFETY: forwarded.
    unsafe { api::free(p, "cfree") }
}

#[unsafe(no_mangle)]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    api::calloc(n, size, Errno::Thread)
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { api::realloc(p, size, Errno::Thread, "realloc") }
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocf(p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { api::reallocf(p, size, Errno::Thread, "reallocf") }
}

#[unsafe(no_mangle)]
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    api::memalign(align, size, Errno::Thread)
}

#[unsafe(no_mangle)]
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    api::memalign(align, size, Errno::Thread)
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    // SAFETY: forwarded.
    unsafe { api::posix_memalign(out, align, size) }
}

#[unsafe(no_mangle)]
pub extern "C" fn valloc(size: usize) -> *mut c_void {
    api::valloc(size, Errno::Thread)
}

#[unsafe(no_mangle)]
pub extern "C" fn pvalloc(size: usize) -> *mut c_void {
    api::pvalloc(size, Errno::Thread)
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    // SAFETY: forwarded.
    unsafe { api::usable_size(p, "malloc_usable_size") }
}

#[unsafe(no_mangle)]
pub extern "C" fn malloc_trim(pad: usize) -> c_int {
    api::trim(pad)
}

#[unsafe(no_mangle)]
pub extern "C" fn malloc_stats() {
    api::print_stats(None)
}

#[unsafe(no_mangle)]
pub extern "C" fn mallopt(param: c_int, value: c_int) -> c_int {
    api::mallopt(param, value)
}

#[unsafe(no_mangle)]
pub extern "C" fn mstats(title: *const c_char) {
    api::print_stats(Some(title))
}

/// newlib's `mallinfo`: ten `size_t` fields.
#[cfg(not(target_env = "gnu"))]
#[unsafe(no_mangle)]
pub extern "C" fn mallinfo() -> MallInfo {
    api::mallinfo()
}

/// glibc's `struct mallinfo` has `int` fields: a preloaded library must
/// return that layout or the caller's stack is overwritten.
#[cfg(target_env = "gnu")]
#[repr(C)]
pub struct GlibcMallInfo([c_int; 10]);

#[cfg(target_env = "gnu")]
#[unsafe(no_mangle)]
pub extern "C" fn mallinfo() -> GlibcMallInfo {
    let m = api::mallinfo();
    let f = [
        m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks, m.uordblks,
        m.fordblks, m.keepcost,
    ];
    GlibcMallInfo(f.map(|v| v.min(c_int::MAX as usize) as c_int))
}

/// glibc's `mallinfo2`: the `size_t` layout.
#[cfg(target_env = "gnu")]
#[unsafe(no_mangle)]
pub extern "C" fn mallinfo2() -> MallInfo {
    api::mallinfo()
}

// ----- newlib's reentrant entry points ------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn _malloc_r(reent: *mut Reent, size: usize) -> *mut c_void {
    api::malloc(size, r(reent))
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _free_r(_reent: *mut Reent, p: *mut c_void) {
    // SAFETY: forwarded.
    unsafe { api::free(p, "_free_r") }
}

#[unsafe(no_mangle)]
pub extern "C" fn _calloc_r(reent: *mut Reent, n: usize, size: usize) -> *mut c_void {
    api::calloc(n, size, r(reent))
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _realloc_r(reent: *mut Reent, p: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { api::realloc(p, size, r(reent), "_realloc_r") }
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _reallocf_r(
    reent: *mut Reent,
    p: *mut c_void,
    size: usize,
) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { api::reallocf(p, size, r(reent), "_reallocf_r") }
}

#[unsafe(no_mangle)]
pub extern "C" fn _memalign_r(reent: *mut Reent, align: usize, size: usize) -> *mut c_void {
    api::memalign(align, size, r(reent))
}

#[unsafe(no_mangle)]
pub extern "C" fn _valloc_r(reent: *mut Reent, size: usize) -> *mut c_void {
    api::valloc(size, r(reent))
}

#[unsafe(no_mangle)]
pub extern "C" fn _pvalloc_r(reent: *mut Reent, size: usize) -> *mut c_void {
    api::pvalloc(size, r(reent))
}

/// # Safety
/// C's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _malloc_usable_size_r(_reent: *mut Reent, p: *mut c_void) -> usize {
    // SAFETY: forwarded.
    unsafe { api::usable_size(p, "_malloc_usable_size_r") }
}

#[unsafe(no_mangle)]
pub extern "C" fn _malloc_trim_r(_reent: *mut Reent, pad: usize) -> c_int {
    api::trim(pad)
}

#[unsafe(no_mangle)]
pub extern "C" fn _mallinfo_r(_reent: *mut Reent) -> MallInfo {
    api::mallinfo()
}

#[unsafe(no_mangle)]
pub extern "C" fn _malloc_stats_r(_reent: *mut Reent) {
    api::print_stats(None)
}

#[unsafe(no_mangle)]
pub extern "C" fn _mallopt_r(_reent: *mut Reent, param: c_int, value: c_int) -> c_int {
    api::mallopt(param, value)
}

#[unsafe(no_mangle)]
pub extern "C" fn _mstats_r(_reent: *mut Reent, title: *const c_char) {
    api::print_stats(Some(title))
}
