//! The shared heap: everything behind the lock. Thread heaps
//! ([`crate::front`]) allocate small objects from spans on their own; they
//! come here for new spans, and every medium and large block is made here.
//!
//! ```text
//!   segments (source blocks) ──► pages: free runs ──► span of a class ──► thread heap
//!                                                ──► medium block (whole pages)
//!   large requests ──► a source block of its own (a LARGE span)
//!   any pointer ──► page map ──► its span (NONE: not the heap's)
//! ```
//! `Heap` is single-threaded (`&mut self`); [`crate::Allocator`] puts it
//! behind a lock. It never calls the platform except through its source and
//! never walks more than a bounded number of runs on any path except
//! statistics, trimming, thread-heap reclaim and [`Heap::check`]. Errors in
//! the caller's use (double free, foreign pointer) come back as [`Misuse`];
//! running out of memory comes back as null.

/// cbindgen:ignore
mod check;
/// cbindgen:ignore
pub mod classes;
pub mod config;
/// cbindgen:ignore
mod large;
/// cbindgen:ignore
pub(crate) mod meta;
/// cbindgen:ignore
pub(crate) mod pagemap;
/// cbindgen:ignore
pub(crate) mod pages;
/// cbindgen:ignore
mod segments;
/// cbindgen:ignore
pub(crate) mod span;
mod stats;
/// cbindgen:ignore
mod threads;

#[cfg(test)]
mod tests;

pub use stats::{MallInfo, Stats};

use crate::front::local::{Counters, LocalHeap};
use crate::source::{Block, BlockSource};
use classes::CLASS_COUNT;
use config::*;
use core::ptr;
use core::sync::atomic::Ordering;
use meta::{Meta, Pool};
use pagemap::PageMap;
use pages::Pages;
use segments::Segment;
use span::{FULL, KIND_FREE, KIND_LARGE, KIND_MEDIUM, Span};

/// A misuse of the allocator detected on a pointer the caller passed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misuse {
    /// The pointer was never returned by this heap (or points inside a block).
    InvalidPointer,
    /// The block is already free.
    DoubleFree,
}

impl Misuse {
    /// A few words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Misuse::InvalidPointer => {
                "invalid pointer (not returned by vitalloc, not the start of a block, or already freed)"
            }
            Misuse::DoubleFree => "double free (the block is already free)",
        }
    }
}

/// A block the heap obtained from or gives back to its source, as block
/// hooks see it (`vitalloc_block_info_t` in C).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockInfo {
    /// First byte of the block.
    pub base: *mut core::ffi::c_void,
    /// Bytes in the block.
    pub size: usize,
    /// The memory type (`SCE_KERNEL_MEMBLOCK_TYPE_*` on the Vita, 0 on hosts).
    pub mem_type: u32,
    /// The memblock's uid on the Vita (0 on hosts).
    pub uid: i32,
    /// 0: a segment (small and medium allocations), 1: one large
    /// allocation, 2: the heap's metadata.
    pub kind: u32,
}

/// Block hook event: the heap obtained the block (called after).
pub const BLOCK_ACQUIRED: core::ffi::c_int = 1;
/// Block hook event: the heap is about to give the block back (called before).
pub const BLOCK_RELEASED: core::ffi::c_int = 2;

/// Called with the heap locked whenever it obtains or releases a source
/// block (`vitalloc_block_hook_t` in C). It must not call the allocator.
pub type BlockHook = Option<
    unsafe extern "C" fn(
        event: core::ffi::c_int,
        block: *const BlockInfo,
        user: *mut core::ffi::c_void,
    ),
>;

/// Parameters `mallopt` can change.
#[derive(Clone, Copy, Debug)]
pub struct Tunables {
    /// Requests of at least this many bytes get a source block of their own.
    pub large_threshold: usize,
    /// A freed large block of at most this size is kept for reuse.
    pub trim_threshold: usize,
    /// Extra bytes added to every new segment.
    pub top_pad: usize,
    /// Upper bound on bytes held from the source (0: none).
    pub limit: usize,
}

/// Counters the heap keeps under its lock (the rest of [`Stats`] is summed
/// from spans and thread heaps when asked).
#[derive(Clone, Copy, Default)]
struct Kept {
    reserved: usize,
    reserved_peak: usize,
    in_use_peak: usize,
    segments: usize,
    large_blocks: usize,
    source_blocks: usize,
    /// Medium and large allocating calls (including failed ones) and frees.
    block_mallocs: u64,
    block_frees: u64,
    /// Small allocating calls that failed for lack of memory.
    small_failed: u64,
    failed_calls: u64,
}

/// A heap over the source `S`.
#[repr(C)]
pub struct Heap<S: BlockSource> {
    /// First: the fast path of `free` reads it without the lock.
    pub(crate) map: PageMap,
    pages: Pages,
    pub(crate) meta: Meta,
    segments: *mut Segment,
    /// An empty segment kept instead of being given back.
    spare_segment: *mut Segment,
    /// Bytes in all segments.
    segment_bytes: usize,
    /// Live LARGE spans.
    large: *mut Span,
    /// A freed large block kept for the next large request that fits it.
    spare_large: Option<Block>,
    /// Pages in MEDIUM spans and their count.
    medium_pages: usize,
    medium_blocks: usize,
    /// Usable bytes of live large blocks.
    large_bytes_in_use: usize,
    /// Small spans whose thread heap is gone, per class (linked by
    /// `next`/`prev`); adopted by the next heap needing that class.
    abandoned: [*mut Span; CLASS_COUNT],
    /// The next segment to look at for spans pinning it (see
    /// `segment_emptied`), or null.
    remark: *mut Segment,
    /// Bumped whenever spans are marked as pinning their segment: thread
    /// heaps then look for marked spans of theirs that are already empty.
    pins_epoch: u32,
    /// Thread heaps (the registry; `home` heaps included).
    locals: *mut LocalHeap,
    /// Counters of thread heaps that are gone.
    retired: Counters,
    /// Slow-path entries since the last look for dead threads.
    since_scan: u32,
    tunables: Tunables,
    stats: Kept,
    block_hook: BlockHook,
    hook_user: *mut core::ffi::c_void,
    /// Single-block mode: the one block every allocation comes from (see
    /// [`Heap::set_single_block`]); `single_size` is its requested size.
    single: Option<Block>,
    single_size: usize,
    source: S,
}

// SAFETY: the heap owns all memory its pointers reach; moving it to another
// thread moves that ownership (the lock in `Allocator` serialises access).
unsafe impl<S: BlockSource + Send> Send for Heap<S> {}

impl<S: BlockSource> Heap<S> {
    /// An empty heap; it obtains nothing from `source` until first used.
    pub const fn new(source: S) -> Self {
        Heap {
            map: PageMap::new(),
            pages: Pages::new(),
            meta: Meta::new(),
            segments: ptr::null_mut(),
            spare_segment: ptr::null_mut(),
            segment_bytes: 0,
            large: ptr::null_mut(),
            spare_large: None,
            medium_pages: 0,
            medium_blocks: 0,
            large_bytes_in_use: 0,
            abandoned: [ptr::null_mut(); CLASS_COUNT],
            remark: ptr::null_mut(),
            pins_epoch: 0,
            locals: ptr::null_mut(),
            retired: Counters {
                allocs: 0,
                inner_allocs: 0,
                inner_frees: 0,
                reallocs: 0,
                remote_freed: 0,
                remote_freed_bytes: 0,
                collected: 0,
                collected_bytes: 0,
            },
            since_scan: 0,
            tunables: Tunables {
                large_threshold: LARGE_THRESHOLD,
                trim_threshold: TRIM_THRESHOLD,
                top_pad: 0,
                limit: 0,
            },
            stats: Kept {
                reserved: 0,
                reserved_peak: 0,
                in_use_peak: 0,
                segments: 0,
                large_blocks: 0,
                source_blocks: 0,
                block_mallocs: 0,
                block_frees: 0,
                small_failed: 0,
                failed_calls: 0,
            },
            block_hook: None,
            hook_user: ptr::null_mut(),
            single: None,
            single_size: 0,
            source,
        }
    }

    /// The block source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The block source, mutably (for configuring it).
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// Current tunables.
    pub fn tunables(&self) -> Tunables {
        self.tunables
    }

    /// Replaces the tunables (values are clamped to what the heap supports).
    pub fn set_tunables(&mut self, t: Tunables) {
        self.tunables = Tunables {
            large_threshold: t
                .large_threshold
                .clamp(LARGE_THRESHOLD_MIN, LARGE_THRESHOLD_MAX),
            ..t
        };
    }

    /// The span of the page holding `p` (`span::NONE` if not the heap's).
    #[inline(always)]
    pub fn span_of(&self, p: *mut u8) -> *mut Span {
        self.map.get(p as usize)
    }

    // ----- small spans for thread heaps --------------------------------------

    /// Gives `lh` a current span of class `cls` with a free object: an
    /// abandoned span of that class, or a fresh one. False when out of
    /// memory (counted as a failed call).
    ///
    /// # Safety
    /// `lh` is a registered thread heap whose owner is the caller (or
    /// which the caller uses under this lock); its `current[cls]` is `NONE`.
    pub unsafe fn new_span(&mut self, lh: *mut LocalHeap, cls: usize) -> bool {
        // SAFETY: abandoned spans are live, owned by nobody, and touched only
        // under this lock; a fresh run is ours.
        unsafe {
            while !self.abandoned[cls].is_null() {
                let s = self.abandoned[cls];
                self.unlink_abandoned(s);
                (*s).remote_queued.store(false, Ordering::Relaxed);
                (*s).owner.store(LocalHeap::id(lh), Ordering::SeqCst);
                LocalHeap::collect(lh, s);
                if !(*s).free.is_null() {
                    LocalHeap::set_current(lh, cls, s);
                    return true;
                }
                // Full: it stays ours, tagged, and comes back through the
                // remote stack when other threads free into it.
                (*s).owner.store(LocalHeap::id(lh) | FULL, Ordering::SeqCst);
                if !(*s).thread_free.load(Ordering::SeqCst).is_null() {
                    (*s).owner.store(LocalHeap::id(lh), Ordering::SeqCst);
                    LocalHeap::collect(lh, s);
                    LocalHeap::set_current(lh, cls, s);
                    return true;
                }
            }
            let pages = (*lh).span_pages[cls] as usize;
            let s = self.alloc_run(pages, PAGE_SIZE);
            if s.is_null() {
                self.stats.small_failed += 1;
                self.stats.failed_calls += 1;
                return false;
            }
            Span::format_small(s, cls, LocalHeap::id(lh));
            (*((*s).seg as *mut Segment)).span_pages += pages;
            let next = pages * 2 * PAGE_SIZE;
            if next <= SPAN_GROW_MAX
                && next / classes::CLASS_SIZE[cls] as usize <= SPAN_GROW_OBJECTS
            {
                (*lh).span_pages[cls] = (pages * 2) as u8;
            }
            self.map.set((*s).base as usize, (*s).pages, s);
            LocalHeap::set_current(lh, cls, s);
            true
        }
    }

    /// An empty span of `lh` goes back to the page allocator.
    ///
    /// # Safety
    /// `span` is an empty SMALL span owned by `lh`, neither current nor
    /// queued, and its owner does not touch it any more.
    pub unsafe fn release_span(&mut self, lh: *mut LocalHeap, span: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            (*lh).counters.allocs = (*lh).counters.allocs.wrapping_add((*span).allocs as u64);
            self.free_run(span);
        }
    }

    /// Releases `lh`'s current spans that are empty and marked as pinning
    /// their segment (marked after they emptied, so no free of theirs will
    /// notice). O(classes), and only when new spans were marked since `lh`
    /// last looked.
    ///
    /// # Safety
    /// `lh` is the caller's heap.
    pub unsafe fn release_marked(&mut self, lh: *mut LocalHeap) {
        // SAFETY: per the caller: the heap's spans are ours.
        unsafe {
            if (*lh).pins_seen == self.pins_epoch {
                return;
            }
            (*lh).pins_seen = self.pins_epoch;
            for cls in 0..CLASS_COUNT {
                let s = (*lh).current[cls];
                if s != span::NONE
                    && (*s).used == 0
                    && (*s).pins.load(Ordering::Relaxed)
                    && (*s).thread_free.load(Ordering::Relaxed).is_null()
                {
                    LocalHeap::set_current(lh, cls, span::NONE);
                    self.release_span(lh, s);
                }
                // Marked spares go back (the others stay kept).
                let mut keep: *mut Span = ptr::null_mut();
                loop {
                    let s = LocalHeap::take_spare(lh, cls);
                    if s.is_null() {
                        break;
                    }
                    if (*s).pins.load(Ordering::Relaxed) {
                        self.release_span(lh, s);
                    } else {
                        (*s).next = keep;
                        keep = s;
                    }
                }
                while !keep.is_null() {
                    let next = (*keep).next;
                    LocalHeap::keep_spare(lh, keep);
                    keep = next;
                }
            }
        }
    }

    /// A free page run of `pages` pages aligned to `align`, its descriptor
    /// still FREE and unmapped, growing the heap if needed; null when out of
    /// memory.
    fn alloc_run(&mut self, pages: usize, align: usize) -> *mut Span {
        for attempt in 0..2 {
            if !self.ensure_meta(3 * size_of::<Span>() + 64) {
                return ptr::null_mut();
            }
            let mut spare = [
                self.meta.take(Pool::Span, size_of::<Span>()).cast::<Span>(),
                self.meta.take(Pool::Span, size_of::<Span>()).cast::<Span>(),
            ];
            for s in spare {
                if !s.is_null() {
                    // SAFETY: a metadata object sized for a span. Its owner
                    // must never read as 0: a thread without a heap would
                    // take the span for one of its own.
                    unsafe { s.write(Span::new(KIND_FREE)) };
                }
            }
            let r = self.pages.alloc(&self.map, pages, align, &mut spare);
            for s in spare {
                if !s.is_null() {
                    // SAFETY: unused descriptors go back.
                    unsafe { self.meta.give(Pool::Span, s.cast()) };
                }
            }
            if !r.is_null() {
                // SAFETY: `r` was just carved from a live segment.
                unsafe { self.run_taken(r) };
                return r;
            }
            if attempt == 1 || !self.grow(pages, align) {
                return ptr::null_mut();
            }
        }
        ptr::null_mut()
    }

    /// Frees the run of a span of a segment (merging it), and gives the
    /// segment back when it empties.
    ///
    /// # Safety
    /// `s` is a live SMALL or MEDIUM span nobody uses any more.
    unsafe fn free_run(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            let seg = (*s).seg as *mut Segment;
            (*seg).used_pages -= (*s).pages;
            if (*s).kind == span::KIND_SMALL {
                (*seg).span_pages -= (*s).pages;
            }
            let run = self.pages.free(&self.map, &mut self.meta, s);
            if (*run).pages == (*seg).pages() {
                self.segment_emptied(run);
            } else {
                self.mark_pinning_spans(seg);
            }
            // One more segment of the visit `segment_emptied` started.
            let r = self.remark;
            if !r.is_null() {
                self.remark = (*r).next;
                if (*r).used_pages <= PIN_CHECK_PAGES {
                    self.mark_pinning_spans(r);
                }
            }
        }
    }

    /// Frees `p` in a SMALL span that no live thread heap owns (abandoned),
    /// under the lock.
    ///
    /// # Safety
    /// `span` is the page map's span of `p`, a SMALL span with `NO_OWNER`.
    pub unsafe fn free_abandoned(&mut self, span: *mut Span, p: *mut u8) -> Result<(), Misuse> {
        // SAFETY: abandoned spans are touched only under this lock.
        unsafe {
            if !(*span).is_object(p) {
                return Err(Misuse::InvalidPointer);
            }
            let o = p.cast::<span::FreeObj>();
            self.collect_unowned(span);
            if (*o).mark == span as usize && Span::contains_free(span, o) {
                return Err(Misuse::DoubleFree);
            }
            LocalHeap::push(span, o);
            (*span).used -= 1;
            if (*span).used == 0 {
                self.unlink_abandoned(span);
                self.retired.allocs = self.retired.allocs.wrapping_add((*span).allocs as u64);
                self.free_run(span);
            }
        }
        Ok(())
    }

    /// Collects the remote frees of a span nobody owns, counting them.
    ///
    /// # Safety
    /// `s` is a live SMALL span with `NO_OWNER` (touched only under the lock).
    unsafe fn collect_unowned(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            let n = Span::collect(s) as u64;
            self.retired.collected += n;
            self.retired.collected_bytes += n * (*s).obj_size() as u64;
        }
    }

    /// Puts a span (owned by nobody now) on the abandoned list of its class.
    ///
    /// # Safety
    /// `s` is a live SMALL span in no list.
    unsafe fn push_abandoned(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            let cls = (*s).class as usize;
            let head = self.abandoned[cls];
            (*s).next = head;
            (*s).prev = ptr::null_mut();
            if !head.is_null() {
                (*head).prev = s;
            }
            self.abandoned[cls] = s;
        }
    }

    /// # Safety
    /// `s` is on its class's abandoned list.
    unsafe fn unlink_abandoned(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            let (next, prev) = ((*s).next, (*s).prev);
            if !next.is_null() {
                (*next).prev = prev;
            }
            if prev.is_null() {
                self.abandoned[(*s).class as usize] = next;
            } else {
                (*prev).next = next;
            }
            (*s).next = ptr::null_mut();
            (*s).prev = ptr::null_mut();
        }
    }

    // ----- medium and large blocks ------------------------------------------

    /// A medium or large block of `size` bytes aligned to `align` (a power
    /// of two), or null when out of memory. Counted as a call.
    pub fn alloc_block(&mut self, size: usize, align: usize) -> *mut u8 {
        self.stats.block_mallocs += 1;
        let p = self.alloc_block_uncounted(size, align);
        if p.is_null() {
            self.stats.failed_calls += 1;
        }
        p
    }

    /// `alloc_block` without counting the call (realloc's inner moves).
    pub fn alloc_block_uncounted(&mut self, size: usize, align: usize) -> *mut u8 {
        // In single-block mode everything comes from the one segment.
        let wants_large = self.single_size == 0
            && (size >= self.tunables.large_threshold
                || size.saturating_add(align) >= LARGE_THRESHOLD_MAX);
        if wants_large {
            return self.alloc_large(size, align);
        }
        let Some(pages) = size.max(1).checked_next_multiple_of(PAGE_SIZE) else {
            return ptr::null_mut();
        };
        let pages = pages / PAGE_SIZE;
        let s = self.alloc_run(pages, align.max(PAGE_SIZE));
        if s.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: a fresh run of ours.
        unsafe {
            (*s).kind = KIND_MEDIUM;
            (*s).start = (*s).base;
            self.map.set((*s).base as usize, pages, s);
            self.medium_pages += pages;
            self.medium_blocks += 1;
            (*s).start
        }
    }

    /// Validates `p` as the pointer of the MEDIUM or LARGE span `s`.
    fn block_owner(s: *mut Span, p: *mut u8) -> Result<(), Misuse> {
        // SAFETY: page-map spans are live (or NONE, which is readable).
        unsafe {
            match (*s).kind {
                KIND_MEDIUM | KIND_LARGE if (*s).start == p => Ok(()),
                _ => Err(Misuse::InvalidPointer),
            }
        }
    }

    /// Frees a medium or large block (or reports what `p` is not). Counted.
    ///
    /// # Safety
    /// `s` is the page map's span of `p`.
    pub unsafe fn free_block(&mut self, s: *mut Span, p: *mut u8) -> Result<(), Misuse> {
        // SAFETY: forwarded.
        unsafe { self.free_block_uncounted(s, p)? };
        self.stats.block_frees += 1;
        Ok(())
    }

    /// `free_block` without counting the call.
    ///
    /// # Safety
    /// As for `free_block`.
    pub unsafe fn free_block_uncounted(&mut self, s: *mut Span, p: *mut u8) -> Result<(), Misuse> {
        Self::block_owner(s, p)?;
        // SAFETY: validated: a live block of ours.
        unsafe {
            if (*s).kind == KIND_LARGE {
                self.free_large(s);
            } else {
                self.medium_pages -= (*s).pages;
                self.medium_blocks -= 1;
                self.free_run(s);
            }
        }
        Ok(())
    }

    /// Usable bytes of the medium or large block at `p`.
    ///
    /// # Safety
    /// `s` is the page map's span of `p`.
    pub unsafe fn block_usable(&self, s: *mut Span, p: *mut u8) -> Result<usize, Misuse> {
        Self::block_owner(s, p)?;
        // SAFETY: validated.
        unsafe {
            Ok(if (*s).kind == KIND_LARGE {
                large::usable(s)
            } else {
                (*s).bytes()
            })
        }
    }

    /// Resizes the medium or large block at `p` in place if it can (a
    /// shrink, or growth into the free run after it). Returns whether it
    /// did. O(pages changed).
    ///
    /// # Safety
    /// `s` is the page map's span of `p`, validated by `block_usable`.
    pub unsafe fn resize_block_in_place(&mut self, s: *mut Span, size: usize) -> bool {
        // SAFETY: per the caller.
        unsafe {
            if (*s).kind == KIND_LARGE {
                let have = large::usable(s);
                return size <= have && size >= have / 2;
            }
            if size >= self.tunables.large_threshold {
                return false;
            }
            let want = size.max(1).div_ceil(PAGE_SIZE);
            let have = (*s).pages;
            if want == have {
                return true;
            }
            if want < have {
                // Give the tail back as a free run of its own.
                if !self.ensure_meta(size_of::<Span>() + 64) {
                    return true; // keeps the larger block: shrinking never fails
                }
                let t = self.meta.take(Pool::Span, size_of::<Span>()).cast::<Span>();
                t.write(Span::new(KIND_MEDIUM));
                (*t).base = (*s).base.add(want * PAGE_SIZE);
                (*t).pages = have - want;
                (*t).seg = (*s).seg;
                (*s).pages = want;
                self.medium_pages -= have - want;
                self.map.set((*t).base as usize, have - want, t);
                self.free_run(t);
                return true;
            }
            if self.pages.grow(&self.map, &mut self.meta, s, want - have) {
                self.map
                    .set((*s).base as usize + have * PAGE_SIZE, want - have, s);
                self.medium_pages += want - have;
                (*((*s).seg as *mut Segment)).used_pages += want - have;
                return true;
            }
            false
        }
    }

    /// Counts a call that failed for lack of memory before reaching the
    /// heap (a size that overflows while the caller computes it).
    pub fn count_failure(&mut self) {
        self.stats.block_mallocs += 1;
        self.stats.failed_calls += 1;
    }

    /// Accounts for a `realloc` whose move found no memory: `small` if
    /// that attempt was counted as a failed small allocation; `kept` if the
    /// realloc still succeeds (a shrink keeps its block).
    pub fn count_failed_realloc(&mut self, small: bool, kept: bool) {
        if small {
            self.stats.small_failed -= 1;
            self.stats.failed_calls -= 1;
        }
        if !kept {
            self.stats.failed_calls += 1;
        }
    }

    // ----- cached memory ------------------------------------------------------

    /// Gives back to the source everything cached and empty: the spare
    /// segment, the spare large block, abandoned spans that emptied.
    /// Returns whether anything was released. O(segments + abandoned spans).
    pub fn trim(&mut self, pad: usize) -> bool {
        let before = self.stats.reserved;
        self.sweep_abandoned();
        if let Some(b) = self.spare_large.take() {
            // SAFETY: the spare is unused.
            unsafe { self.release(b, crate::source::BlockKind::Large) };
        }
        let spare = self.spare_segment;
        // SAFETY: a non-null spare is a live segment.
        unsafe {
            if self.single.is_none()
                && !spare.is_null()
                && self.segment_is_empty(spare)
                && (*spare).block.size > pad
            {
                self.release_segment(spare);
            }
        }
        self.stats.reserved < before
    }

    /// Collects remote frees into abandoned spans and frees the ones that
    /// emptied. O(abandoned spans).
    fn sweep_abandoned(&mut self) {
        for cls in 0..CLASS_COUNT {
            let mut s = self.abandoned[cls];
            // SAFETY: abandoned spans are live and touched only under the lock.
            unsafe {
                while !s.is_null() {
                    let next = (*s).next;
                    self.collect_unowned(s);
                    if (*s).used == 0 {
                        self.unlink_abandoned(s);
                        self.retired.allocs = self.retired.allocs.wrapping_add((*s).allocs as u64);
                        self.free_run(s);
                    }
                    s = next;
                }
            }
        }
    }

    /// Gives back everything cached when memory runs short. Returns whether
    /// anything was released.
    #[cold]
    fn reclaim(&mut self) -> bool {
        let before = self.stats.reserved;
        self.trim(0);
        self.stats.reserved < before
    }
}
