//! Reporting misuse: one line naming the call and the address, then the
//! program ends. Formatting uses a stack buffer (the heap may be the thing
//! that is broken); printing and aborting are the platform's (`sys`).

use crate::heap::Misuse;
use core::fmt::Write;
use core::sync::atomic::{AtomicPtr, Ordering};

/// A function called with the message (NUL-terminated) before the program
/// ends; set from C with `vitalloc_set_error_hook` (NULL: none).
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
    /// The text so far; the byte after it is a NUL (for C).
    pub fn as_bytes(&mut self) -> &[u8] {
        self.buf[self.len] = 0;
        &self.buf[..self.len]
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
    let mut line = Line::new();
    let _ = writeln!(
        line,
        "vitalloc: {call}({addr:#x}): {}; aborting",
        what.describe()
    );
    fatal(line.as_bytes())
}

/// Hands `msg` to the hook, prints it on stderr and ends the program.
pub fn fatal(msg: &[u8]) -> ! {
    let hook = HOOK.load(Ordering::Acquire);
    if !hook.is_null() {
        // SAFETY: only `set_hook` stores here, always an `ErrorHook`; `msg`
        // is NUL-terminated by `Line::as_bytes`.
        unsafe {
            let f = core::mem::transmute::<*mut (), unsafe extern "C" fn(*const core::ffi::c_char)>(
                hook,
            );
            f(msg.as_ptr().cast());
        }
    }
    crate::sys::write_stderr(msg);
    crate::sys::abort(msg)
}
