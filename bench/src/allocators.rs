//! The allocators under comparison, each adapted to `GlobalAlloc` and able to
//! say how many bytes it obtained from its memory source.
//!
//! Locking: vitalloc uses its own default lock (a futex on Linux); the
//! adapters below (dlmalloc, rlsf) and talc's `TalcLock` use one minimal
//! spinlock, so every allocator pays one uncontended atomic read-modify-write
//! to lock. glibc has its own arena lock/tcache, mimalloc its thread-local
//! heaps. Every allocator here is `Sync` and safe to call from several
//! threads as wired (the spinlocked ones serialise every call); only the
//! two-thread workloads ever contend.
//!
//! Memory sources: talc and rlsf grow, like `sbrk`, inside one contiguous
//! reserved region in steps of [`GROW_UNIT`] (dlmalloc's default
//! granularity); dlmalloc maps with `mmap` through a counting wrapper;
//! vitalloc uses `MmapSource`; glibc and mimalloc use their own (process-wide)
//! sources. The bytes each holds from its source are tracked so heap
//! efficiency can be compared.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::{Cell, UnsafeCell};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};

/// Every allocator the benchmark knows; `Null` is the baseline that does no
/// allocation work and is never shown in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Vitalloc,
    Glibc,
    Mimalloc,
    Dlmalloc,
    Talc,
    Rlsf,
}

impl Kind {
    /// The allocators in table order (the baseline excluded).
    pub const COMPARED: [Kind; 6] = [
        Kind::Vitalloc,
        Kind::Glibc,
        Kind::Mimalloc,
        Kind::Dlmalloc,
        Kind::Talc,
        Kind::Rlsf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Vitalloc => "vitalloc",
            Kind::Glibc => "glibc",
            Kind::Mimalloc => "mimalloc",
            Kind::Dlmalloc => "dlmalloc",
            Kind::Talc => "talc",
            Kind::Rlsf => "rlsf",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        std::iter::once(Kind::Null)
            .chain(Kind::COMPARED)
            .find(|k| k.name() == s)
    }
}

/// What the driver needs beyond `GlobalAlloc`. `Sync`: the two-thread
/// workloads call one instance from two threads at once.
pub trait BenchAlloc: GlobalAlloc + Sync {
    /// False only for the null baseline, whose blocks all alias one buffer
    /// (so the driver must not check block contents).
    const DISTINCT: bool = true;
    /// Peak bytes obtained from the memory source, if the allocator (or our
    /// wrapper around its source) can tell.
    fn obtained_peak(&self) -> Option<usize>;
    /// For an allocator that keeps no peak: a function returning what it
    /// holds now, which the driver samples.
    const PROBE: Option<fn() -> usize> = None;
}

// ----- common pieces ----------------------------------------------------------

/// Growth step of the contiguous regions (talc, rlsf): dlmalloc's default
/// granularity, so the three sbrk-style heaps grow alike.
pub const GROW_UNIT: usize = 64 << 10;
/// Address space reserved for one contiguous heap. Only touched pages cost
/// memory (`MAP_NORESERVE`).
const REGION_RESERVE: usize = 8 << 30;
const PAGE: usize = 4096;

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

fn mmap(len: usize, extra_flags: libc::c_int) -> *mut u8 {
    // SAFETY: anonymous private mapping; failure is checked by the callers.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra_flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p.cast()
    }
}

/// A contiguous reserved region handed out from the bottom up, like `sbrk`.
/// `used` (bytes handed to the allocator) is what the allocator "obtained".
#[derive(Debug)]
pub struct Region {
    base: *mut u8,
    used: usize,
}

// SAFETY: the region owns its mapping; moving it between threads is fine.
unsafe impl Send for Region {}

impl Region {
    fn new() -> Self {
        let base = mmap(REGION_RESERVE, libc::MAP_NORESERVE);
        assert!(
            !base.is_null(),
            "cannot reserve {REGION_RESERVE} bytes of address space"
        );
        Region { base, used: 0 }
    }

    fn end(&self) -> *mut u8 {
        self.base.wrapping_add(self.used)
    }

    /// Extends the handed-out part by at least `min` bytes (rounded up to
    /// [`GROW_UNIT`]); returns the start of the new part.
    fn grow(&mut self, min: usize) -> Option<*mut u8> {
        let add = round_up(min.max(1), GROW_UNIT);
        if self.used + add > REGION_RESERVE {
            return None;
        }
        let start = self.end();
        self.used += add;
        Some(start)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` and nothing uses it any more
        // (the allocator that owned it is being dropped).
        unsafe { libc::munmap(self.base.cast(), REGION_RESERVE) };
    }
}

/// A minimal test-and-set spinlock (never contended here).
pub struct Spin(AtomicBool);

impl Spin {
    pub const fn new() -> Self {
        Spin(AtomicBool::new(false))
    }
    #[inline(always)]
    fn lock(&self) {
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
    }
    #[inline(always)]
    fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

// SAFETY: `lock` returns only once it set the flag from false to true; `unlock`
// clears it; acquire/release order the protected data.
unsafe impl talc::lock_api::RawMutex for Spin {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Spin::new();
    type GuardMarker = talc::lock_api::GuardSend;

    #[inline(always)]
    fn lock(&self) {
        Spin::lock(self)
    }
    #[inline(always)]
    fn try_lock(&self) -> bool {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }
    #[inline(always)]
    unsafe fn unlock(&self) {
        Spin::unlock(self)
    }
}

/// Data behind a [`Spin`].
struct Locked<T> {
    lock: Spin,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is only reached with `lock` held.
unsafe impl<T: Send> Sync for Locked<T> {}

impl<T> Locked<T> {
    const fn new(data: T) -> Self {
        Locked {
            lock: Spin::new(),
            data: UnsafeCell::new(data),
        }
    }
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock is held.
        let r = f(unsafe { &mut *self.data.get() });
        self.lock.unlock();
        r
    }
}

// ----- null baseline --------------------------------------------------------------

/// Hands out the same static buffer for every request: measures what the
/// harness and the call shims cost, to subtract it.
pub struct NullAlloc;

/// Large enough for the biggest block any workload asks for.
const NULL_BUF: usize = 1 << 20;
static mut NULL_MEM: [u8; NULL_BUF] = [0; NULL_BUF];

// SAFETY: not a real allocator: every block aliases one buffer; only the
// benchmark's driver uses it, knowing `DISTINCT` is false.
unsafe impl GlobalAlloc for NullAlloc {
    #[inline(always)]
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        (&raw mut NULL_MEM).cast()
    }
    #[inline(always)]
    unsafe fn dealloc(&self, _p: *mut u8, _layout: Layout) {}
    #[inline(always)]
    unsafe fn realloc(&self, p: *mut u8, _layout: Layout, _new_size: usize) -> *mut u8 {
        p
    }
}

impl BenchAlloc for NullAlloc {
    const DISTINCT: bool = false;
    fn obtained_peak(&self) -> Option<usize> {
        None
    }
}

// ----- vitalloc ---------------------------------------------------------------

/// vitalloc with a heap per thread, as the C library and a Rust program's
/// `#[global_allocator]` use it: one `'static` instance per process (the
/// thread slots belong to one allocator), shared by every bench instance.
pub type VitallocHeap =
    vitalloc::Allocator<vitalloc::source::MmapSource, vitalloc::sync::DefaultLock, true>;
static VITALLOC: VitallocHeap = vitalloc::Allocator::new(vitalloc::source::MmapSource::new());

pub struct Vitalloc(&'static VitallocHeap);

pub fn new_vitalloc() -> Vitalloc {
    Vitalloc(&VITALLOC)
}

// SAFETY: delegates to vitalloc's allocator.
unsafe impl GlobalAlloc for Vitalloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        unsafe { self.0.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { self.0.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        unsafe { GlobalAlloc::realloc(self.0, p, l, n) }
    }
}

impl BenchAlloc for Vitalloc {
    fn obtained_peak(&self) -> Option<usize> {
        Some(self.0.stats().reserved_peak)
    }
}

// ----- glibc ------------------------------------------------------------------------

pub use std::alloc::System as Glibc;

impl BenchAlloc for Glibc {
    /// glibc keeps no peak of its own; the driver samples [`glibc_held`].
    const PROBE: Option<fn() -> usize> = Some(glibc_held);
    fn obtained_peak(&self) -> Option<usize> {
        None
    }
}

/// Bytes glibc currently holds from the kernel: the sbrk'd arena plus
/// mmapped chunks.
pub fn glibc_held() -> usize {
    // SAFETY: mallinfo2 has no preconditions.
    let mi = unsafe { libc::mallinfo2() };
    mi.arena + mi.hblkhd
}

// ----- mimalloc ------------------------------------------------------------------

/// The `mimalloc` crate with its default features (mimalloc v3, statically
/// linked, not overriding `malloc`): one process-wide allocator with a heap
/// per thread, so every "instance" shares the same state.
pub use mimalloc::MiMalloc as Mimalloc;

unsafe extern "C" {
    // Part of mimalloc's stable C API (mimalloc.h); the Rust bindings expose
    // it only with their `extended` feature, so it is declared here.
    fn mi_process_info(
        elapsed_msecs: *mut usize,
        user_msecs: *mut usize,
        system_msecs: *mut usize,
        current_rss: *mut usize,
        peak_rss: *mut usize,
        current_commit: *mut usize,
        peak_commit: *mut usize,
        page_faults: *mut usize,
    );
}

impl BenchAlloc for Mimalloc {
    /// mimalloc's own peak of committed memory (process-wide; exact, not
    /// sampled). On Linux it reserves arenas without counting them and counts
    /// a 64 KiB arena slice as committed when it first hands it out, plus its
    /// OS-allocated metadata; purged (decommitted) memory is subtracted.
    fn obtained_peak(&self) -> Option<usize> {
        let mut v = [0usize; 8];
        let [a, b, c, d, e, f, g, h] = &mut v;
        // SAFETY: every pointer is to a live, writable usize.
        unsafe { mi_process_info(a, b, c, d, e, f, g, h) };
        (v[6] > 0).then_some(v[6])
    }
}

// ----- dlmalloc ------------------------------------------------------------------

/// dlmalloc's own Linux system allocator (mmap/mremap/munmap), plus a count
/// of the bytes it holds.
#[derive(Default)]
pub struct CountingSys {
    held: Cell<usize>,
    peak: Cell<usize>,
}

// SAFETY: only used under the `Locked` wrapper's lock.
unsafe impl Send for CountingSys {}

impl CountingSys {
    fn add(&self, n: usize) {
        self.held.set(self.held.get() + n);
        self.peak.set(self.peak.get().max(self.held.get()));
    }
    fn sub(&self, n: usize) {
        self.held.set(self.held.get() - n);
    }
}

// SAFETY: the same contract as dlmalloc's own `System`, which this copies.
unsafe impl dlmalloc::Allocator for CountingSys {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let p = mmap(size, 0);
        if p.is_null() {
            return (ptr::null_mut(), 0, 0);
        }
        self.add(size);
        (p, size, 0)
    }

    fn remap(&self, p: *mut u8, oldsize: usize, newsize: usize, can_move: bool) -> *mut u8 {
        let flags = if can_move { libc::MREMAP_MAYMOVE } else { 0 };
        // SAFETY: `p..p+oldsize` is a mapping this allocator made.
        let q = unsafe { libc::mremap(p.cast(), oldsize, newsize, flags) };
        if q == libc::MAP_FAILED {
            return ptr::null_mut();
        }
        self.sub(oldsize);
        self.add(newsize);
        q.cast()
    }

    fn free_part(&self, p: *mut u8, oldsize: usize, newsize: usize) -> bool {
        // SAFETY: as in dlmalloc's `System`: shrink the mapping in place, or
        // unmap its tail.
        let ok = unsafe {
            libc::mremap(p.cast(), oldsize, newsize, 0) != libc::MAP_FAILED
                || libc::munmap(p.add(newsize).cast(), oldsize - newsize) == 0
        };
        if ok {
            self.sub(oldsize - newsize);
        }
        ok
    }

    fn free(&self, p: *mut u8, size: usize) -> bool {
        // SAFETY: `p..p+size` is a mapping this allocator made.
        let ok = unsafe { libc::munmap(p.cast(), size) == 0 };
        if ok {
            self.sub(size);
        }
        ok
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        true
    }
    fn allocates_zeros(&self) -> bool {
        true
    }
    fn page_size(&self) -> usize {
        PAGE
    }
}

pub struct DlAlloc(Locked<dlmalloc::Dlmalloc<CountingSys>>);

impl DlAlloc {
    pub fn new() -> Self {
        DlAlloc(Locked::new(dlmalloc::Dlmalloc::new_with_allocator(
            CountingSys::default(),
        )))
    }
}

// SAFETY: forwards to dlmalloc under the lock, with the caller's layouts.
unsafe impl GlobalAlloc for DlAlloc {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        self.0.with(|d| unsafe { d.malloc(l.size(), l.align()) })
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        self.0.with(|d| unsafe { d.free(p, l.size(), l.align()) })
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        self.0
            .with(|d| unsafe { d.realloc(p, l.size(), l.align(), new_size) })
    }
}

impl BenchAlloc for DlAlloc {
    fn obtained_peak(&self) -> Option<usize> {
        Some(self.0.with(|d| d.allocator().peak.get()))
    }
}

// ----- talc ----------------------------------------------------------------------

/// A talc source that claims the bottom of a [`Region`] on the first
/// out-of-memory and extends the same heap upwards on every later one.
#[derive(Debug)]
pub struct TalcRegion {
    region: Region,
    heap_end: Option<NonNull<u8>>,
}

// SAFETY: the region and the heap end point into memory this source owns;
// talc reaches them only under its lock.
unsafe impl Send for TalcRegion {}

// SAFETY: `acquire` touches only `talc` and its own region, never an
// allocator (no printing, no std collections).
unsafe impl talc::source::Source for TalcRegion {
    fn acquire<B: talc::base::binning::Binning>(
        talc: &mut talc::base::Talc<Self, B>,
        layout: Layout,
    ) -> Result<(), ()> {
        // Room for the request, its alignment and talc's chunk tags; the
        // first claim also holds talc's bin metadata.
        let mut need = layout.size() + layout.align() + 4 * talc::base::CHUNK_UNIT;
        if talc.source.heap_end.is_none() {
            need += talc::min_first_heap_size::<B>();
        }
        let start = talc.source.region.grow(need).ok_or(())?;
        let end = talc.source.region.end();
        // SAFETY: `start..end` is fresh memory of the region, owned by talc
        // from now on; extension starts at the current heap end, which is
        // where the region's handed-out part ended.
        let heap_end = unsafe {
            match talc.source.heap_end {
                None => talc.claim(start, end as usize - start as usize).ok_or(())?,
                Some(he) => talc.extend(he, end),
            }
        };
        talc.source.heap_end = Some(heap_end);
        Ok(())
    }
}

pub type TalcAlloc = talc::TalcLock<Spin, TalcRegion>;

pub fn new_talc() -> TalcAlloc {
    talc::TalcLock::new(TalcRegion {
        region: Region::new(),
        heap_end: None,
    })
}

impl BenchAlloc for TalcAlloc {
    fn obtained_peak(&self) -> Option<usize> {
        // The region never shrinks, so what it handed out is the peak.
        Some(self.lock().source.region.used)
    }
}

// ----- rlsf ------------------------------------------------------------------------

/// An rlsf source over a [`Region`]: one pool that grows in place.
pub struct RlsfRegion(Region);

// SAFETY: returned blocks are fresh, page-aligned parts of the region, and
// in-place growth only ever extends the block ending at the region's end.
unsafe impl rlsf::FlexSource for RlsfRegion {
    unsafe fn alloc(&mut self, min_size: usize) -> Option<NonNull<[u8]>> {
        let start = self.0.grow(min_size)?;
        let len = self.0.end() as usize - start as usize;
        NonNull::new(ptr::slice_from_raw_parts_mut(start, len))
    }

    unsafe fn realloc_inplace_grow(
        &mut self,
        block: NonNull<[u8]>,
        min_new_len: usize,
    ) -> Option<usize> {
        let start = block.as_ptr().cast::<u8>();
        if start.wrapping_add(block.len()) != self.0.end() {
            return None;
        }
        self.0.grow(min_new_len - block.len())?;
        Some(self.0.end() as usize - start as usize)
    }

    fn supports_realloc_inplace_grow(&self) -> bool {
        true
    }
    fn is_contiguous_growable(&self) -> bool {
        true
    }
    fn min_align(&self) -> usize {
        PAGE
    }
}

/// The same bitmap parameters as `rlsf::GlobalTlsf`.
type Flex =
    rlsf::FlexTlsf<RlsfRegion, usize, usize, { usize::BITS as usize }, { usize::BITS as usize }>;

pub struct RlsfAlloc(Locked<Flex>);

// SAFETY: the region is owned by the pool; moving it is fine.
unsafe impl Send for RlsfRegion {}

impl RlsfAlloc {
    pub fn new() -> Self {
        RlsfAlloc(Locked::new(Flex::new(RlsfRegion(Region::new()))))
    }
}

// SAFETY: forwards to rlsf under the lock, with the caller's layouts.
unsafe impl GlobalAlloc for RlsfAlloc {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        self.0
            .with(|t| t.allocate(l))
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from this pool with alignment `l.align()`.
        self.0
            .with(|t| unsafe { t.deallocate(NonNull::new_unchecked(p), l.align()) })
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the new layout is valid per GlobalAlloc.
        self.0
            .with(|t| unsafe {
                t.reallocate(
                    NonNull::new_unchecked(p),
                    Layout::from_size_align_unchecked(new_size, l.align()),
                )
            })
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
}

impl BenchAlloc for RlsfAlloc {
    fn obtained_peak(&self) -> Option<usize> {
        // The region never shrinks, so what it handed out is the peak.
        Some(self.0.with(|t| t.source_ref().0.used))
    }
}
