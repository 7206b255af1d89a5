//! The atomics and cells the lock-free protocol between thread heaps shares
//! (a span's owner word and remote-free list, a thread heap's remote-span
//! stack, the lists only an owner may touch): `core`'s in every build, and
//! the `loom` model checker's under `cfg(loom)`, so that the protocol's code
//! is written once and model-checked as it is (`make test-loom`).
//!
//! Loom can only model objects made inside a model run, but the heap keeps
//! some protocol objects in `static`s (the `NONE` span every empty slot of a
//! thread heap points at, an allocator's own heap) that are made by `const`
//! constructors. So under `cfg(loom)` each type here has two modes: made by
//! its `const fn new` it is a plain `core` object that loom does not see
//! (only the statics, which the protocol never changes); made by
//! [`AtomicUsize::fresh`] and friends, which the heap uses for every
//! descriptor and thread heap it makes at run time, it is loom's.
//!
//! [`Access`] stands for the plain fields only an owner may touch (a span's
//! `free` list and `used` count, its `remote_next` link): the code declares
//! each read and write of them, which costs nothing outside loom and lets
//! loom report two threads touching them without ordering between them (a
//! data race) even when the interleaving happens not to corrupt them.
//!
//! This module never decides anything; it only chooses the implementation.

#[cfg(not(loom))]
pub use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};

#[cfg(not(loom))]
mod plain {
    use core::sync::atomic::{AtomicPtr, AtomicUsize};

    /// Run-time constructors (the same as `new` outside loom).
    pub trait Fresh<T> {
        /// A new atomic holding `v`, modelled under loom.
        fn fresh(v: T) -> Self;
    }
    impl Fresh<usize> for AtomicUsize {
        #[inline(always)]
        fn fresh(v: usize) -> Self {
            AtomicUsize::new(v)
        }
    }
    impl<T> Fresh<*mut T> for AtomicPtr<T> {
        #[inline(always)]
        fn fresh(v: *mut T) -> Self {
            AtomicPtr::new(v)
        }
    }

    /// Declared accesses to owner-only fields: nothing outside loom.
    #[derive(Debug, Default)]
    pub struct Access;

    impl Access {
        /// An access nobody models (statics, and every access outside loom).
        pub const fn new() -> Self {
            Access
        }
        /// One that loom models.
        #[inline(always)]
        pub fn fresh() -> Self {
            Access
        }
        /// The fields are read.
        #[inline(always)]
        pub fn read(&self) {}
        /// The fields are written.
        #[inline(always)]
        pub fn write(&self) {}
    }
}

#[cfg(not(loom))]
pub use plain::{Access, Fresh};

#[cfg(loom)]
pub use core::sync::atomic::Ordering;
#[cfg(loom)]
pub use loom::sync::atomic::fence;

#[cfg(loom)]
mod modelled {
    use core::sync::atomic::Ordering;

    /// Run-time constructors: objects loom models.
    pub trait Fresh<T> {
        /// A new atomic holding `v`, modelled by loom.
        fn fresh(v: T) -> Self;
    }

    macro_rules! atomic {
        ($name:ident, $core:ty, $loom:ty, $t:ty $(, $g:ident)?) => {
            /// A `core` atomic (made by `new`) or a loom one (made by `fresh`).
            #[derive(Debug)]
            pub struct $name$(<$g>)? {
                model: Option<$loom>,
                plain: $core,
            }

            // SAFETY: both representations are atomics.
            unsafe impl$(<$g>)? Sync for $name$(<$g>)? {}

            impl$(<$g>)? Fresh<$t> for $name$(<$g>)? {
                fn fresh(v: $t) -> Self {
                    $name { model: Some(<$loom>::new(v)), plain: <$core>::new(v) }
                }
            }

            impl$(<$g>)? $name$(<$g>)? {
                /// A plain atomic loom does not see (statics).
                pub const fn new(v: $t) -> Self {
                    $name { model: None, plain: <$core>::new(v) }
                }
                /// See `core`'s.
                pub fn load(&self, o: Ordering) -> $t {
                    match &self.model {
                        Some(m) => m.load(o),
                        None => self.plain.load(o),
                    }
                }
                /// See `core`'s.
                pub fn store(&self, v: $t, o: Ordering) {
                    match &self.model {
                        Some(m) => m.store(v, o),
                        None => self.plain.store(v, o),
                    }
                }
                /// See `core`'s.
                pub fn swap(&self, v: $t, o: Ordering) -> $t {
                    match &self.model {
                        Some(m) => m.swap(v, o),
                        None => self.plain.swap(v, o),
                    }
                }
                /// See `core`'s.
                pub fn compare_exchange(
                    &self,
                    a: $t,
                    b: $t,
                    s: Ordering,
                    f: Ordering,
                ) -> Result<$t, $t> {
                    match &self.model {
                        Some(m) => m.compare_exchange(a, b, s, f),
                        None => self.plain.compare_exchange(a, b, s, f),
                    }
                }
                /// See `core`'s.
                pub fn compare_exchange_weak(
                    &self,
                    a: $t,
                    b: $t,
                    s: Ordering,
                    f: Ordering,
                ) -> Result<$t, $t> {
                    match &self.model {
                        Some(m) => m.compare_exchange_weak(a, b, s, f),
                        None => self.plain.compare_exchange_weak(a, b, s, f),
                    }
                }
                /// See `core`'s.
                pub fn fetch_update(
                    &self,
                    s: Ordering,
                    f: Ordering,
                    u: impl FnMut($t) -> Option<$t>,
                ) -> Result<$t, $t> {
                    match &self.model {
                        Some(m) => m.fetch_update(s, f, u),
                        None => self.plain.fetch_update(s, f, u),
                    }
                }
            }
        };
    }

    atomic!(
        AtomicUsize,
        core::sync::atomic::AtomicUsize,
        loom::sync::atomic::AtomicUsize,
        usize
    );
    atomic!(
        AtomicPtr,
        core::sync::atomic::AtomicPtr<T>,
        loom::sync::atomic::AtomicPtr<T>,
        *mut T,
        T
    );

    impl AtomicUsize {
        /// See `core`'s.
        pub fn fetch_or(&self, v: usize, o: Ordering) -> usize {
            match &self.model {
                Some(m) => m.fetch_or(v, o),
                None => self.plain.fetch_or(v, o),
            }
        }
        /// See `core`'s.
        pub fn fetch_and(&self, v: usize, o: Ordering) -> usize {
            match &self.model {
                Some(m) => m.fetch_and(v, o),
                None => self.plain.fetch_and(v, o),
            }
        }
    }

    /// Declared accesses to owner-only fields, checked by loom for
    /// unordered concurrent use (made by `fresh`; `new` is not checked).
    #[derive(Debug, Default)]
    pub struct Access(Option<loom::cell::UnsafeCell<()>>);

    // SAFETY: the cell holds nothing; loom checks the accesses.
    unsafe impl Sync for Access {}

    impl Access {
        /// An access loom does not see (statics).
        pub const fn new() -> Self {
            Access(None)
        }
        /// One that loom checks.
        pub fn fresh() -> Self {
            Access(Some(loom::cell::UnsafeCell::new(())))
        }
        /// The fields are read.
        pub fn read(&self) {
            if let Some(c) = &self.0 {
                c.with(|_| ());
            }
        }
        /// The fields are written.
        pub fn write(&self) {
            if let Some(c) = &self.0 {
                c.with_mut(|_| ());
            }
        }
    }
}

#[cfg(loom)]
pub use modelled::{Access, AtomicPtr, AtomicUsize, Fresh};

/// A lock loom models (a spin on a modelled flag that yields to loom's
/// scheduler), for model-checking the code that runs under the heap lock.
#[cfg(loom)]
#[derive(Default)]
pub struct ModelLock(loom::sync::atomic::AtomicBool);

#[cfg(loom)]
impl ModelLock {
    /// Unlocked; made inside a model run.
    pub fn new() -> Self {
        ModelLock(loom::sync::atomic::AtomicBool::new(false))
    }
    /// Blocks (yielding) until held.
    pub fn lock(&self) {
        while self
            .0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            loom::thread::yield_now();
        }
    }
    /// Releases it.
    pub fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}
