//! Linux lock: a three-state futex mutex (0 free, 1 held, 2 held with
//! waiters), so the uncontended path is one compare-and-swap to lock and one
//! swap to unlock, and a waiter sleeps in the kernel instead of spinning.

use super::RawLock;
use core::sync::atomic::{AtomicU32, Ordering};

/// A futex-based mutex.
pub struct FutexLock {
    state: AtomicU32,
}

fn futex(word: &AtomicU32, op: libc::c_int, val: u32) {
    // SAFETY: FUTEX_WAIT/FUTEX_WAKE on a live, aligned 32-bit word; the
    // kernel re-checks the value for WAIT, so spurious returns are harmless.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op | libc::FUTEX_PRIVATE_FLAG,
            val,
            core::ptr::null::<u8>(),
        );
    }
}

impl FutexLock {
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        let mut spins = 0;
        loop {
            // A short spin first: the holder usually leaves within a few
            // hundred cycles, and a syscall costs more than that.
            if spins < 64 && self.state.load(Ordering::Relaxed) == 1 {
                spins += 1;
                core::hint::spin_loop();
                continue;
            }
            if self.state.swap(2, Ordering::Acquire) == 0 {
                return;
            }
            futex(&self.state, libc::FUTEX_WAIT, 2);
        }
    }
}

// SAFETY: the CAS/swap on `state` gives mutual exclusion with acquire and
// release ordering; waiters are woken on every unlock that saw state 2.
unsafe impl RawLock for FutexLock {
    const INIT: Self = FutexLock {
        state: AtomicU32::new(0),
    };

    #[inline(always)]
    fn lock(&self) {
        if self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    #[inline(always)]
    unsafe fn unlock(&self) {
        if self.state.swap(0, Ordering::Release) == 2 {
            futex(&self.state, libc::FUTEX_WAKE, 1);
        }
    }
}

impl FutexLock {
    /// Re-initialises the lock in a child after `fork`, where the thread that
    /// held it no longer exists.
    ///
    /// # Safety
    /// Only in a single-threaded child right after `fork`.
    pub unsafe fn reset_after_fork(&self) {
        self.state.store(0, Ordering::Relaxed);
    }
}
