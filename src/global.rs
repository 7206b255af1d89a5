//! [`Allocator`]: the heap behind a lock, usable as `#[global_allocator]`
//! and as the C library's heap.
//!
//! It owns the locking discipline (the heap is touched only with the lock
//! held; misuse is reported after the lock is released, so a hook that
//! allocates cannot deadlock) and nothing else: no allocation logic here.

use crate::heap::{Heap, Misuse, config::MIN_ALIGN};
use crate::source::BlockSource;
use crate::sync::{DefaultLock, RawLock};
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

/// A thread-safe heap over the source `S`, locked with `L`.
///
/// ```
/// use vitalloc::{Allocator, source::ArenaSource};
///
/// // A heap over a fixed buffer, e.g. a static array on bare metal.
/// static mut ARENA: [u8; 1 << 20] = [0; 1 << 20];
/// let heap: Allocator<ArenaSource> =
///     Allocator::new(ArenaSource::from_static(unsafe { &mut *core::ptr::addr_of_mut!(ARENA) }));
/// let p = heap.malloc(100);
/// assert!(!p.is_null());
/// unsafe { heap.free(p).unwrap() };
/// assert_eq!(heap.check(), Ok(()));
/// ```
///
/// As the global allocator of a Rust program (on Linux, memory from `mmap`):
///
/// ```
/// use vitalloc::{Allocator, source::MmapSource};
///
/// #[global_allocator]
/// static GLOBAL: Allocator<MmapSource> = Allocator::new(MmapSource::new());
///
/// fn main() {
///     let v: Vec<u32> = (0..1000).collect();
///     assert_eq!(v.iter().sum::<u32>(), 499_500);
///     assert_eq!(GLOBAL.check(), Ok(()));
/// }
/// ```
pub struct Allocator<S: BlockSource, L: RawLock = DefaultLock> {
    lock: L,
    heap: UnsafeCell<Heap<S>>,
}

// SAFETY: every access to `heap` happens with `lock` held.
unsafe impl<S: BlockSource + Send, L: RawLock + Sync> Sync for Allocator<S, L> {}
// SAFETY: the heap owns its memory; moving it moves that ownership.
unsafe impl<S: BlockSource + Send, L: RawLock + Send> Send for Allocator<S, L> {}

impl<S: BlockSource, L: RawLock> Allocator<S, L> {
    /// A heap that obtains memory from `source` when first used.
    pub const fn new(source: S) -> Self {
        Allocator {
            lock: L::INIT,
            heap: UnsafeCell::new(Heap::new(source)),
        }
    }

    /// Runs `f` on the heap with the lock held. `f` must not call back into
    /// this allocator.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(&mut Heap<S>) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock gives exclusive access to the heap.
        let r = f(unsafe { &mut *self.heap.get() });
        // SAFETY: locked above.
        unsafe { self.lock.unlock() };
        r
    }

    /// The lock itself (for fork handlers).
    pub fn raw_lock(&self) -> &L {
        &self.lock
    }

    /// See [`Heap::malloc`].
    #[inline]
    pub fn malloc(&self, size: usize) -> *mut u8 {
        self.with(|h| h.malloc(size))
    }

    /// See [`Heap::memalign`] (`align` must be a power of two).
    #[inline]
    pub fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        self.with(|h| h.memalign(align, size))
    }

    /// See [`Heap::free`].
    ///
    /// # Safety
    /// As for [`Heap::free`].
    #[inline]
    pub unsafe fn free(&self, p: *mut u8) -> Result<(), Misuse> {
        // SAFETY: forwarded.
        self.with(|h| unsafe { h.free(p) })
    }

    /// See [`Heap::realloc`].
    ///
    /// # Safety
    /// As for [`Heap::free`].
    #[inline]
    pub unsafe fn realloc(&self, p: *mut u8, size: usize) -> Result<*mut u8, Misuse> {
        // SAFETY: forwarded.
        self.with(|h| unsafe { h.realloc(p, size) })
    }

    /// See [`Heap::usable_size`].
    ///
    /// # Safety
    /// As for [`Heap::free`].
    pub unsafe fn usable_size(&self, p: *mut u8) -> Result<usize, Misuse> {
        // SAFETY: forwarded.
        self.with(|h| unsafe { h.usable_size(p) })
    }

    /// See [`Heap::check`].
    pub fn check(&self) -> Result<(), &'static str> {
        self.with(|h| h.check())
    }

    /// See [`Heap::stats`].
    pub fn stats(&self) -> crate::heap::Stats {
        self.with(|h| h.stats())
    }

    /// See [`Heap::trim`].
    pub fn trim(&self, pad: usize) -> bool {
        self.with(|h| h.trim(pad))
    }
}

// SAFETY: blocks come from the heap, aligned as the layout asks; misuse of
// `dealloc` is reported and never ignored.
unsafe impl<S: BlockSource, L: RawLock> GlobalAlloc for Allocator<S, L> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            self.malloc(layout.size())
        } else {
            self.memalign(layout.align(), layout.size())
        }
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, _layout: Layout) {
        // SAFETY: forwarded from the caller's contract.
        if let Err(m) = unsafe { self.free(p) } {
            crate::report::misuse("dealloc", p as usize, m);
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() {
            // SAFETY: `p` has `layout.size()` writable bytes.
            unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            // SAFETY: forwarded.
            return match unsafe { Allocator::realloc(self, p, new_size) } {
                Ok(q) => q,
                Err(m) => crate::report::misuse("realloc", p as usize, m),
            };
        }
        // SAFETY: the new layout is valid per GlobalAlloc's contract.
        let q = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !q.is_null() {
            // SAFETY: both blocks hold at least the smaller size.
            unsafe {
                core::ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
        }
        q
    }
}
