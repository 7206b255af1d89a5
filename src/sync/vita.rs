//! The Vita lock: the kernel's lightweight mutex (LwMutex). Its work area
//! lives in the lock itself (static memory, 8-byte aligned). It is created
//! on first use, which is safe before `main` (newlib's start-up and C++
//! constructors may allocate) and when two threads race to be first: one
//! creates it, the others wait for it to be ready. `_init_vita_heap`, which
//! VitaSDK's crt0 runs before any thread exists, creates it early.

use super::RawLock;
use crate::sys::vita::*;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU8, Ordering};

const UNINIT: u8 = 0;
const CREATING: u8 = 1;
const READY: u8 = 2;

/// The kernel refused a lock operation: going on without the lock would
/// corrupt the heap silently, so the program ends with the kernel's code.
#[cold]
#[inline(never)]
fn kernel_failure(call: &str, code: i32) -> ! {
    use core::fmt::Write;
    let mut line = crate::report::Line::new();
    let _ = writeln!(
        line,
        "vitalloc: {call}() failed with {:#010x}; aborting",
        code as u32
    );
    crate::report::fatal(line.as_cstr())
}

/// A kernel LwMutex.
pub struct LwMutexLock {
    work: UnsafeCell<SceKernelLwMutexWork>,
    state: AtomicU8,
}

// SAFETY: the work area is only handed to the kernel, which synchronises it.
unsafe impl Sync for LwMutexLock {}
// SAFETY: as above; the work area holds no thread-bound state before creation.
unsafe impl Send for LwMutexLock {}

impl LwMutexLock {
    /// Creates the kernel object if nobody has.
    #[inline(always)]
    pub fn ensure_created(&self) {
        if self.state.load(Ordering::Acquire) != READY {
            self.create();
        }
    }

    #[cold]
    #[inline(never)]
    fn create(&self) {
        if self
            .state
            .compare_exchange(UNINIT, CREATING, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: the work area is static, aligned, and not yet a mutex;
            // only the thread that won the exchange creates it.
            let r = unsafe {
                sceKernelCreateLwMutex(
                    self.work.get(),
                    c"vitalloc".as_ptr(),
                    0,
                    0,
                    core::ptr::null(),
                )
            };
            if r < 0 {
                kernel_failure("sceKernelCreateLwMutex", r);
            }
            self.state.store(READY, Ordering::Release);
        } else {
            // Another thread is creating it right now (only possible when
            // two threads make the very first allocation together): it
            // takes a few hundred cycles.
            while self.state.load(Ordering::Acquire) != READY {
                core::hint::spin_loop();
            }
        }
    }
}

// SAFETY: the kernel LwMutex provides mutual exclusion and memory ordering.
unsafe impl RawLock for LwMutexLock {
    const INIT: Self = LwMutexLock {
        work: UnsafeCell::new(SceKernelLwMutexWork { data: [0; 4] }),
        state: AtomicU8::new(UNINIT),
    };

    #[inline]
    fn lock(&self) {
        self.ensure_created();
        // SAFETY: the work area holds a created LwMutex.
        let r = unsafe { sceKernelLockLwMutex(self.work.get(), 1, core::ptr::null_mut()) };
        if r < 0 {
            kernel_failure("sceKernelLockLwMutex", r);
        }
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock.
        let r = unsafe { sceKernelUnlockLwMutex(self.work.get(), 1) };
        if r < 0 {
            kernel_failure("sceKernelUnlockLwMutex", r);
        }
    }

    unsafe fn destroy(&self) {
        if self.state.swap(UNINIT, Ordering::AcqRel) == READY {
            // SAFETY: the work area holds a created LwMutex nobody uses.
            let r = unsafe { sceKernelDeleteLwMutex(self.work.get()) };
            if r < 0 {
                kernel_failure("sceKernelDeleteLwMutex", r);
            }
        }
    }
}
