//! `Heap::check`: walks every structure of the heap and verifies every
//! invariant the other modules state. The one operation allowed to be slow
//! (O(heap size)); nothing else may call it on a hot path.
//!
//! Free lists of spans owned by other running threads are not walked (their
//! owners change them without the lock); the caller's own heap, the
//! allocator's own heap and abandoned spans are.

use super::Heap;
use super::classes::CLASS_COUNT;
use super::config::{DIRECT_MAX, PAGE_SIZE};
use super::segments::Segment;
use super::slots::SlotSums;
use super::span::{
    FLAGS, KIND_FREE, KIND_MEDIUM, KIND_SLOTS, KIND_SMALL, NO_OWNER, NONE, QUEUED, Span,
};
use crate::front::local::LocalHeap;
use crate::source::BlockSource;
use crate::sync::model::Ordering;
use core::fmt;

/// The first broken invariant [`Heap::check`] found: which structure and
/// what is wrong with it (`what`), and the address of the record, page or
/// object where it was seen (`at`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The structure and the invariant, in words.
    pub what: &'static str,
    /// Where: a span, segment, page, object or thread heap.
    pub at: usize,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {:#x})", self.what, self.at)
    }
}

/// `Err(Broken { what, at })`.
pub fn broken<T, P>(what: &'static str, at: *const P) -> Result<T, Broken> {
    Err(Broken {
        what,
        at: at as usize,
    })
}

impl<S: BlockSource> Heap<S> {
    /// Verifies every heap invariant: segments and their runs, the page
    /// map, the page allocator's bins, spans and their free lists, thread
    /// heaps' lists, abandoned spans, large blocks and the statistics.
    /// `me` is the caller's thread heap (its lists are walked too) or null.
    /// Returns a description of the first violation found. O(heap size).
    ///
    /// # Safety
    /// `me` is null or the caller's thread heap (or one whose thread cannot run).
    pub unsafe fn check(&mut self, me: *mut LocalHeap) -> Result<(), Broken> {
        self.pages.check()?;
        let me_id = LocalHeap::id(me);
        let (mut seg_bytes, mut segments, mut medium_pages, mut medium_blocks) = (0, 0, 0, 0);
        let mut seg = self.segments;
        let mut prev_seg: *mut Segment = core::ptr::null_mut();
        let mut slot_sums = SlotSums::default();
        // SAFETY: the walk follows the lists and the page map the heap
        // keeps; each step is validated before the next pointer is followed.
        unsafe {
            while !seg.is_null() {
                if (*seg).prev != prev_seg {
                    return broken("segment list links are broken", seg);
                }
                let base = (*seg).block.base.as_ptr() as usize;
                let end = base + (*seg).block.size;
                let mut a = base;
                let mut prev_free = false;
                let mut used_pages = 0;
                let mut span_pages = 0;
                while a < end {
                    let s = self.map.get(a);
                    if s == NONE || (*s).base as usize != a || (*s).seg != seg {
                        return broken(
                            "page map: a segment's run does not start where the last ended",
                            a as *const u8,
                        );
                    }
                    let pages = (*s).pages;
                    if pages == 0 || a + pages * PAGE_SIZE > end {
                        return broken("segment: a run leaves its segment", a as *const u8);
                    }
                    match (*s).kind {
                        KIND_FREE => {
                            if prev_free {
                                return broken(
                                    "page allocator: two adjacent free runs were not merged",
                                    a as *const u8,
                                );
                            }
                            for i in 1..pages {
                                let e = self.map.get(a + i * PAGE_SIZE);
                                let want = if i == pages - 1 { s } else { NONE };
                                if e != want {
                                    return broken(
                                        "page map: a free run's pages are marked wrongly",
                                        (a + i * PAGE_SIZE) as *const u8,
                                    );
                                }
                            }
                        }
                        KIND_SLOTS => {
                            // One or two pages: both ends, both mapped.
                            if pages > 1 && self.map.get(a + PAGE_SIZE) != s {
                                return broken(
                                    "page map: a slot span's pages are marked wrongly",
                                    (a + PAGE_SIZE) as *const u8,
                                );
                            }
                            self.check_slot_span(s, &mut slot_sums)?;
                        }
                        KIND_SMALL | KIND_MEDIUM => {
                            if (*s).kind == KIND_SMALL {
                                span_pages += pages;
                            }
                            // A small span maps every page; a medium block
                            // its ends only.
                            for i in 1..pages {
                                let want = if (*s).kind == KIND_SMALL || i == pages - 1 {
                                    s
                                } else {
                                    NONE
                                };
                                if self.map.get(a + i * PAGE_SIZE) != want {
                                    return broken(
                                        "page map: a span's or block's pages are marked wrongly",
                                        (a + i * PAGE_SIZE) as *const u8,
                                    );
                                }
                            }
                            if (*s).kind == KIND_MEDIUM {
                                if (*s).start != (*s).base {
                                    return broken(
                                        "medium block: its pointer is not its first page",
                                        s,
                                    );
                                }
                                medium_pages += pages;
                                medium_blocks += 1;
                            } else {
                                let o = (*s).owner.load(Ordering::Relaxed);
                                if o & !FLAGS == NO_OWNER || o & !FLAGS == me_id {
                                    Span::check_small(s)?;
                                }
                            }
                        }
                        _ => return broken("segment: a page has an impossible span kind", s),
                    }
                    prev_free = (*s).kind == KIND_FREE;
                    if !prev_free {
                        used_pages += pages;
                    }
                    a += pages * PAGE_SIZE;
                }
                if used_pages != (*seg).used_pages || span_pages != (*seg).span_pages {
                    return broken("segment: its count of pages in use is wrong", seg);
                }
                if slot_sums.kept_pages != 0 && slot_sums.kept_pages == used_pages {
                    return broken("slot spans: empty spans kept pin their segment", seg);
                }
                slot_sums.kept_pages = 0;
                seg_bytes += (*seg).block.size;
                segments += 1;
                prev_seg = seg;
                seg = (*seg).next;
            }
            for cls in 0..CLASS_COUNT {
                let mut s = self.abandoned[cls];
                while !s.is_null() {
                    if (*s).kind != KIND_SMALL
                        || (*s).class as usize != cls
                        || (*s).owner.load(Ordering::Relaxed) != NO_OWNER
                    {
                        return broken("abandoned spans: the list holds a wrong span", s);
                    }
                    s = (*s).next;
                }
            }
            if !me.is_null() {
                check_local(me)?;
            }
            let mut lh = self.locals;
            let mut prev: *mut LocalHeap = core::ptr::null_mut();
            while !lh.is_null() {
                if (*lh).prev != prev {
                    return broken("thread-heap registry: links are broken", lh);
                }
                prev = lh;
                lh = (*lh).next;
            }
        }
        self.check_slots(&slot_sums)?;
        let (large, large_bytes, large_use) = self.check_large()?;
        let spare = self.spare_large.map_or(0, |b| b.size);
        let st = self.stats;
        if seg_bytes != self.segment_bytes || segments != st.segments {
            return broken("statistics: segment count or bytes are wrong", self);
        }
        if large != st.large_blocks || large_use != self.large_bytes_in_use {
            return broken("statistics: large-block count or bytes are wrong", self);
        }
        if medium_pages != self.medium_pages || medium_blocks != self.medium_blocks {
            return broken("statistics: medium block count or pages are wrong", self);
        }
        if seg_bytes + large_bytes + spare + self.meta.bytes != st.reserved {
            return broken("statistics: reserved bytes are wrong", self);
        }
        let blocks = segments + large + self.spare_large.is_some() as usize + self.meta.blocks;
        if blocks != st.source_blocks {
            return broken("statistics: source block count is wrong", self);
        }
        if st.reserved > st.reserved_peak {
            return broken("statistics: a peak is below the current value", self);
        }
        Ok(())
    }
}

/// A thread heap's own lists. O(its spans).
///
/// # Safety
/// The caller owns `lh` (or its thread cannot run).
unsafe fn check_local(lh: *mut LocalHeap) -> Result<(), Broken> {
    // SAFETY: per the caller.
    unsafe {
        let id = LocalHeap::id(lh);
        for i in 0..(*lh).direct.len() {
            let size = i * 8;
            let cls = super::classes::class_of(size.min(DIRECT_MAX));
            if (*lh).direct[i] != (*lh).current[cls] {
                return broken(
                    "thread heap: a direct entry disagrees with its class's span",
                    lh,
                );
            }
        }
        // The remote stack: other threads push at its head meanwhile, but
        // what is below the head stays until the owner (the caller) takes
        // it. A span on it is never released (`Span::claim_for_release`).
        let mut s = (*lh).remote.load(Ordering::Acquire);
        let mut n = 0usize;
        while !s.is_null() {
            if (*s).kind != KIND_SMALL || (*s).owner.load(Ordering::Relaxed) & QUEUED == 0 {
                return broken(
                    "thread heap: its remote stack holds a span that was released",
                    s,
                );
            }
            n += 1;
            if n > 1 << 24 {
                return broken("thread heap: its remote stack loops", lh);
            }
            s = (*s).remote_next;
        }
        for cls in 0..CLASS_COUNT {
            let cur = (*lh).current[cls];
            if cur != NONE
                && ((*cur).kind != KIND_SMALL
                    || (*cur).class as usize != cls
                    || (*cur).owner.load(Ordering::Relaxed) & !QUEUED != id)
            {
                return broken("thread heap: a current span is wrong", cur);
            }
            let mut sp = (*lh).spare[cls];
            while !sp.is_null() {
                if sp == cur
                    || (*sp).class as usize != cls
                    || (*sp).owner.load(Ordering::Relaxed) & !QUEUED != id
                    || (*sp).used != 0
                {
                    return broken("thread heap: a spare span is wrong", sp);
                }
                sp = (*sp).next;
            }
            let mut s = (*lh).queue[cls];
            let mut prev: *mut Span = core::ptr::null_mut();
            while !s.is_null() {
                if (*s).prev != prev
                    || s == cur
                    || (*s).class as usize != cls
                    || (*s).owner.load(Ordering::Relaxed) & !QUEUED != id
                    || (*s).free.is_null()
                {
                    return broken(
                        "thread heap: a queue holds a wrong span or its links are broken",
                        s,
                    );
                }
                prev = s;
                s = (*s).next;
            }
        }
    }
    Ok(())
}
