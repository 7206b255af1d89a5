//! The few C-library services vitalloc needs besides memory: printing a
//! line where the developer sees it, ending the program, and `errno`. Each
//! platform's version lives here and nowhere else. Nothing here may
//! allocate or take the heap's lock.
// errno is only set by the C API (feature `c-api`).
#![cfg_attr(not(feature = "c-api"), allow(dead_code))]

pub mod thread;
#[cfg(target_os = "vita")]
pub mod vita;

#[cfg(all(unix, not(target_os = "vita")))]
mod imp {
    use core::ffi::CStr;
    /// Host: stderr.
    pub fn print(msg: &CStr) {
        let b = msg.to_bytes();
        // SAFETY: writes a valid buffer to fd 2; errors are ignored (there is
        // nowhere left to report them).
        unsafe { libc::write(2, b.as_ptr().cast(), b.len()) };
    }
    pub fn abort(_msg: &[u8]) -> ! {
        // SAFETY: abort has no preconditions.
        unsafe { libc::abort() }
    }
    pub fn set_errno(e: i32) {
        // SAFETY: __errno_location returns the calling thread's errno.
        unsafe { *libc::__errno_location() = e };
    }
    pub const ENOMEM: i32 = libc::ENOMEM;
    pub const EINVAL: i32 = libc::EINVAL;
}

#[cfg(target_os = "vita")]
mod imp {
    use core::ffi::CStr;
    mod newlib {
        unsafe extern "C" {
            pub fn abort() -> !;
            pub fn __errno() -> *mut i32;
        }
    }
    /// Vita: `sceClibPrintf`, the kernel's debug output, which a developer
    /// sees with catlog, PrincessLog or psp2shell on a retail unit; newlib's
    /// stderr goes to `tty0:`, which nobody sees there, and its stdio may
    /// allocate or lock (DESIGN.md §2).
    pub fn print(msg: &CStr) {
        // SAFETY: a constant format taking one NUL-terminated string.
        unsafe { super::vita::sceClibPrintf(c"%s".as_ptr(), msg.as_ptr()) };
    }
    pub fn abort(_msg: &[u8]) -> ! {
        // SAFETY: newlib's abort has no preconditions.
        unsafe { newlib::abort() }
    }
    pub fn set_errno(e: i32) {
        // SAFETY: newlib's __errno returns the current reent's errno.
        unsafe { *newlib::__errno() = e };
    }
    pub const ENOMEM: i32 = 12;
    pub const EINVAL: i32 = 22;
}

#[cfg(not(any(unix, target_os = "vita")))]
mod imp {
    pub fn print(_msg: &core::ffi::CStr) {}
    pub fn abort(msg: &[u8]) -> ! {
        panic!(
            "{}",
            core::str::from_utf8(msg).unwrap_or("vitalloc: fatal error")
        )
    }
    pub fn set_errno(_e: i32) {}
    pub const ENOMEM: i32 = 12;
    pub const EINVAL: i32 = 22;
}

pub use imp::*;
