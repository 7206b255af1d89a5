//! The lock for targets without an OS: the `spin` crate's mutex. Never use
//! it where threads have priorities and can be preempted (the Vita): a
//! high-priority thread spinning on a core can starve the holder.

use super::RawLock;

/// A spinning mutex.
pub struct SpinLock {
    inner: spin::mutex::SpinMutex<()>,
}

// SAFETY: `SpinMutex` provides mutual exclusion with acquire/release
// ordering; the guard is forgotten and the lock released by `force_unlock`.
unsafe impl RawLock for SpinLock {
    const INIT: Self = SpinLock {
        inner: spin::mutex::SpinMutex::new(()),
    };

    fn lock(&self) {
        core::mem::forget(self.inner.lock());
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (its guard was forgotten).
        unsafe { self.inner.force_unlock() }
    }
}
