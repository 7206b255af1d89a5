//! Segments: the source blocks the page allocator carves, how the heap
//! grows and shrinks in them, single-block mode, block hooks, the limit,
//! and the metadata chunks.
//!
//! ```text
//!  segments ─► Segment ⇄ Segment ⇄ ...   (records live in metadata)
//!  a new segment: max(what the request needs, 1/8 of the segment bytes
//!  held), between SEGMENT_MIN and SEGMENT_MAX, rounded to the granularity
//! ```
//! An emptied segment goes back to the source at once, except one spare
//! (the larger of the last two emptied), so a heap oscillating around a
//! segment boundary does not call the kernel every time. Every block the
//! heap obtains or releases passes through `acquire` / `release` here: the
//! limit, the statistics and the block hook see all of them.

use super::config::*;
use super::meta::Pool;
use super::span::{KIND_FREE, Span};
use super::{BLOCK_ACQUIRED, BLOCK_RELEASED, BlockInfo, Heap};
use crate::source::{Block, BlockKind, BlockSource};
use core::ptr;
use core::sync::atomic::Ordering;

/// A segment's record.
#[repr(C)]
pub struct Segment {
    /// The source block (in single-block mode: the part after the metadata).
    pub block: Block,
    /// Pages of the segment in spans and medium blocks (not free).
    pub used_pages: usize,
    /// Of those, pages in small-object spans.
    pub span_pages: usize,
    /// Whether spans of this segment may have `pins` set.
    pub has_pins: bool,
    /// Segment list links.
    pub next: *mut Segment,
    /// See `next`.
    pub prev: *mut Segment,
}

impl Segment {
    /// Pages of the segment.
    pub fn pages(&self) -> usize {
        self.block.size / PAGE_SIZE
    }
}

impl<S: BlockSource> Heap<S> {
    /// Adds a segment that can hold a run of `pages` pages aligned to
    /// `align`. Returns false when the source or the limit refuses.
    pub(super) fn grow(&mut self, pages: usize, align: usize) -> bool {
        if self.single_size != 0 {
            return self.add_single_block();
        }
        let gran = self.source.granularity().max(PAGE_SIZE);
        let Some(min) = pages
            .checked_mul(PAGE_SIZE)
            .and_then(|b| b.checked_add(align - PAGE_SIZE))
            .and_then(|b| b.checked_add(self.tunables.top_pad))
            .and_then(|b| super::align_up(b, gran))
        else {
            return false;
        };
        let grown = super::align_up(
            (self.segment_bytes >> SEGMENT_GROWTH_SHIFT)
                .clamp(self.tunables.segment_min, SEGMENT_MAX),
            gran,
        )
        .unwrap_or(SEGMENT_MAX);
        let mut size = min.max(grown);
        let limit = self.tunables.limit;
        if limit != 0 {
            let room = limit.saturating_sub(self.stats.reserved) & !(gran - 1);
            size = size.min(room.max(min));
        }
        // Near the limit, or when the system refuses, try smaller segments
        // (halving down to what is needed) rather than falling straight to
        // the minimum, which would make one block per allocation.
        let block = loop {
            if let Some(b) = self.acquire(size, BlockKind::Segment) {
                break b;
            }
            if size == min {
                return false;
            }
            size = (size / 2).next_multiple_of(gran).max(min);
        };
        if !self.install_segment(block) {
            // SAFETY: the block was just acquired and is unused.
            unsafe { self.release(block, BlockKind::Segment) };
            return false;
        }
        true
    }

    /// Makes `block` a segment: a record, page-map nodes, one free run.
    /// On success the metadata can still give a run's split
    /// ([`RUN_META`](super::RUN_META)) without a new chunk, so the caller
    /// carves from the segment without asking the source again.
    fn install_segment(&mut self, block: Block) -> bool {
        let base = block.base.as_ptr() as usize;
        // The page-map nodes, the two records and the caller's split come
        // from the same bump space: made sure of together. (Made sure of one
        // after the other, the nodes took the room promised to the records
        // whenever the chunk had just enough for the nodes: the segment was
        // given back and the request failed with nothing refused.)
        let records = size_of::<Segment>() + size_of::<Span>() + 32;
        let nodes = self.map.missing_bytes(base, block.size);
        if !self.ensure_meta(nodes + records + super::RUN_META)
            || !self.map.reserve(&mut self.meta, base, block.size)
        {
            return false;
        }
        let seg = self
            .meta
            .take(Pool::Segment, size_of::<Segment>())
            .cast::<Segment>();
        let run = self.meta.try_take_span(KIND_FREE);
        debug_assert!(!seg.is_null() && !run.is_null(), "room was made sure of");
        if seg.is_null() || run.is_null() {
            // SAFETY: taken just above and unused.
            unsafe {
                if !seg.is_null() {
                    self.meta.give(Pool::Segment, seg.cast());
                }
                if !run.is_null() {
                    self.meta.give_span(run);
                }
            }
            return false;
        }
        // SAFETY: fresh metadata objects; the block is ours and unused.
        unsafe {
            seg.write(Segment {
                block,
                used_pages: 0,
                span_pages: 0,
                has_pins: false,
                next: self.segments,
                prev: ptr::null_mut(),
            });
            if !self.segments.is_null() {
                (*self.segments).prev = seg;
            }
            (*run).base = block.base.as_ptr();
            (*run).pages = block.size / PAGE_SIZE;
            (*run).seg = seg;
            self.map.set_ends(base, (*run).pages, run);
            self.pages.insert(run);
        }
        self.segments = seg;
        self.segment_bytes += block.size;
        self.stats.segments += 1;
        true
    }

    /// A free run just became a whole segment: give the segment back,
    /// keeping one spare.
    ///
    /// # Safety
    /// `run` is a free run covering all of its segment.
    pub(super) unsafe fn segment_emptied(&mut self, run: *mut Span) {
        if self.single.is_some() {
            return;
        }
        // SAFETY: per the caller.
        unsafe {
            let seg = (*run).seg;
            let spare = self.spare_segment;
            if spare.is_null() || spare == seg || !self.segment_is_empty(spare) {
                self.spare_segment = seg;
                // Now that a spare is kept, segments left holding a few
                // small spans can go back once those empty: visit them all,
                // one per later page free (a bounded walk per call).
                self.remark = self.segments;
            } else if (*seg).block.size > (*spare).block.size {
                self.spare_segment = seg;
                self.release_segment(spare);
            } else {
                self.release_segment(seg);
            }
        }
    }

    /// A run was carved from its segment: count its pages; spans marked as
    /// pinning the segment no longer do.
    ///
    /// # Safety
    /// `r` is a run just carved from a live segment.
    pub(super) unsafe fn run_taken(&mut self, r: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            let seg = (*r).seg;
            if seg == self.spare_segment {
                self.spare_segment = ptr::null_mut();
            }
            (*seg).used_pages += (*r).pages;
            if (*seg).has_pins {
                (*seg).has_pins = false;
                self.for_each_run(seg, |s| (*s).pins.store(false, Ordering::Relaxed));
            }
        }
    }

    /// Pages freed in `seg`, which did not empty: if all it still holds is
    /// a few small spans, they are marked as pinning it, so each goes back
    /// when it empties even as its thread's current span, and the segment
    /// with them (only when a spare segment is already kept, since otherwise
    /// this one would become it). A span marked so that is still in use costs at most one
    /// extra trip to the shared heap: carving a new run from the segment
    /// clears the marks. O(runs of the segment), and only while it holds at most
    /// [`PIN_CHECK_PAGES`] pages.
    ///
    /// # Safety
    /// `seg` is a live segment.
    pub(super) unsafe fn mark_pinning_spans(&mut self, seg: *mut Segment) {
        // SAFETY: per the caller; the page map names live spans.
        unsafe {
            // Emptied, the segment would only become the kept spare (and
            // marking costs a walk): mark only when a spare is already kept.
            if (*seg).has_pins
                || (*seg).used_pages > PIN_CHECK_PAGES
                || (*seg).used_pages != (*seg).span_pages
                || self.spare_segment.is_null()
                || self.spare_segment == seg
                || !self.segment_is_empty(self.spare_segment)
            {
                return;
            }
            // Only small spans are left (the page counts say so): mark them.
            {
                (*seg).has_pins = true;
                self.pins_epoch = self.pins_epoch.wrapping_add(1);
                self.for_each_run(seg, |s| {
                    if (*s).kind == super::span::KIND_SMALL {
                        (*s).pins.store(true, Ordering::Relaxed);
                    }
                });
            }
        }
    }

    /// Calls `f` with every run of `seg`, in address order. O(runs).
    ///
    /// # Safety
    /// `seg` is a live segment.
    pub(super) unsafe fn for_each_run(&self, seg: *mut Segment, mut f: impl FnMut(*mut Span)) {
        // SAFETY: per the caller: runs tile the segment and the page map
        // names each on its first page.
        unsafe {
            let mut a = (*seg).block.base.as_ptr() as usize;
            let end = a + (*seg).block.size;
            while a < end {
                let s = self.map.get(a);
                f(s);
                a += (*s).pages.max(1) * PAGE_SIZE;
            }
        }
    }

    /// Calls `f` with every run of every segment. O(runs).
    pub(crate) fn for_each_span(&self, mut f: impl FnMut(*mut Span)) {
        let mut seg = self.segments;
        while !seg.is_null() {
            // SAFETY: the segment list holds live segments (under the lock).
            unsafe {
                self.for_each_run(seg, &mut f);
                seg = (*seg).next;
            }
        }
    }

    /// Whether a segment is one free run.
    pub(super) fn segment_is_empty(&self, seg: *mut Segment) -> bool {
        // SAFETY: live segments' first pages map to live spans.
        unsafe {
            let s = self.map.get((*seg).block.base.as_ptr() as usize);
            (*s).kind == KIND_FREE && (*s).pages == (*seg).pages()
        }
    }

    /// Gives an empty segment back to the source.
    ///
    /// # Safety
    /// `seg` is a live, empty segment.
    pub(super) unsafe fn release_segment(&mut self, seg: *mut Segment) {
        // SAFETY: per the caller: its only span is one free run.
        unsafe {
            let block = (*seg).block;
            let run = self.map.get(block.base.as_ptr() as usize);
            self.pages.remove(run);
            self.map.set_ends(
                block.base.as_ptr() as usize,
                (*run).pages,
                super::span::NONE,
            );
            self.meta.give_span(run);
            let (next, prev) = ((*seg).next, (*seg).prev);
            if !next.is_null() {
                (*next).prev = prev;
            }
            if prev.is_null() {
                self.segments = next;
            } else {
                (*prev).next = next;
            }
            if self.spare_segment == seg {
                self.spare_segment = ptr::null_mut();
            }
            if self.remark == seg {
                self.remark = (*seg).next;
            }
            self.meta.give(Pool::Segment, seg.cast());
            self.segment_bytes -= block.size;
            self.stats.segments -= 1;
            self.release(block, BlockKind::Segment);
        }
    }

    /// Single-block mode: obtains the one block (its first pages hold the
    /// metadata, the rest is the only segment). Fails once it exists.
    #[cold]
    fn add_single_block(&mut self) -> bool {
        if self.single.is_some() {
            return false;
        }
        let gran = self.source.granularity().max(PAGE_SIZE);
        let Some(size) = self.single_size.checked_next_multiple_of(gran) else {
            return false;
        };
        let Ok(block) = self.source.acquire(size, PAGE_SIZE, BlockKind::Segment) else {
            return false;
        };
        if self.single_meta_outside {
            // The whole block is the segment; records come from metadata
            // blocks as in the usual mode.
            self.single = Some(block);
            self.note_acquired(block, BlockKind::Segment);
            if !self.install_segment(block) {
                self.single = None;
                // SAFETY: the block was just acquired and is unused.
                unsafe { self.release(block, BlockKind::Segment) };
                return false;
            }
            return true;
        }
        // Room for the page map's leaves over the block, a descriptor per
        // 4 pages and thread heaps: generous, and far below the block.
        let meta = (size / 64)
            .clamp(64 << 10, 4 << 20)
            .next_multiple_of(PAGE_SIZE);
        if meta + SEGMENT_MIN > size {
            // SAFETY: the block was just acquired and is unused.
            unsafe { self.source.release(block) };
            return false;
        }
        self.single = Some(block);
        self.meta.seed(block.base.as_ptr(), meta);
        self.note_acquired(block, BlockKind::Segment);
        // `reserved` counts the whole block; `check` finds it as the
        // segment plus the metadata bytes `seed` recorded.
        // SAFETY: `meta < size`, so the rest of the block is non-empty.
        let rest = unsafe { block.base.add(meta) };
        self.install_segment(Block {
            base: rest,
            size: size - meta,
            handle: block.handle,
        })
    }

    /// Makes sure the metadata can give `bytes` without a new chunk,
    /// obtaining one if needed. False when none can be had.
    #[inline]
    pub(super) fn ensure_meta(&mut self, bytes: usize) -> bool {
        self.meta.room() >= bytes + 32 || self.add_meta_chunk(bytes)
    }

    /// `ensure_meta` when the current chunk is short: a new chunk (or, in
    /// single-block mode, the block's front).
    #[cold]
    #[inline(never)]
    fn add_meta_chunk(&mut self, bytes: usize) -> bool {
        if self.single_size != 0 && !self.single_meta_outside {
            // Single-block mode: all metadata is in the block's front.
            return self.single.is_none()
                && self.add_single_block()
                && self.meta.room() >= bytes + 32;
        }
        let gran = self.source.granularity_of(BlockKind::Meta).max(PAGE_SIZE);
        let size = self.meta.next_chunk_size(bytes).next_multiple_of(gran);
        match self.acquire_raw(size, BlockKind::Meta) {
            Some(block) => {
                // SAFETY: a fresh block, owned by the metadata from now on.
                unsafe { self.meta.add_chunk(block) };
                self.note_acquired(block, BlockKind::Meta);
                true
            }
            None => false,
        }
    }

    /// Page-map nodes for `[addr, addr + len)`.
    pub(super) fn reserve_map(&mut self, addr: usize, len: usize) -> bool {
        let need = self.map.missing_bytes(addr, len);
        need == 0 || (self.ensure_meta(need) && self.map.reserve(&mut self.meta, addr, len))
    }

    /// A block from the source within the limit (giving back cached memory
    /// and retrying once when refused).
    pub(super) fn acquire(&mut self, size: usize, kind: BlockKind) -> Option<Block> {
        let b = self.acquire_raw(size, kind).or_else(|| {
            if self.reclaim() {
                self.acquire_raw(size, kind)
            } else {
                None
            }
        })?;
        self.note_acquired(b, kind);
        Some(b)
    }

    fn acquire_raw(&mut self, size: usize, kind: BlockKind) -> Option<Block> {
        let limit = self.tunables.limit;
        if limit != 0 && self.stats.reserved.checked_add(size)? > limit {
            return None;
        }
        self.source.acquire(size, PAGE_SIZE, kind).ok()
    }

    /// Accounts for (and reports) a block just obtained from the source.
    fn note_acquired(&mut self, block: Block, kind: BlockKind) {
        self.released
            .reused(block.base.as_ptr() as usize, block.size);
        self.stats.reserved += block.size;
        self.stats.source_blocks += 1;
        if self.stats.reserved > self.stats.reserved_peak {
            self.stats.reserved_peak = self.stats.reserved;
        }
        self.notify(BLOCK_ACQUIRED, block, kind);
    }

    /// Gives a block back to the source, reporting it first.
    ///
    /// # Safety
    /// Nothing uses the block any more.
    pub(super) unsafe fn release(&mut self, block: Block, kind: BlockKind) {
        self.notify(BLOCK_RELEASED, block, kind);
        self.released.note(block.base.as_ptr() as usize, block.size);
        self.stats.reserved -= block.size;
        self.stats.source_blocks -= 1;
        // SAFETY: per the caller.
        unsafe { self.source.release(block) };
    }

    pub(super) fn notify(&self, event: core::ffi::c_int, block: Block, kind: BlockKind) {
        if let Some(hook) = self.block_hook {
            let info = BlockInfo {
                base: block.base.as_ptr().cast(),
                size: block.size,
                mem_type: self.source.mem_type_of(kind),
                uid: block.handle as i32,
                kind: match kind {
                    BlockKind::Segment => 0,
                    BlockKind::Large => 1,
                    BlockKind::Meta => 2,
                },
            };
            // SAFETY: the hook was installed by the program for this purpose.
            unsafe { hook(event, &info, self.hook_user) };
        }
    }

    /// Installs `hook` (with `user`, passed back on every call) and calls it
    /// with [`BLOCK_ACQUIRED`] for every block the heap already holds, so a
    /// program installing it late still sees them all. O(blocks held).
    pub fn set_block_hook(&mut self, hook: super::BlockHook, user: *mut core::ffi::c_void) {
        self.block_hook = hook;
        self.hook_user = user;
        if hook.is_none() {
            return;
        }
        // SAFETY: every list walked holds live structures of this heap.
        unsafe {
            let mut c = self.meta.chunks;
            while !c.is_null() {
                self.notify(BLOCK_ACQUIRED, (*c).block, BlockKind::Meta);
                c = (*c).next;
            }
            if let Some(b) = self.single {
                self.notify(BLOCK_ACQUIRED, b, BlockKind::Segment);
            } else {
                let mut seg = self.segments;
                while !seg.is_null() {
                    self.notify(BLOCK_ACQUIRED, (*seg).block, BlockKind::Segment);
                    seg = (*seg).next;
                }
            }
            let mut l = self.large;
            while !l.is_null() {
                self.notify(BLOCK_ACQUIRED, super::large::block_of(l), BlockKind::Large);
                l = (*l).next;
            }
        }
        if let Some(b) = self.spare_large {
            self.notify(BLOCK_ACQUIRED, b, BlockKind::Large);
        }
    }

    /// Puts the heap in single-block mode: on first use it obtains one block
    /// of `size` bytes and serves every allocation from it (large ones
    /// included); it never obtains another block nor gives that one back.
    /// For programs (vitaGL) that map the heap's memory for the GPU once.
    /// Returns false, changing nothing, if the heap already holds memory.
    pub fn set_single_block(&mut self, size: usize) -> bool {
        if self.stats.reserved != 0 || size == 0 {
            return false;
        }
        self.single_size = size;
        true
    }

    /// Single-block mode for a heap of out-of-band blocks (a fixed pool of
    /// GPU memory): the whole block is the segment, and the metadata comes
    /// from the source's metadata blocks, never from the block. Obtains the
    /// block now; false (changing nothing) if the heap already holds memory
    /// or the block cannot be had.
    pub fn set_fixed_block(&mut self, size: usize) -> bool {
        if !self.set_single_block(size) {
            return false;
        }
        self.single_meta_outside = true;
        if self.add_single_block() {
            return true;
        }
        self.single_size = 0;
        self.single_meta_outside = false;
        false
    }
}
