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
mod medium;
/// cbindgen:ignore
pub(crate) mod meta;
/// cbindgen:ignore
pub(crate) mod pagemap;
/// cbindgen:ignore
pub(crate) mod pages;
/// cbindgen:ignore
mod released;
/// cbindgen:ignore
mod segments;
/// cbindgen:ignore
pub(crate) mod slots;
/// cbindgen:ignore
mod small;
/// cbindgen:ignore
pub(crate) mod span;
mod stats;
/// cbindgen:ignore
mod teardown;
/// cbindgen:ignore
mod threads;

#[cfg(test)]
mod tests;

pub use check::Broken;
pub use stats::{ClassStats, MallInfo, Stats};

use crate::front::local::{Counters, LocalHeap};
use crate::source::{Block, BlockSource};
use classes::CLASS_COUNT;
use config::*;
use core::ptr;

use meta::Meta;
use pagemap::PageMap;
use pages::Pages;
use segments::Segment;
use span::{KIND_FREE, Span};

/// Metadata room `alloc_run` makes sure of: the two span descriptors a
/// split may take, with room to spare.
const RUN_META: usize = 3 * size_of::<Span>() + 64;

impl<S: BlockSource> Heap<S> {
    /// What a pointer whose page the page map does not know is. Inside one
    /// of the heap's segments it is in the middle of a free page run or of
    /// a medium block (only their end pages are mapped): a block freed
    /// before, or an interior pointer. In a range given back recently (or
    /// in the spare large block), its memory went back to the source: a
    /// block freed before. Freed blocks are told only for pointers aligned
    /// as blocks are. Otherwise the heap never returned it. O(segments +
    /// runs of one segment): the error path only.
    pub fn misuse_outside(&self, p: *mut u8) -> Misuse {
        let a = p as usize;
        let mut seg = self.segments;
        // SAFETY: the segment list holds live records (under the lock), and
        // runs tile each segment.
        unsafe {
            while !seg.is_null() {
                let base = (*seg).block.base.as_ptr() as usize;
                if base <= a && a < base + (*seg).block.size {
                    let mut kind = KIND_FREE;
                    self.for_each_run(seg, |s| {
                        if (*s).base as usize <= a && a < (*s).end() {
                            kind = (*s).kind;
                        }
                    });
                    return if kind == KIND_FREE {
                        Misuse::in_free_run(p)
                    } else {
                        Misuse::InvalidPointer
                    };
                }
                seg = (*seg).next;
            }
        }
        let in_spare = self.spare_large.is_some_and(|b| {
            (b.base.as_ptr() as usize..b.base.as_ptr() as usize + b.size).contains(&a)
        });
        if in_spare || self.released.contains(a) {
            Misuse::in_free_run(p)
        } else {
            Misuse::InvalidPointer
        }
    }
}

/// `x` rounded up to a multiple of `a`, a power of two (granularities and
/// alignments always are), or None on overflow. A mask, not
/// `next_multiple_of`: with `a` known only at run time that is a division,
/// a libgcc call on the A9 (measured: ten per call on the GPU benchmark).
#[inline]
pub(crate) fn align_up(x: usize, a: usize) -> Option<usize> {
    debug_assert!(a.is_power_of_two());
    Some(x.checked_add(a - 1)? & !(a - 1))
}

impl Misuse {
    /// What a pointer into a free page run is: memory that was a block
    /// (any pointer a program holds there is a freed block's) unless it is
    /// not even aligned as blocks are.
    pub fn in_free_run(p: *mut u8) -> Misuse {
        if (p as usize) % MIN_ALIGN == 0 {
            Misuse::FreedMemory
        } else {
            Misuse::InvalidPointer
        }
    }
}

/// A misuse of the allocator detected on a pointer the caller passed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misuse {
    /// The pointer was never returned by this heap (or points inside a block).
    InvalidPointer,
    /// The block is already free.
    DoubleFree,
    /// The pointer is into free pages of the heap: its block was freed and
    /// its memory went back to the page allocator (a double free, or a
    /// stale pointer into a block freed before).
    FreedMemory,
}

impl Misuse {
    /// A few words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Misuse::InvalidPointer => {
                "invalid pointer (not returned by vitalloc, not the start of a block, or already freed)"
            }
            Misuse::DoubleFree => "double free (the block is already free)",
            Misuse::FreedMemory => "double free (the block's memory is already free)",
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
    /// Smallest new segment (growth then follows the heap's size, see
    /// `SEGMENT_GROWTH_SHIFT`); rounded to the source's granularity.
    pub segment_min: usize,
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
    /// Single-block mode for a heap of out-of-band blocks: the metadata
    /// comes from the source's metadata blocks, not the block's front.
    single_meta_outside: bool,
    /// Ranges recently given back (error messages only).
    released: released::Released,
    /// Slot spans (heaps of out-of-band blocks only).
    slots: slots::Slots,
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
            retired: Counters::ZERO,
            since_scan: 0,
            tunables: Tunables {
                large_threshold: LARGE_THRESHOLD,
                trim_threshold: TRIM_THRESHOLD,
                top_pad: 0,
                limit: 0,
                segment_min: SEGMENT_MIN,
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
            single_meta_outside: false,
            released: released::Released::new(),
            slots: slots::Slots::new(),
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
            segment_min: t.segment_min.clamp(PAGE_SIZE, SEGMENT_MAX),
            ..t
        };
    }

    // ----- page runs ------------------------------------------------------------

    /// A free page run of `pages` pages aligned to `align`, its descriptor
    /// still FREE and unmapped, growing the heap if needed; null when out of
    /// memory. The common case (metadata room, a free run that fits) is
    /// this function; growing is [`alloc_run_grow`](Self::alloc_run_grow).
    pub(super) fn alloc_run(&mut self, pages: usize, align: usize) -> *mut Span {
        if self.ensure_meta(RUN_META) {
            // SAFETY: the metadata can give the two descriptors a split
            // needs (ensured just above).
            let r = unsafe { self.pages.alloc(&self.map, &mut self.meta, pages, align) };
            if !r.is_null() {
                // SAFETY: `r` was just carved from a live segment.
                unsafe { self.run_taken(r) };
                return r;
            }
        }
        self.alloc_run_grow(pages, align)
    }

    /// `alloc_run` when no free run fits (or the metadata needs a chunk):
    /// a new segment, then one more try.
    #[cold]
    #[inline(never)]
    fn alloc_run_grow(&mut self, pages: usize, align: usize) -> *mut Span {
        if !self.ensure_meta(RUN_META) || !self.grow(pages, align) {
            return ptr::null_mut();
        }
        // The new segment (the list's head) holds such a run, and installing
        // it left RUN_META of room: this ensure never asks the source
        // (outside single-block mode, where the room is the block's front).
        let r = if self.ensure_meta(RUN_META) {
            // SAFETY: as in `alloc_run`.
            unsafe { self.pages.alloc(&self.map, &mut self.meta, pages, align) }
        } else {
            ptr::null_mut()
        };
        if r.is_null() {
            // Never strand the new segment: an empty segment is the spare
            // or goes back (`trim` looks at the spare only).
            let seg = self.segments;
            if !seg.is_null() && self.segment_is_empty(seg) {
                // SAFETY: a live segment that is one free run.
                unsafe {
                    let run = self.map.get((*seg).block.base.as_ptr() as usize);
                    self.segment_emptied(run);
                }
            }
            return ptr::null_mut();
        }
        // SAFETY: `r` was just carved from a live segment.
        unsafe { self.run_taken(r) };
        r
    }

    /// Frees the run of a span of a segment (merging it), and gives the
    /// segment back when it empties.
    ///
    /// # Safety
    /// `s` is a live SMALL or MEDIUM span nobody uses any more.
    pub(super) unsafe fn free_run(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            let seg = (*s).seg;
            (*seg).used_pages -= (*s).pages;
            if (*s).kind == span::KIND_SMALL {
                (*seg).span_pages -= (*s).pages;
            }
            let run = self.pages.free(&self.map, &mut self.meta, s);
            if (*run).pages == (*seg).pages() {
                self.segment_emptied(run);
            } else {
                self.mark_pinning_spans(seg);
                self.release_pinning_slot_spans(seg);
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

    // ----- counting ---------------------------------------------------------------

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

    /// Gives back to the source everything cached and empty: the empty
    /// spans of home heaps, the spare segment, the spare large block,
    /// abandoned spans that emptied, empty slot spans.
    /// Returns whether anything was released. O(segments + abandoned spans
    /// + classes × home heaps).
    pub fn trim(&mut self, pad: usize) -> bool {
        let before = self.stats.reserved;
        self.trim_home_heaps();
        self.trim_cached(pad);
        self.stats.reserved < before
    }

    /// The empty spans of every home heap (an allocator's own heap, for
    /// calls that have no thread heap) go back to the page allocator.
    ///
    /// A home heap is only used under this heap's lock, but a `trim` from
    /// a thread with a heap of its own never passes through it: a span
    /// it took (say, for a first call whose thread heap could not be made
    /// because the source refused the metadata) stayed its current span
    /// when its objects were freed -- by other heaps, so onto the span's
    /// remote list -- and kept a whole segment from going back. Under the
    /// lock we are its owner: collect its remote frees, then release what
    /// is empty (current, queued, kept spares). O(home heaps × classes +
    /// their spans).
    fn trim_home_heaps(&mut self) {
        let mut lh = self.locals;
        while !lh.is_null() {
            // SAFETY: registry members are live heaps; a home heap is
            // touched only under the lock, which the caller holds, so its
            // spans are ours to collect and release.
            unsafe {
                let next = (*lh).next;
                if (*lh).tid == threads::HOME {
                    LocalHeap::trim_spans(lh, |s| self.release_span(lh, s));
                }
                lh = next;
            }
        }
    }

    /// What `trim` gives back from the shared heap's own caches.
    fn trim_cached(&mut self, pad: usize) {
        self.sweep_abandoned();
        self.release_empty_slot_spans();
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
    }

    /// Gives back everything cached when memory runs short. Returns whether
    /// anything was released. Not the home heaps' spans: this runs inside
    /// their calls (a home heap's refill may be what ran short).
    #[cold]
    fn reclaim(&mut self) -> bool {
        let before = self.stats.reserved;
        self.trim_cached(0);
        self.stats.reserved < before
    }
}
