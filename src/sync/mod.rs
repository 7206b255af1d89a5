//! Locks: the [`RawLock`] trait and the lock each platform uses.
//!
//! A lock here must never allocate, never call anything that may allocate,
//! and be usable from a `static` before `main` (its `INIT` is a constant).
//! Which lock a platform gets is decided here and nowhere else:
//! the kernel's LwMutex on the Vita, a futex on Linux, `spin` where there is
//! no OS (a spinlock can live-lock under a priority scheduler: DESIGN.md §2).

#[cfg(target_os = "linux")]
mod futex;
pub mod model;
mod spin;
#[cfg(target_os = "vita")]
mod vita;

#[cfg(target_os = "linux")]
pub use futex::FutexLock;
pub use spin::SpinLock;
#[cfg(target_os = "vita")]
pub use vita::LwMutexLock;

/// A mutual-exclusion lock with no data of its own.
///
/// # Safety
/// `lock` must not return while another thread holds the lock, and `unlock`
/// releases it; together they order memory (acquire / release).
pub unsafe trait RawLock {
    /// The unlocked state, usable in a `static` initialiser.
    const INIT: Self;
    /// Blocks until the lock is held by the caller.
    fn lock(&self);
    /// Releases the lock.
    ///
    /// # Safety
    /// The caller holds the lock.
    unsafe fn unlock(&self);

    /// Gives back what the lock holds from the system (the Vita's LwMutex
    /// is a kernel object); a lock of a heap object being destroyed.
    ///
    /// # Safety
    /// Nobody holds or will use the lock again.
    unsafe fn destroy(&self) {}
}

/// The lock [`crate::Allocator`] uses on this platform by default.
#[cfg(target_os = "linux")]
pub type DefaultLock = FutexLock;
/// The lock [`crate::Allocator`] uses on this platform by default.
#[cfg(target_os = "vita")]
pub type DefaultLock = LwMutexLock;
/// The lock [`crate::Allocator`] uses on this platform by default.
#[cfg(not(any(target_os = "linux", target_os = "vita")))]
pub type DefaultLock = SpinLock;
