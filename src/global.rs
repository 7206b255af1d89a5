//! [`Allocator`]: a heap usable as `#[global_allocator]` and as the C
//! library's heap: thread heaps in front, the shared heap behind a lock.
//!
//! It owns the locking discipline (the shared heap is touched only with the
//! lock held; misuse is reported after the lock is released, so a hook that
//! allocates cannot deadlock) and which thread heap a call uses, and nothing
//! else: no allocation logic here.

use crate::front::local::LocalHeap;
use crate::front::{self, Locked, Shared};
use crate::heap::config::{DIRECT_MAX, MIN_ALIGN};
use crate::heap::pagemap::PageMap;
use crate::heap::{Heap, Misuse, Stats};
use crate::source::BlockSource;
use crate::sync::{DefaultLock, RawLock};
use crate::sys::thread;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The allocator that owns the process's thread slots (one per process).
static SLOT_OWNER: AtomicUsize = AtomicUsize::new(0);

/// A thread-safe heap over the source `S`, locked with `L`. With
/// `PER_THREAD`, each thread allocates small objects from a heap of its
/// own without locking (on platforms with a thread slot: the Vita and
/// x86-64 Linux; elsewhere, and for every allocator but the first one in a
/// process to use it, the lock serialises calls as without it). Only a
/// `'static` allocator may be `PER_THREAD`.
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
/// As the global allocator of a Rust program (on Linux, memory from `mmap`),
/// with a heap per thread:
///
/// ```
/// use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};
///
/// #[global_allocator]
/// static GLOBAL: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());
///
/// fn main() {
///     let v: Vec<u32> = (0..1000).collect();
///     assert_eq!(v.iter().sum::<u32>(), 499_500);
///     assert_eq!(GLOBAL.check(), Ok(()));
/// }
/// ```
// The heap first, and its page map first in it: the fast path of `free`
// then finds the map's root at the allocator's own address.
#[repr(C)]
pub struct Allocator<S: BlockSource, L: RawLock = DefaultLock, const PER_THREAD: bool = false> {
    heap: UnsafeCell<Heap<S>>,
    lock: L,
    /// The heap of calls that have no thread heap (used under the lock).
    home: UnsafeCell<LocalHeap>,
}

// SAFETY: the shared heap and `home` are only touched with `lock` held;
// thread heaps only by their threads (and under the lock once dead).
unsafe impl<S: BlockSource + Send, L: RawLock + Sync, const P: bool> Sync for Allocator<S, L, P> {}
// SAFETY: the heap owns its memory; moving it moves that ownership.
unsafe impl<S: BlockSource + Send, L: RawLock + Send, const P: bool> Send for Allocator<S, L, P> {}

impl<S: BlockSource, L: RawLock, const PER_THREAD: bool> Shared<S> for Allocator<S, L, PER_THREAD> {
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Heap<S>) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock gives exclusive access to the shared heap.
        let h = unsafe { &mut *self.heap.get() };
        if PER_THREAD {
            h.maybe_scan(|lh| thread::is_alive(lh.tid, lh.slot, LocalHeap::id(lh)));
        }
        let r = f(h);
        // SAFETY: locked above.
        unsafe { self.lock.unlock() };
        r
    }
    #[inline(always)]
    fn map(&self) -> &PageMap {
        // SAFETY: the page map is only read here, through atomics (see
        // `pagemap.rs` on reading it without the lock).
        unsafe { &*core::ptr::addr_of!((*self.heap.get()).map) }
    }
}

impl<S: BlockSource, L: RawLock, const PER_THREAD: bool> Allocator<S, L, PER_THREAD> {
    /// A heap that obtains memory from `source` when first used.
    pub const fn new(source: S) -> Self {
        Allocator {
            heap: UnsafeCell::new(Heap::new(source)),
            lock: L::INIT,
            home: UnsafeCell::new(LocalHeap::new()),
        }
    }

    /// Runs `f` on the shared heap with the lock held. `f` must not call
    /// back into this allocator.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut Heap<S>) -> R) -> R {
        Shared::with(self, f)
    }

    /// The lock itself (for fork handlers).
    pub fn raw_lock(&self) -> &L {
        &self.lock
    }

    /// The calling thread's heap, if it has one with this allocator.
    #[inline(always)]
    fn local(&self) -> *mut LocalHeap {
        if PER_THREAD && thread::HAS_SLOT {
            thread::get() as *mut LocalHeap
        } else {
            core::ptr::null_mut()
        }
    }

    /// The calling thread's heap found the slow way, for when [`local`]
    /// gives null: on the Vita under a TLS layout the fast path cannot use
    /// (see `sys::thread`), it is there all the same. Null if the thread
    /// has none or the slots belong to another allocator.
    ///
    /// [`local`]: Self::local
    #[cold]
    #[inline(never)]
    fn local_checked(&self) -> *mut LocalHeap {
        if PER_THREAD
            && thread::HAS_SLOT
            && SLOT_OWNER.load(Ordering::Acquire) == self as *const Self as usize
        {
            thread::get_checked() as *mut LocalHeap
        } else {
            core::ptr::null_mut()
        }
    }

    /// Runs `f` with the allocator's own heap, under the lock.
    #[inline(never)]
    fn with_home<R>(&self, f: impl FnOnce(*mut LocalHeap, &Locked<S>) -> R) -> R {
        self.lock.lock();
        let sh = Locked(self.heap.get());
        let home = self.home.get();
        // SAFETY: the lock gives exclusive access to the heap and to `home`,
        // which lives as long as the allocator.
        let r = unsafe {
            (*sh.0).register_home(home);
            f(home, &sh)
        };
        // SAFETY: locked above.
        unsafe { self.lock.unlock() };
        r
    }

    /// The calling thread's heap, made on its first call; null when the
    /// thread must use the allocator's own heap (no slot on this platform,
    /// another allocator owns the slots, or no memory for one).
    #[cold]
    #[inline(never)]
    fn make_local(&self) -> *mut LocalHeap {
        if !PER_THREAD || !thread::HAS_SLOT || thread::exited() {
            return core::ptr::null_mut();
        }
        let me = self as *const Self as usize;
        if SLOT_OWNER.load(Ordering::Acquire) != me
            && SLOT_OWNER
                .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return core::ptr::null_mut();
        }
        // The thread's heap, if the fast path cannot see it.
        let lh = self.local_checked();
        if !lh.is_null() {
            return lh;
        }
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        thread::on_exit(exit_thunk::<S, L, PER_THREAD>);
        let tid = thread::register_thread();
        let slot = thread::slot_address();
        // The slot is set under the lock (see `Heap::register_local`).
        let lh = self.with(|h| h.register_local(tid, slot, |lh| thread::set(lh as usize)));
        if !lh.is_null() {
            // After the slot is set: this may allocate (through this heap).
            thread::arm_exit();
        }
        lh
    }

    /// Gives the calling thread's heap back (its thread is exiting).
    pub fn thread_exit(&self, lh: usize) {
        thread::set(0);
        thread::set_exited();
        if lh != 0 {
            // SAFETY: the heap belongs to the exiting thread, which no
            // longer uses it.
            self.with(|h| unsafe { h.reclaim_local(lh as *mut LocalHeap) });
        }
    }

    /// The fast path alone: an object of a request up to `DIRECT_MAX` bytes
    /// from the calling thread's current span, or null (then call
    /// [`malloc`](Self::malloc)). No lock, no atomic, no call.
    #[inline(always)]
    pub fn malloc_fast(&self, size: usize) -> *mut u8 {
        let lh = self.local();
        if lh.is_null() || size > DIRECT_MAX {
            return core::ptr::null_mut();
        }
        // SAFETY: `lh` is the calling thread's heap.
        unsafe { LocalHeap::alloc(lh, size) }
    }

    /// The fast path of `free` alone: true if `p` was an object of one of
    /// the calling thread's spans and is now free; false for anything else
    /// (null included: then call [`free`](Self::free)). No lock, no atomic
    /// read-modify-write, no call.
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    #[inline(always)]
    pub unsafe fn free_fast(&self, p: *mut u8) -> bool {
        // A thread without a heap (0) owns no span: the owner test fails.
        let lh = if PER_THREAD && thread::HAS_SLOT {
            thread::get() as *mut LocalHeap
        } else {
            return false;
        };
        let span = self.map().get(p as usize);
        // SAFETY: `span` is what the page map says of `p`; only a span whose
        // owner is `lh` (never true for a null `lh`) is written.
        unsafe {
            match LocalHeap::free(lh, span, p) {
                front::local::Freed::Done => true,
                front::local::Freed::Emptied => {
                    self.emptied_cold(lh, span);
                    true
                }
                _ => false,
            }
        }
    }

    /// `free_fast` freed the last object of a span.
    #[cold]
    #[inline(never)]
    unsafe fn emptied_cold(&self, lh: *mut LocalHeap, span: *mut crate::heap::span::Span) {
        // SAFETY: `span` is an empty span of the calling thread's heap.
        unsafe { front::emptied(lh, self, span) }
    }

    /// See [`front::malloc`]: `size` bytes aligned to [`MIN_ALIGN`]; null
    /// when out of memory. `malloc(0)` returns a unique pointer.
    #[inline]
    pub fn malloc(&self, size: usize) -> *mut u8 {
        let lh = self.local();
        if !lh.is_null() {
            // SAFETY: `lh` is the calling thread's heap.
            return unsafe { front::malloc(lh, self, size) };
        }
        self.malloc_cold(size)
    }

    #[cold]
    #[inline(never)]
    fn malloc_cold(&self, size: usize) -> *mut u8 {
        let lh = self.make_local();
        if !lh.is_null() {
            // SAFETY: as above.
            return unsafe { front::malloc(lh, self, size) };
        }
        // SAFETY: under the lock.
        self.with_home(|home, sh| unsafe { front::malloc(home, sh, size) })
    }

    /// `size` bytes aligned to `align` (a power of two); null when out of
    /// memory.
    pub fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        let mut lh = self.local();
        if lh.is_null() {
            lh = self.make_local();
        }
        if !lh.is_null() {
            // SAFETY: as in `malloc`.
            return unsafe { front::memalign(lh, self, align, size) };
        }
        // SAFETY: under the lock.
        self.with_home(|home, sh| unsafe { front::memalign(home, sh, align, size) })
    }

    /// Frees `p` (null is ignored).
    ///
    /// # Safety
    /// `p` is null or a pointer this allocator returned and that was not
    /// freed since — or any other value, which is reported as [`Misuse`]
    /// whenever the heap can tell.
    #[inline]
    pub unsafe fn free(&self, p: *mut u8) -> Result<(), Misuse> {
        let lh = self.local();
        if !lh.is_null() {
            if p.is_null() {
                return Ok(());
            }
            // SAFETY: as in `malloc`; forwarded.
            return unsafe { front::free(lh, self, p) };
        }
        // SAFETY: forwarded.
        unsafe { self.free_cold(p) }
    }

    #[cold]
    #[inline(never)]
    unsafe fn free_cold(&self, p: *mut u8) -> Result<(), Misuse> {
        if p.is_null() {
            return Ok(());
        }
        let lh = self.make_local();
        if !lh.is_null() {
            // SAFETY: forwarded.
            return unsafe { front::free(lh, self, p) };
        }
        // SAFETY: under the lock; forwarded.
        self.with_home(|home, sh| unsafe { front::free(home, sh, p) })
    }

    /// Resizes the allocation at `p` (see [`front::realloc`]).
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    pub unsafe fn realloc(&self, p: *mut u8, size: usize) -> Result<*mut u8, Misuse> {
        let mut lh = self.local();
        if lh.is_null() {
            lh = self.make_local();
        }
        if !lh.is_null() {
            // SAFETY: forwarded.
            return unsafe { front::realloc(lh, self, p, size) };
        }
        // SAFETY: under the lock; forwarded.
        self.with_home(|home, sh| unsafe { front::realloc(home, sh, p, size) })
    }

    /// Usable bytes of the allocation at `p` (0 for null).
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    pub unsafe fn usable_size(&self, p: *mut u8) -> Result<usize, Misuse> {
        let mut lh = self.local();
        if lh.is_null() {
            lh = self.local_checked();
        }
        if !lh.is_null() {
            // SAFETY: forwarded.
            return unsafe { front::usable_size(lh, self, p) };
        }
        // SAFETY: under the lock; forwarded.
        self.with_home(|home, sh| unsafe { front::usable_size(home, sh, p) })
    }

    /// Walks every structure (the calling thread's heap included) and
    /// returns the first broken invariant.
    pub fn check(&self) -> Result<(), crate::heap::Broken> {
        let mut lh = self.local();
        if lh.is_null() {
            lh = self.local_checked();
        }
        if !lh.is_null() {
            // SAFETY: the calling thread's heap.
            return unsafe { front::check(lh, self) };
        }
        // SAFETY: under the lock.
        self.with_home(|home, sh| unsafe { front::check(home, sh) })
    }

    /// Statistics, summed now.
    pub fn stats(&self) -> Stats {
        front::stats(self)
    }

    /// Gives back what can be given back: the heaps of threads found dead,
    /// the calling thread's kept empty spans, then what the shared heap
    /// caches (see [`front::trim`]).
    pub fn trim(&self, pad: usize) -> bool {
        if PER_THREAD {
            self.with(|h| h.scan_now(|lh| thread::is_alive(lh.tid, lh.slot, LocalHeap::id(lh))));
        }
        let mut lh = self.local();
        if lh.is_null() {
            lh = self.local_checked();
        }
        if !lh.is_null() {
            // SAFETY: the calling thread's heap.
            return unsafe { front::trim(lh, self, pad) };
        }
        // SAFETY: under the lock.
        self.with_home(|home, sh| unsafe { front::trim(home, sh, pad) })
    }
}

/// A registered thread exits (host): its heap goes back to the allocator
/// that owns the thread slots.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn exit_thunk<S: BlockSource, L: RawLock, const P: bool>(lh: usize) {
    let a = SLOT_OWNER.load(Ordering::Acquire) as *const Allocator<S, L, P>;
    if !a.is_null() {
        // SAFETY: only a `'static` allocator of this type claims the slots.
        unsafe { (*a).thread_exit(lh) };
    }
}

// SAFETY: blocks come from the heap, aligned as the layout asks; misuse of
// `dealloc` is reported and never ignored.
unsafe impl<S: BlockSource, L: RawLock, const P: bool> GlobalAlloc for Allocator<S, L, P> {
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
