//! The few C-library services vitalloc needs besides memory: writing a line
//! to stderr, ending the program, and `errno`. Each platform's version lives
//! here and nowhere else. Nothing here may allocate.
// errno is only set by the C API (feature `c-api`).
#![cfg_attr(not(feature = "c-api"), allow(dead_code))]

pub mod thread;
#[cfg(target_os = "vita")]
pub mod vita;

#[cfg(all(unix, not(target_os = "vita")))]
mod imp {
    pub fn write_stderr(msg: &[u8]) {
        // SAFETY: writes a valid buffer to fd 2; errors are ignored (there is
        // nowhere left to report them).
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
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
    mod newlib {
        unsafe extern "C" {
            pub fn write(fd: i32, buf: *const u8, n: usize) -> isize;
            pub fn abort() -> !;
            pub fn __errno() -> *mut i32;
        }
    }
    pub fn write_stderr(msg: &[u8]) {
        // SAFETY: newlib's write with a valid buffer.
        unsafe { newlib::write(2, msg.as_ptr(), msg.len()) };
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
    pub fn write_stderr(_msg: &[u8]) {}
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
