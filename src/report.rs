//! Reporting: misuse ends the program with one line naming the call and
//! the address; `vitalloc_check` reports the first broken invariant and
//! returns. Every line is printed (`sys::print`: stderr on hosts,
//! `sceClibPrintf` on the Vita), then handed to the error hook. Formatting
//! uses a stack buffer (the heap may be the thing that is broken); nothing
//! here allocates or takes the heap's lock.

use crate::heap::Misuse;
use core::fmt::Write;
use core::sync::atomic::{AtomicPtr, Ordering};

/// A function called with each message vitalloc reports (NUL-terminated,
/// after it was printed): misuse, just before the program ends, and a
/// broken invariant found by `vitalloc_check`, which then returns. Set from
/// C with `vitalloc_set_error_hook` (NULL: none).
pub type ErrorHook = Option<unsafe extern "C" fn(message: *const core::ffi::c_char)>;

static HOOK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Installs (or, with `None`, removes) the error hook.
pub fn set_hook(hook: ErrorHook) {
    HOOK.store(
        hook.map_or(core::ptr::null_mut(), |f| f as *mut ()),
        Ordering::Release,
    );
}

/// A fixed buffer that truncates instead of failing.
pub struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }
    /// The text so far, NUL-terminated (for C).
    pub fn as_cstr(&mut self) -> &core::ffi::CStr {
        self.buf[self.len] = 0;
        // Text written through `Write` holds no NUL: `str`s can, but
        // vitalloc never formats one that does; stop at the first anyway.
        core::ffi::CStr::from_bytes_until_nul(&self.buf[..=self.len]).unwrap_or(c"")
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Reports `what` found in `call(addr)` and ends the program.
#[cold]
#[inline(never)]
pub fn misuse(call: &str, addr: usize, what: Misuse) -> ! {
    misuse_at(format_args!("{call}({addr:#x})"), what)
}

/// Reports `what` found in `call(heap, addr)` on a heap object and ends
/// the program.
#[cold]
#[inline(never)]
pub fn heap_misuse(call: &str, heap: usize, addr: usize, what: Misuse) -> ! {
    misuse_at(format_args!("{call}({heap:#x}, {addr:#x})"), what)
}

/// "vitalloc: <site>: <what>; aborting", then the end.
fn misuse_at(site: core::fmt::Arguments<'_>, what: Misuse) -> ! {
    let mut line = Line::new();
    let _ = writeln!(line, "vitalloc: {site}: {}; aborting", what.describe());
    fatal(line.as_cstr())
}

/// Reports a broken invariant `call` (`vitalloc_check`, or
/// `vitalloc_heap_check(0x...)`) found; the program goes on.
#[cold]
#[inline(never)]
pub fn check_failed(call: &dyn core::fmt::Display, what: &dyn core::fmt::Display) {
    let mut line = Line::new();
    let _ = writeln!(line, "vitalloc: {call}: {what}");
    report(line.as_cstr());
}

/// Prints `msg`, hands it to the hook and ends the program.
pub fn fatal(msg: &core::ffi::CStr) -> ! {
    report(msg);
    crate::sys::abort(msg.to_bytes())
}

/// Prints `msg` and hands it to the hook (if one is set); returns.
pub fn report(msg: &core::ffi::CStr) {
    crate::sys::print(msg);
    let hook = HOOK.load(Ordering::Acquire);
    if !hook.is_null() {
        // SAFETY: only `set_hook` stores here, always an `ErrorHook`.
        unsafe {
            let f = core::mem::transmute::<*mut (), unsafe extern "C" fn(*const core::ffi::c_char)>(
                hook,
            );
            f(msg.as_ptr());
        }
    }
}
