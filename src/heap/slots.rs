//! Slot spans: blocks smaller than a page for heaps that must never touch
//! the memory they manage ([`crate::blocks::BlockHeap`]: GPU memory).
//!
//! ```text
//!  span (KIND_SLOTS, class c) ──► bitmap record (metadata, main memory)
//!  pages:  | slot 0 | slot 1 | ... | slot cap-1 | (slack) |
//!          ^ base = start; slot i at base + i * SLOT_SIZE[c]
//! ```
//! The size classes' objects keep their free-list links inside the free
//! objects, which a heap of GPU memory cannot do; a slot span keeps one bit
//! per slot in a record of its own instead (1: allocated), so a 64-byte
//! uniform buffer costs 64 bytes of CDRAM instead of a 4 KiB page, and
//! nothing of the heap lives in the memory. Slots are aligned to the
//! largest power of two dividing their size (spans start on a page): 16
//! bytes at least, 2 KiB for the 2 KiB class.
//!
//! Invariants (walked by `Heap::check`):
//! - a slot span has `SLOT_PAGES[class]` pages (1 or 2, so both are its
//!   ends and the page allocator's `set_ends` maps and unmaps all of them),
//!   `cap` slots, `used` bits set in its bitmap and none at or past `cap`;
//! - it is on its class's `partial` list exactly while `used < cap`;
//! - `Slots::live`, `live_bytes`, `spans` and `pages` are the sums over
//!   the slot spans;
//! - an empty span is kept only while it is its class's only partial span
//!   (`Slots::kept` counts them), and never when the empty spans kept are
//!   all that is used in their segment: they would pin it (the page
//!   allocator's `free_run` releases them then, as it marks the small
//!   spans pinning a segment).
//!
//! Cost: allocation and free are O(1): the class's first partial span, a
//! scan of at most `MAX_SLOTS / usize::BITS` bitmap words, a page run from
//! the page allocator when a class has no partial span. The records are a
//! span descriptor and a bitmap record (both `size_of::<Span>()` bytes)
//! per 1–2 pages of slots. This module never runs without the heap's lock
//! and never reads or writes a slot.

use super::check::{Broken, broken};
use super::classes;
use super::config::PAGE_SIZE;
use super::meta::Pool;
use super::segments::Segment;
use super::span::{self, KIND_SLOTS, Span};
use super::{Heap, Misuse};
use crate::source::BlockSource;
use core::ptr;

/// Slot sizes: powers of two and the halfway sizes between them.
pub const SLOT_SIZE: [u16; SLOT_CLASSES] = [
    16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048,
];
/// Number of slot classes.
pub const SLOT_CLASSES: usize = 14;
/// The largest block served from slots; larger ones take page runs.
pub const SLOT_MAX: usize = SLOT_SIZE[SLOT_CLASSES - 1] as usize;
/// Most slots in one span (16-byte slots in one page).
const MAX_SLOTS: usize = PAGE_SIZE / 16;
/// Bitmap words per span.
const WORDS: usize = MAX_SLOTS / usize::BITS as usize;

/// Pages of a span of each class: one, or two when one page would leave
/// more than 1/16 of it unused (1536-byte slots: five in two pages).
pub const SLOT_PAGES: [u8; SLOT_CLASSES] = {
    let mut t = [0u8; SLOT_CLASSES];
    let mut i = 0;
    while i < SLOT_CLASSES {
        let size = SLOT_SIZE[i] as usize;
        t[i] = if PAGE_SIZE % size <= PAGE_SIZE / 16 {
            1
        } else {
            2
        };
        i += 1;
    }
    t
};

/// The alignment every slot of class `c` has: the largest power of two
/// dividing its size.
pub const fn slot_align(c: usize) -> usize {
    let s = SLOT_SIZE[c] as usize;
    s & s.wrapping_neg()
}

/// The smallest slot class holding `size` bytes aligned to `align` (a
/// power of two), or None when the block should be a page run.
pub fn slot_class(size: usize, align: usize) -> Option<usize> {
    if size > SLOT_MAX {
        return None;
    }
    (0..SLOT_CLASSES).find(|&c| SLOT_SIZE[c] as usize >= size && slot_align(c) >= align)
}

/// The slot spans' shared state, part of the heap.
pub struct Slots {
    /// Spans with a free slot, per class (linked by `next`/`prev`).
    partial: [*mut Span; SLOT_CLASSES],
    /// Slots allocated, and their bytes (slot sizes).
    live: usize,
    live_bytes: usize,
    /// Slot spans and their pages.
    spans: usize,
    pages: usize,
    /// Empty spans kept (each its class's only partial span).
    kept: usize,
}

impl Slots {
    /// No slot span.
    pub const fn new() -> Self {
        Slots {
            partial: [ptr::null_mut(); SLOT_CLASSES],
            live: 0,
            live_bytes: 0,
            spans: 0,
            pages: 0,
            kept: 0,
        }
    }

    /// Slots allocated.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Bytes of the slots allocated.
    pub fn live_bytes(&self) -> usize {
        self.live_bytes
    }
}

/// What `Heap::check` finds walking the slot spans of the segments.
#[derive(Default)]
pub(super) struct SlotSums {
    /// Empty spans kept, and their pages in the segment being walked (the
    /// walk resets it per segment).
    kept: usize,
    pub kept_pages: usize,
    live: usize,
    live_bytes: usize,
    spans: usize,
    pages: usize,
    /// Spans with a free slot, per class.
    partial: [usize; SLOT_CLASSES],
}

/// The bitmap of a slot span (`free` holds its record's address).
///
/// # Safety
/// `s` is a live slot span.
#[inline(always)]
unsafe fn bitmap(s: *mut Span) -> *mut [usize; WORDS] {
    // SAFETY: per the caller.
    unsafe { (*s).free.cast() }
}

impl<S: BlockSource> Heap<S> {
    /// A slot of class `cls`, or null when out of memory. Counted as a
    /// call.
    pub fn alloc_slot(&mut self, cls: usize) -> *mut u8 {
        self.stats.block_mallocs += 1;
        let mut s = self.slots.partial[cls];
        if s.is_null() {
            s = self.new_slot_span(cls);
            if s.is_null() {
                self.stats.failed_calls += 1;
                return ptr::null_mut();
            }
        }
        // SAFETY: a partial span of ours has a clear bit below `cap`.
        unsafe {
            if (*s).used == 0 {
                self.slots.kept -= 1;
            }
            let bits = &mut *bitmap(s);
            let w = bits.iter().position(|&w| w != usize::MAX).unwrap_or(0);
            let i = w * usize::BITS as usize + bits[w].trailing_ones() as usize;
            debug_assert!(i < (*s).cap as usize);
            bits[w] |= 1 << (i % usize::BITS as usize);
            (*s).used += 1;
            if (*s).used == (*s).cap {
                span::list_unlink(&mut self.slots.partial[cls], s);
            }
            let size = SLOT_SIZE[cls] as usize;
            self.slots.live += 1;
            self.slots.live_bytes += size;
            (*s).start.add(i * size)
        }
    }

    /// A fresh span of class `cls` on its partial list, or null when out
    /// of memory.
    #[cold]
    #[inline(never)]
    fn new_slot_span(&mut self, cls: usize) -> *mut Span {
        if !self.ensure_meta(size_of::<Span>() + 64) {
            return ptr::null_mut();
        }
        let bits = self.meta.take(Pool::Bits, size_of::<Span>());
        let pages = SLOT_PAGES[cls] as usize;
        let s = self.alloc_run(pages, PAGE_SIZE);
        if s.is_null() {
            // SAFETY: just taken, unused.
            unsafe { self.meta.give(Pool::Bits, bits) };
            return ptr::null_mut();
        }
        let size = SLOT_SIZE[cls] as usize;
        // SAFETY: a fresh run of ours; the bitmap record is zeroed.
        unsafe {
            (*s).kind = KIND_SLOTS;
            (*s).class = cls as u8;
            (*s).start = (*s).base;
            (*s).free = bits.cast();
            (*s).used = 0;
            (*s).cap = (pages * PAGE_SIZE / size) as u32;
            (*s).recip = classes::recip(size);
            self.map.set_ends((*s).base as usize, pages, s);
            span::list_push(&mut self.slots.partial[cls], s);
        }
        self.slots.spans += 1;
        self.slots.pages += pages;
        self.slots.kept += 1;
        s
    }

    /// The slot index of `p` in the slot span `s`, or what `p` is not.
    ///
    /// # Safety
    /// `s` is a live slot span.
    unsafe fn slot_index(s: *mut Span, p: *mut u8) -> Result<usize, Misuse> {
        // SAFETY: per the caller.
        unsafe {
            let off = (p as usize).wrapping_sub((*s).start as usize);
            if !classes::is_object_start(off, (*s).recip) {
                return Err(Misuse::InvalidPointer);
            }
            // Exact for offsets below 64 KiB (classes::recip).
            let i = ((off as u64 * (*s).recip as u64) >> 32) as usize;
            if i >= (*s).cap as usize {
                return Err(Misuse::InvalidPointer);
            }
            let w = (*bitmap(s))[i / usize::BITS as usize];
            if w & (1 << (i % usize::BITS as usize)) == 0 {
                return Err(Misuse::DoubleFree);
            }
            Ok(i)
        }
    }

    /// Usable bytes of the slot at `p` (its slot size).
    ///
    /// # Safety
    /// `s` is the page map's span of `p`, a slot span.
    pub unsafe fn slot_usable(&self, s: *mut Span, p: *mut u8) -> Result<usize, Misuse> {
        // SAFETY: per the caller.
        unsafe {
            Self::slot_index(s, p)?;
            Ok(SLOT_SIZE[(*s).class as usize] as usize)
        }
    }

    /// Frees the slot at `p` (or reports what `p` is not). Counted.
    ///
    /// # Safety
    /// `s` is the page map's span of `p`, a slot span.
    pub unsafe fn free_slot(&mut self, s: *mut Span, p: *mut u8) -> Result<(), Misuse> {
        // SAFETY: per the caller; the span's lists are the heap's.
        unsafe {
            let i = Self::slot_index(s, p)?;
            (*bitmap(s))[i / usize::BITS as usize] &= !(1 << (i % usize::BITS as usize));
            let cls = (*s).class as usize;
            if (*s).used == (*s).cap {
                // Listed again; an empty span kept is not needed beside it.
                let head = self.slots.partial[cls];
                if !head.is_null() && (*head).used == 0 {
                    self.detach_slot_span(head);
                    self.free_run(head);
                }
                span::list_push(&mut self.slots.partial[cls], s);
            }
            (*s).used -= 1;
            self.slots.live -= 1;
            self.slots.live_bytes -= SLOT_SIZE[cls] as usize;
            self.stats.block_frees += 1;
            if (*s).used == 0 {
                self.slots.kept += 1;
                // Kept only as its class's only partial span (the next slot
                // of the class would need a span again).
                if self.slots.partial[cls] != s || !(*s).next.is_null() {
                    self.detach_slot_span(s);
                    self.free_run(s);
                } else {
                    self.release_pinning_slot_spans((*s).seg);
                }
            }
        }
        Ok(())
    }

    /// Takes the empty slot span `s` out of the slot spans (its list, its
    /// bitmap record, the counts); its run is the caller's to free.
    ///
    /// # Safety
    /// `s` is a live, empty slot span (on its partial list).
    unsafe fn detach_slot_span(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            span::list_unlink(&mut self.slots.partial[(*s).class as usize], s);
            self.meta.give(Pool::Bits, (*s).free.cast());
            (*s).free = ptr::null_mut();
            self.slots.spans -= 1;
            self.slots.pages -= (*s).pages;
            self.slots.kept -= 1;
        }
    }

    /// The empty slot spans kept in `seg` (`seg` null: in any segment), at
    /// most one per class, and their pages.
    fn kept_slot_spans(&self, seg: *mut Segment) -> ([*mut Span; SLOT_CLASSES], usize) {
        let mut found = [ptr::null_mut(); SLOT_CLASSES];
        let mut pages = 0;
        for (cls, f) in found.iter_mut().enumerate() {
            let s = self.slots.partial[cls];
            // SAFETY: partial spans are live.
            unsafe {
                if !s.is_null() && (*s).used == 0 && (seg.is_null() || (*s).seg == seg) {
                    *f = s;
                    pages += (*s).pages;
                }
            }
        }
        (found, pages)
    }

    /// Frees the empty slot spans kept in the live segment `seg` if they
    /// are all it holds (kept, they would pin it). O(slot classes), and
    /// only while spans are kept: the page allocator calls it whenever a
    /// segment's use falls.
    ///
    /// # Safety
    /// `seg` is a live segment.
    #[inline(always)]
    pub(super) unsafe fn release_pinning_slot_spans(&mut self, seg: *mut Segment) {
        if self.slots.kept != 0 {
            // SAFETY: forwarded.
            unsafe { self.release_pinning_slot_spans_cold(seg) };
        }
    }

    /// `release_pinning_slot_spans` once spans are kept.
    ///
    /// # Safety
    /// `seg` is a live segment.
    #[cold]
    #[inline(never)]
    unsafe fn release_pinning_slot_spans_cold(&mut self, seg: *mut Segment) {
        let (found, pages) = self.kept_slot_spans(seg);
        // SAFETY: per the caller; the spans found are live and empty.
        unsafe {
            if pages == 0 || pages != (*seg).used_pages {
                return;
            }
            // All detached first: the frees below see no kept span here.
            for &s in found.iter().filter(|s| !s.is_null()) {
                self.detach_slot_span(s);
            }
            for &s in found.iter().filter(|s| !s.is_null()) {
                self.free_run(s);
            }
        }
    }

    /// Gives the empty slot spans kept back to the page allocator (trim).
    /// O(slot classes).
    pub(super) fn release_empty_slot_spans(&mut self) {
        let (found, _) = self.kept_slot_spans(ptr::null_mut());
        for &s in found.iter().filter(|s| !s.is_null()) {
            // SAFETY: a live, empty span on its partial list.
            unsafe {
                self.detach_slot_span(s);
                self.free_run(s);
            }
        }
    }

    /// Verifies the slot span `s` (met at its place in a segment) and adds
    /// it to `sums`. O(bitmap words).
    ///
    /// # Safety
    /// `s` is a live span of kind SLOTS.
    pub(super) unsafe fn check_slot_span(
        &self,
        s: *mut Span,
        sums: &mut SlotSums,
    ) -> Result<(), Broken> {
        // SAFETY: per the caller.
        unsafe {
            let cls = (*s).class as usize;
            if cls >= SLOT_CLASSES
                || (*s).pages != SLOT_PAGES[cls] as usize
                || (*s).start != (*s).base
                || (*s).cap as usize != (*s).bytes() / SLOT_SIZE[cls] as usize
                || (*s).free.is_null()
            {
                return broken("slot span: bad class, pages or bitmap", s);
            }
            let cap = (*s).cap as usize;
            let mut set = 0;
            for (w, &bits) in (*bitmap(s)).iter().enumerate() {
                let first = w * usize::BITS as usize;
                let valid = cap.saturating_sub(first).min(usize::BITS as usize);
                let mask = if valid == usize::BITS as usize {
                    usize::MAX
                } else {
                    (1usize << valid) - 1
                };
                if bits & !mask != 0 {
                    return broken("slot span: a bit past its last slot is set", s);
                }
                set += bits.count_ones() as usize;
            }
            if set != (*s).used as usize {
                return broken("slot span: its used count disagrees with its bitmap", s);
            }
            let cls_head = self.slots.partial[cls];
            if (*s).used == 0 {
                if cls_head != s || !(*s).next.is_null() {
                    return broken("slot span: an empty span was kept beside another", s);
                }
                sums.kept += 1;
                sums.kept_pages += (*s).pages;
            }
            sums.live += set;
            sums.live_bytes += set * SLOT_SIZE[cls] as usize;
            sums.spans += 1;
            sums.pages += (*s).pages;
            if (*s).used < (*s).cap {
                sums.partial[cls] += 1;
            }
        }
        Ok(())
    }

    /// Verifies the partial lists and the totals against `sums`, what the
    /// walk over the segments found. O(slot spans).
    pub(super) fn check_slots(&self, sums: &SlotSums) -> Result<(), Broken> {
        for cls in 0..SLOT_CLASSES {
            let mut n = 0usize;
            let mut prev: *mut Span = ptr::null_mut();
            let mut s = self.slots.partial[cls];
            // SAFETY: list members are live spans (each checked before the
            // next link is followed).
            unsafe {
                while !s.is_null() {
                    if (*s).kind != KIND_SLOTS
                        || (*s).class as usize != cls
                        || (*s).prev != prev
                        || (*s).used >= (*s).cap
                    {
                        return broken("slot spans: a partial list holds a wrong span", s);
                    }
                    n += 1;
                    if n > self.slots.spans {
                        return broken("slot spans: a partial list loops", s);
                    }
                    prev = s;
                    s = (*s).next;
                }
            }
            if n != sums.partial[cls] {
                return broken("slot spans: a span with a free slot is not listed", self);
            }
        }
        let t = &self.slots;
        if (t.live, t.live_bytes, t.spans, t.pages, t.kept)
            != (
                sums.live,
                sums.live_bytes,
                sums.spans,
                sums.pages,
                sums.kept,
            )
        {
            return broken("statistics: slot counts are wrong", self);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "arithmetic only; 60 000 steps interpreted")]
    fn classes_hold_their_sizes_aligned() {
        for c in 0..SLOT_CLASSES {
            let size = SLOT_SIZE[c] as usize;
            assert!(slot_align(c) >= 16 && size % slot_align(c) == 0);
            let pages = SLOT_PAGES[c] as usize;
            let cap = pages * PAGE_SIZE / size;
            assert!((2..=MAX_SLOTS).contains(&cap), "class {size}");
            assert!(pages * PAGE_SIZE - cap * size <= pages * PAGE_SIZE / 16);
            // The reciprocal tells every slot start in the span.
            let r = classes::recip(size);
            for off in 0..pages * PAGE_SIZE {
                let start = off % size == 0;
                assert_eq!(classes::is_object_start(off, r), start, "{size} {off}");
                if start {
                    assert_eq!(((off as u64 * r as u64) >> 32) as usize, off / size);
                }
            }
        }
        assert_eq!(slot_class(0, 16), Some(0));
        assert_eq!(slot_class(17, 16), Some(1));
        assert_eq!(slot_class(40, 16), Some(2));
        assert_eq!(slot_class(40, 64), Some(3));
        assert_eq!(slot_class(100, 256), Some(7));
        assert_eq!(slot_class(1500, 1024), Some(13));
        assert_eq!(slot_class(2048, 2048), Some(13));
        assert_eq!(slot_class(16, 4096), None);
        assert_eq!(slot_class(2049, 16), None);
    }
}
