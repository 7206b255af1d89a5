//! One implementation of each C entry point, shared by the standard names,
//! newlib's `_r` names and the `vitalloc_*` names. `Errno` says where a
//! failure's errno goes: the thread's `errno`, or a `struct _reent`.
// Some entry points exist only under their standard names (feature
// `c-library`); without it they are unused.
#![cfg_attr(not(feature = "c-library"), allow(dead_code))]

use super::HEAP;
#[cfg(not(feature = "debug-heap"))]
use crate::heap::Misuse;
use crate::heap::config::{MIN_ALIGN, PAGE_SIZE};
use crate::heap::{MallInfo, Stats, Tunables};
#[cfg(not(feature = "debug-heap"))]
use crate::report;
use crate::report::Line;
use crate::sys;
use core::ffi::{c_char, c_int, c_void};
use core::fmt::Write;

/// Where `errno` is set.
#[derive(Clone, Copy)]
pub enum Errno {
    /// The calling thread's `errno`.
    Thread,
    /// newlib's `struct _reent *` (its first member is `int _errno`); null
    /// falls back to the thread's errno.
    Reent(*mut c_int),
}

impl Errno {
    #[cold]
    pub(super) fn set(self, e: c_int) {
        match self {
            // SAFETY: a non-null reent pointer is newlib's reentrancy
            // structure, whose first member is `int _errno`.
            Errno::Reent(r) if !r.is_null() => unsafe { *r = e },
            _ => sys::set_errno(e),
        }
    }
}

/// A request whose size cannot even be computed: ENOMEM, counted as a
/// failed call like the heap's own failures.
#[cold]
fn overflow(e: Errno) -> *mut c_void {
    HEAP.with(|h| h.count_failure());
    e.set(sys::ENOMEM);
    core::ptr::null_mut()
}

#[inline(always)]
pub(super) fn or_enomem(p: *mut u8, e: Errno) -> *mut c_void {
    if p.is_null() {
        e.set(sys::ENOMEM);
    }
    p.cast()
}

#[cfg(not(feature = "debug-heap"))]
#[inline(always)]
fn checked<T>(r: Result<T, Misuse>, call: &str, p: *mut c_void) -> T {
    match r {
        Ok(v) => v,
        Err(m) => report::misuse(call, p as usize, m),
    }
}

/// The fast path is a leaf: a hit returns at once, anything else is one
/// tail call to the out-of-line path (which also sets errno).
#[cfg(not(feature = "debug-heap"))]
#[inline(always)]
pub fn malloc(size: usize, e: Errno) -> *mut c_void {
    let p = HEAP.malloc_fast(size);
    if !p.is_null() {
        return p.cast();
    }
    malloc_slow(size, e)
}

#[cfg(not(feature = "debug-heap"))]
#[cold]
#[inline(never)]
fn malloc_slow(size: usize, e: Errno) -> *mut c_void {
    or_enomem(HEAP.malloc(size), e)
}

/// # Safety
/// C's `free` contract.
#[cfg(not(feature = "debug-heap"))]
#[inline(always)]
pub unsafe fn free(p: *mut c_void, call: &str) {
    // SAFETY: forwarded; null and anything not freed here go the slow way.
    if unsafe { HEAP.free_fast(p.cast()) } {
        return;
    }
    // SAFETY: forwarded.
    unsafe { free_slow(p, call) }
}

#[cfg(not(feature = "debug-heap"))]
#[cold]
#[inline(never)]
unsafe fn free_slow(p: *mut c_void, call: &str) {
    if !p.is_null() {
        // SAFETY: forwarded; misuse is reported.
        checked(unsafe { HEAP.free(p.cast()) }, call, p)
    }
}

#[cfg_attr(feature = "debug-heap", inline(always))]
pub fn calloc(n: usize, size: usize, e: Errno) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        return overflow(e);
    };
    let p = malloc(total, e);
    if !p.is_null() {
        // SAFETY: `p` has `total` writable bytes.
        unsafe { core::ptr::write_bytes(p.cast::<u8>(), 0, total) };
    }
    p
}

/// # Safety
/// C's `realloc` contract.
#[cfg(not(feature = "debug-heap"))]
pub unsafe fn realloc(p: *mut c_void, size: usize, e: Errno, call: &str) -> *mut c_void {
    // SAFETY: forwarded; misuse is reported.
    let q = checked(unsafe { HEAP.realloc(p.cast(), size) }, call, p);
    or_enomem(q, e)
}

/// `reallocf`: like realloc, but frees `p` when it fails.
///
/// # Safety
/// C's `realloc` contract.
#[cfg_attr(feature = "debug-heap", inline(always))]
pub unsafe fn reallocf(p: *mut c_void, size: usize, e: Errno, call: &str) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe {
        let q = realloc(p, size, e, call);
        if q.is_null() {
            free(p, call);
        }
        q
    }
}

/// memalign / aligned_alloc: EINVAL unless `align` is a power of two.
#[cfg(not(feature = "debug-heap"))]
pub fn memalign(align: usize, size: usize, e: Errno) -> *mut c_void {
    if !align.is_power_of_two() {
        e.set(sys::EINVAL);
        return core::ptr::null_mut();
    }
    or_enomem(HEAP.memalign(align, size), e)
}

/// # Safety
/// `out` is writable when the call succeeds.
#[cfg(not(feature = "debug-heap"))]
pub unsafe fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align % size_of::<*mut c_void>() != 0 {
        return sys::EINVAL;
    }
    let p = HEAP.memalign(align, size);
    if p.is_null() {
        return sys::ENOMEM;
    }
    // SAFETY: the caller provides a writable `out`.
    unsafe { *out = p.cast() };
    0
}

#[cfg_attr(feature = "debug-heap", inline(always))]
pub fn valloc(size: usize, e: Errno) -> *mut c_void {
    memalign(PAGE_SIZE, size, e)
}

#[cfg_attr(feature = "debug-heap", inline(always))]
pub fn pvalloc(size: usize, e: Errno) -> *mut c_void {
    match size.checked_next_multiple_of(PAGE_SIZE) {
        Some(rounded) => memalign(PAGE_SIZE, rounded.max(PAGE_SIZE), e),
        None => overflow(e),
    }
}

/// # Safety
/// `p` is null or a live allocation.
#[cfg(not(feature = "debug-heap"))]
pub unsafe fn usable_size(p: *mut c_void, call: &str) -> usize {
    // SAFETY: forwarded; misuse is reported.
    checked(unsafe { HEAP.usable_size(p.cast()) }, call, p)
}

#[cfg(not(feature = "debug-heap"))]
pub fn trim(pad: usize) -> c_int {
    HEAP.trim(pad) as c_int
}

pub fn mallinfo() -> MallInfo {
    HEAP.with(|h| h.mallinfo())
}

pub fn stats() -> Stats {
    HEAP.stats()
}

/// newlib's and glibc's parameter numbers.
const M_TRIM_THRESHOLD: c_int = -1;
const M_TOP_PAD: c_int = -2;
const M_MMAP_THRESHOLD: c_int = -3;

/// Sets what can be honoured; 1 on success, 0 otherwise (as newlib).
pub fn mallopt(param: c_int, value: c_int) -> c_int {
    if value < 0 {
        return 0;
    }
    let v = value as usize;
    HEAP.with(|h| {
        let t = h.tunables();
        let t = match param {
            M_TRIM_THRESHOLD => Tunables {
                trim_threshold: v,
                ..t
            },
            M_TOP_PAD => Tunables { top_pad: v, ..t },
            M_MMAP_THRESHOLD => Tunables {
                large_threshold: v,
                ..t
            },
            _ => return 0,
        };
        h.set_tunables(t);
        1
    })
}

pub fn set_limit(bytes: usize) {
    HEAP.with(|h| {
        let t = h.tunables();
        h.set_tunables(Tunables { limit: bytes, ..t })
    })
}

/// Walks the heap; reports the first broken invariant (printed, then the
/// error hook) and returns 1, or 0 if all hold.
#[cfg(not(feature = "debug-heap"))]
pub fn check() -> c_int {
    match HEAP.check() {
        Ok(()) => 0,
        Err(broken) => {
            crate::report::check_failed(&"vitalloc_check", &broken);
            1
        }
    }
}

/// malloc_stats: newlib's three lines, then vitalloc's own figures.
pub fn print_stats(title: Option<*const c_char>) {
    let s = stats();
    let mut line = Line::new();
    if let Some(t) = title.filter(|t| !t.is_null()) {
        // SAFETY: the caller passes a NUL-terminated string.
        let t = unsafe { core::ffi::CStr::from_ptr(t) };
        let _ = writeln!(
            line,
            "Memory allocation statistics {}",
            t.to_str().unwrap_or("?")
        );
        sys::print(line.as_cstr());
        line = Line::new();
    }
    let _ = write!(
        line,
        "max system bytes = {:10}\nsystem bytes     = {:10}\nin use bytes     = {:10}\n",
        s.reserved_peak, s.reserved, s.in_use
    );
    sys::print(line.as_cstr());
    // vitalloc's own figures, one topic per line (sceClibPrintf on the
    // Vita shows each call as a line of its own).
    let held_pct = (s.in_use as u64 * 100)
        .checked_div(s.reserved as u64)
        .unwrap_or(0);
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "vitalloc: in use {} of {} held ({held_pct} %), peak in use seen {}, held peak {}",
        s.in_use, s.reserved, s.in_use_peak, s.reserved_peak
    );
    sys::print(line.as_cstr());
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "vitalloc: {} source blocks: {} segments, {} large blocks; {} spans of {} bytes; {} bytes free in segments (largest run {})",
        s.source_blocks,
        s.segments,
        s.large_blocks,
        s.slabs,
        s.slab_bytes,
        s.free_bytes,
        s.largest_free
    );
    sys::print(line.as_cstr());
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "vitalloc: {} allocations; calls: {} malloc, {} free, {} realloc, {} failed",
        s.allocations, s.malloc_calls, s.free_calls, s.realloc_calls, s.failed_calls
    );
    sys::print(line.as_cstr());
    let mut line = Line::new();
    let _ = write!(line, "vitalloc: {} thread heaps; limit ", s.thread_heaps);
    let _ = match s.limit {
        0 => writeln!(line, "none"),
        n => writeln!(line, "{n} bytes"),
    };
    sys::print(line.as_cstr());
}

/// `vitalloc_dump` in the release build: live blocks are only recorded by
/// the debug build, so it says so in one line and lists nothing.
///
/// # Safety
/// `emit` accepts `user`.
#[cfg(not(feature = "debug-heap"))]
pub unsafe fn dump(emit: Option<Emit>, user: *mut c_void) -> usize {
    if let Some(f) = emit {
        let line =
            c"vitalloc: vitalloc_dump lists live blocks only in the debug build (vitalloc::debug)";
        // SAFETY: per the caller; the line is NUL-terminated.
        unsafe { f(line.as_ptr(), user) };
    }
    0
}

/// `vitalloc_class_stats` in the release build: no entries (the release
/// build counts nothing per class: it would cost every call).
///
/// # Safety
/// None (the signature is the debug build's).
#[cfg(not(feature = "debug-heap"))]
pub unsafe fn class_stats(_out: *mut crate::heap::ClassStats, _n: usize) -> usize {
    0
}

/// The C callback of `vitalloc_dump`.
#[cfg(not(feature = "debug-heap"))]
pub type Emit = unsafe extern "C" fn(line: *const c_char, user: *mut c_void);

// The debug build's versions of the entry points cfg'd out above.
#[cfg(feature = "debug-heap")]
pub use super::api_debug::{
    check, class_stats, dump, free, malloc, memalign, posix_memalign, realloc, trim, usable_size,
};

const _: () = assert!(MIN_ALIGN >= size_of::<*mut c_void>());
