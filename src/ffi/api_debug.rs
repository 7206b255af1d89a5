//! The debug build's versions of the entry points of [`super::api`] that
//! allocate, free or look at a block (feature `debug-heap`): the same
//! signatures, through [`crate::debug`] in front of [`HEAP`], with the
//! caller recorded and faults reported like misuse (one line naming the
//! call and the address, then the program ends).
//!
//! The caller: `core::arch::return_address!()` expanded in a function that
//! is `#[inline(always)]` all the way up to the exported `extern "C"`
//! function (so, after inlining, in that function's body) is the return
//! address into the C code that called `malloc` & co. LLVM reads it from
//! the link register (ARM) or the return slot (x86-64) wherever the
//! function's prologue put it, which no hand-written read of `lr` could
//! promise. This module owns nothing else and must never be compiled into
//! the release build (`api.rs` keeps the release versions, untouched).

use super::api::{Errno, or_enomem};
use super::{DEBUG, HEAP};
use crate::debug::block::Fault;
use crate::heap::ClassStats;
use crate::report::{self, Line};
use crate::sys;
use core::ffi::{c_char, c_int, c_void};
use core::fmt::Write;

/// The return address of the exported function this ends up inlined in.
macro_rules! caller {
    () => {
        core::arch::return_address!().addr()
    };
}

/// Reports `f`, found in `call(p)`, and ends the program.
#[cold]
#[inline(never)]
fn fault(call: &str, p: usize, f: Fault) -> ! {
    let mut line = Line::new();
    let _ = writeln!(line, "vitalloc: {call}({p:#x}): {f}; aborting");
    report::fatal(line.as_cstr())
}

#[inline(always)]
pub fn malloc(size: usize, e: Errno) -> *mut c_void {
    or_enomem(DEBUG.malloc(&HEAP, size, caller!()), e)
}

/// # Safety
/// C's `free` contract (anything else is reported).
#[inline(always)]
pub unsafe fn free(p: *mut c_void, call: &str) {
    if !p.is_null() {
        // SAFETY: forwarded.
        unsafe { free_from(p, call, caller!()) }
    }
}

/// The out-of-line half of `free`, with the caller already read.
///
/// # Safety
/// As for `free` (`p` not null).
#[inline(never)]
unsafe fn free_from(p: *mut c_void, call: &str, caller: usize) {
    // SAFETY: the debug layer validates `p` before acting on it.
    if let Err(f) = unsafe { DEBUG.free(&HEAP, p.cast(), caller) } {
        fault(call, p.addr(), f)
    }
}

/// # Safety
/// C's `realloc` contract (anything else is reported).
#[inline(always)]
pub unsafe fn realloc(p: *mut c_void, size: usize, e: Errno, call: &str) -> *mut c_void {
    // SAFETY: the debug layer validates `p` before acting on it.
    match unsafe { DEBUG.realloc(&HEAP, p.cast(), size, caller!()) } {
        Ok(q) => or_enomem(q, e),
        Err(f) => fault(call, p.addr(), f),
    }
}

/// memalign / aligned_alloc: EINVAL unless `align` is a power of two.
#[inline(always)]
pub fn memalign(align: usize, size: usize, e: Errno) -> *mut c_void {
    if !align.is_power_of_two() {
        e.set(sys::EINVAL);
        return core::ptr::null_mut();
    }
    or_enomem(DEBUG.memalign(&HEAP, align, size, caller!()), e)
}

/// # Safety
/// `out` is writable when the call succeeds.
#[inline(always)]
pub unsafe fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align % size_of::<*mut c_void>() != 0 {
        return sys::EINVAL;
    }
    let p = DEBUG.memalign(&HEAP, align, size, caller!());
    if p.is_null() {
        return sys::ENOMEM;
    }
    // SAFETY: the caller provides a writable `out`.
    unsafe { *out = p.cast() };
    0
}

/// The size the program asked for: the canary after it is not the
/// program's to write.
///
/// # Safety
/// `p` is null or a live allocation (anything else is reported).
pub unsafe fn usable_size(p: *mut c_void, call: &str) -> usize {
    // SAFETY: the debug layer validates `p`.
    match unsafe { DEBUG.usable_size(&HEAP, p.cast()) } {
        Ok(n) => n,
        Err(f) => fault(call, p.addr(), f),
    }
}

/// The quarantine goes back first (checked), then the heap trims.
pub fn trim(pad: usize) -> c_int {
    if let Err(f) = DEBUG.flush(&HEAP) {
        fault("malloc_trim", pad, f)
    }
    HEAP.trim(pad) as c_int
}

/// Every block (canaries, tags, the quarantine's poison), then the heap;
/// reports the first fault as the release build does.
pub fn check() -> c_int {
    match DEBUG.check(&HEAP) {
        Err(f) => crate::report::check_failed(&"vitalloc_check", &f),
        Ok(()) => match HEAP.check() {
            Ok(()) => return 0,
            Err(broken) => crate::report::check_failed(&"vitalloc_check", &broken),
        },
    }
    1
}

/// The C callback of `vitalloc_dump`.
pub type Emit = unsafe extern "C" fn(line: *const c_char, user: *mut c_void);

/// `vitalloc_dump`: a summary, the live blocks, the class table. Each line
/// is formatted in a stack buffer; the callback runs with no lock held.
///
/// # Safety
/// `emit` accepts `user`.
pub unsafe fn dump(emit: Option<Emit>, user: *mut c_void) -> usize {
    let send = |line: &mut Line| {
        if let Some(f) = emit {
            // SAFETY: per the caller; the line is NUL-terminated.
            unsafe { f(line.as_cstr().as_ptr(), user) };
        }
    };
    let (live, bytes, qblocks, qbytes) = DEBUG.totals();
    let mut line = Line::new();
    let _ = write!(
        line,
        "vitalloc: {live} live blocks, {bytes} bytes; quarantine {qblocks} blocks, {qbytes} bytes"
    );
    send(&mut line);
    let listed = DEBUG.for_each_live(|block, size, caller, serial| {
        let mut line = Line::new();
        let _ = write!(
            line,
            "vitalloc: block {block:#x} of {size} bytes, allocated by {caller:#x} (allocation {serial})"
        );
        send(&mut line);
    });
    let mut classes = [ClassStats::default(); crate::debug::BUCKETS];
    DEBUG.class_stats(&mut classes);
    let last = classes.len() - 1;
    for (i, c) in classes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.allocations != 0)
    {
        let mut line = Line::new();
        let _ = match i {
            _ if i == last => write!(line, "vitalloc: class large:"),
            _ if i == last - 1 => write!(line, "vitalloc: class medium (up to {}):", c.size),
            _ => write!(line, "vitalloc: class {}:", c.size),
        };
        let _ = write!(
            line,
            " {} allocations, {} frees, {} live ({} bytes), peak {} live",
            c.allocations, c.frees, c.live, c.live_bytes, c.peak_live
        );
        send(&mut line);
    }
    listed
}

/// `vitalloc_class_stats`: up to `n` entries into `out`; the number of
/// entries there are.
///
/// # Safety
/// `out` has room for `n` entries (or `n` is 0).
pub unsafe fn class_stats(out: *mut ClassStats, n: usize) -> usize {
    if out.is_null() || n == 0 {
        return crate::debug::BUCKETS;
    }
    // SAFETY: per the caller.
    let out = unsafe { core::slice::from_raw_parts_mut(out, n) };
    DEBUG.class_stats(out)
}
