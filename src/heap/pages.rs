//! The page allocator: free page runs of every segment, found by size in
//! O(1) and merged with their free neighbours as soon as they are freed.
//!
//! ```text
//!  bins:   0..31   runs of exactly 1..=32 pages
//!          32..    four bins per doubling above 32 pages
//!  bitmap: bit b set <=> bins[b] is non-empty
//!  a free run: a KIND_FREE span; the page map names it on its first and
//!  last page only (inner pages are NONE), which is all merging needs.
//! ```
//! Spans of small objects, medium blocks and the heap's single block all
//! come from here, so free space anywhere in any segment serves any of
//! them. Allocation looks at a bounded number of runs; freeing merges with
//! at most two neighbours. This module never calls the source and never
//! obtains descriptors itself: the heap passes in the ones a split needs.
//!
//! Invariants (walked by `Heap::check`): no two free runs of one segment
//! are adjacent; a run is in the bin its size maps to; `free_pages` is the
//! sum of the runs' pages.

use super::check::{Broken, broken};
use super::config::PAGE_SIZE;
use super::meta::{Meta, Pool};
use super::pagemap::PageMap;
use super::span::{self, KIND_FREE, KIND_SMALL, NO_OWNER, NONE, Span};
use core::ptr;
use core::sync::atomic::Ordering;

const EXACT: usize = 32;
const BINS: usize = EXACT + 4 * (usize::BITS as usize - 5);
/// Runs of a request's own (inexact) bin looked at before larger bins.
const OWN_BIN_PROBES: usize = 8;

#[inline]
fn bin_of(pages: usize) -> usize {
    if pages <= EXACT {
        pages - 1
    } else {
        let top = (usize::BITS - 1 - pages.leading_zeros()) as usize; // >= 5
        let quarter = (pages >> (top - 2)) & 3;
        EXACT + (top - 5) * 4 + quarter
    }
}

/// The free runs of all segments.
pub struct Pages {
    bins: [*mut Span; BINS],
    bitmap: [u64; BINS.div_ceil(64)],
    /// Pages in free runs.
    pub free_pages: usize,
    /// Free runs.
    pub free_runs: usize,
}

impl Pages {
    /// No free runs.
    pub const fn new() -> Self {
        Pages {
            bins: [ptr::null_mut(); BINS],
            bitmap: [0; BINS.div_ceil(64)],
            free_pages: 0,
            free_runs: 0,
        }
    }

    /// Puts the free run `r` in its bin.
    ///
    /// # Safety
    /// `r` is a KIND_FREE span in no bin.
    pub unsafe fn insert(&mut self, r: *mut Span) {
        // SAFETY: bins hold live free runs.
        unsafe {
            let b = bin_of((*r).pages);
            span::list_push(&mut self.bins[b], r);
            self.bitmap[b / 64] |= 1 << (b % 64);
            self.free_pages += (*r).pages;
            self.free_runs += 1;
        }
    }

    /// Takes the free run `r` out of its bin.
    ///
    /// # Safety
    /// `r` is in its bin.
    pub unsafe fn remove(&mut self, r: *mut Span) {
        // SAFETY: bins hold live free runs.
        unsafe {
            let b = bin_of((*r).pages);
            span::list_unlink(&mut self.bins[b], r);
            if self.bins[b].is_null() {
                self.bitmap[b / 64] &= !(1 << (b % 64));
            }
            self.free_pages -= (*r).pages;
            self.free_runs -= 1;
        }
    }

    /// A free run of at least `pages` pages, or null. O(1): a few runs of
    /// the request's own bin, then the first non-empty larger bin.
    fn find(&self, pages: usize) -> *mut Span {
        let b = bin_of(pages);
        // SAFETY: bins hold live free runs.
        unsafe {
            let mut r = self.bins[b];
            let mut n = 0;
            while !r.is_null() && n < OWN_BIN_PROBES {
                if (*r).pages >= pages {
                    return r;
                }
                r = (*r).next;
                n += 1;
            }
        }
        let mut b = b + 1;
        while b < BINS {
            let word = self.bitmap[b / 64] >> (b % 64);
            if word != 0 {
                let found = b + word.trailing_zeros() as usize;
                return self.bins[found];
            }
            b = (b / 64 + 1) * 64;
        }
        ptr::null_mut()
    }

    /// Carves `pages` pages, starting at a multiple of `align` bytes (a
    /// power of two, at least PAGE_SIZE), out of some free run and returns
    /// the descriptor of the carved run (its `base`, `pages` and `seg` set,
    /// its kind still FREE and its page-map entries not yet set). `spare`
    /// holds two blank descriptors the split may use; used ones are nulled.
    /// Null when no run fits. O(1) plus the page-map updates of the
    /// remainders' ends.
    pub fn alloc(
        &mut self,
        map: &PageMap,
        pages: usize,
        align: usize,
        spare: &mut [*mut Span; 2],
    ) -> *mut Span {
        let slack = align / PAGE_SIZE - 1;
        let Some(want) = pages.checked_add(slack) else {
            return ptr::null_mut();
        };
        let r = self.find(want);
        if r.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `r` is a live free run; spare descriptors are blank and ours.
        unsafe {
            self.remove(r);
            let base = (*r).base as usize;
            let lead = (base.wrapping_neg() & (align - 1)) / PAGE_SIZE;
            let total = (*r).pages;
            // `r` keeps the lead (if any); the carved run and the tail take
            // spare descriptors.
            let carved = if lead == 0 {
                r
            } else {
                (*r).pages = lead;
                map.set_ends(base, lead, r);
                self.insert(r);
                take(spare)
            };
            let tail = total - lead - pages;
            if tail > 0 {
                let t = take(spare);
                (*t).kind = KIND_FREE;
                (*t).base = (*r).base.with_addr(base + (lead + pages) * PAGE_SIZE);
                (*t).pages = tail;
                (*t).seg = (*r).seg;
                map.set_ends((*t).base as usize, tail, t);
                self.insert(t);
            }
            (*carved).kind = KIND_FREE;
            (*carved).base = (*r).base.with_addr(base + lead * PAGE_SIZE);
            (*carved).pages = pages;
            (*carved).seg = (*r).seg;
            carved
        }
    }

    /// Turns the run of span `s` (in a segment) into free space, merging it
    /// with free neighbours of the same segment. Returns the resulting free
    /// run (in its bin). Descriptors merged away go back to `meta`.
    /// O(pages of `s`) for a small span (all its pages are mapped), O(1)
    /// for a medium block (only its end pages are).
    ///
    /// # Safety
    /// `s` is a live span of a segment whose memory nobody uses any more.
    pub unsafe fn free(&mut self, map: &PageMap, meta: &mut Meta, s: *mut Span) -> *mut Span {
        // SAFETY: neighbours found through the page map are live spans.
        unsafe {
            let base = (*s).base as usize;
            if (*s).kind == KIND_SMALL {
                map.set(base, (*s).pages, NONE);
            } else {
                map.set_ends(base, (*s).pages, NONE);
            }
            (*s).kind = KIND_FREE;
            (*s).owner.store(NO_OWNER, Ordering::Relaxed);
            (*s).class = 0xFF;
            let mut run = s;
            let left = map.get(base.wrapping_sub(PAGE_SIZE));
            if (*left).kind == KIND_FREE && (*left).seg == (*s).seg && left != s {
                self.remove(left);
                map.set(base - PAGE_SIZE, 1, NONE);
                (*left).pages += (*s).pages;
                meta.give(Pool::Span, s.cast());
                run = left;
            }
            let end = (*run).end();
            let right = map.get(end);
            if (*right).kind == KIND_FREE && (*right).seg == (*run).seg && right != run {
                self.remove(right);
                map.set(end, 1, NONE);
                (*run).pages += (*right).pages;
                meta.give(Pool::Span, right.cast());
            }
            map.set_ends((*run).base as usize, (*run).pages, run);
            self.insert(run);
            run
        }
    }

    /// Grows the used run of span `s` in place by `extra` pages taken from
    /// the free run right after it, if that run is free and big enough.
    /// The grown pages are left for the caller to map. O(1).
    ///
    /// # Safety
    /// `s` is a live MEDIUM span of a segment.
    pub unsafe fn grow(
        &mut self,
        map: &PageMap,
        meta: &mut Meta,
        s: *mut Span,
        extra: usize,
    ) -> bool {
        // SAFETY: the neighbour found through the page map is a live span.
        unsafe {
            let end = (*s).end();
            let right = map.get(end);
            if (*right).kind != KIND_FREE || (*right).seg != (*s).seg || (*right).pages < extra {
                return false;
            }
            self.remove(right);
            map.set(end, 1, NONE);
            if (*right).pages == extra {
                meta.give(Pool::Span, right.cast());
            } else {
                (*right).base = (*right).base.with_addr(end + extra * PAGE_SIZE);
                (*right).pages -= extra;
                map.set_ends((*right).base as usize, (*right).pages, right);
                self.insert(right);
            }
            (*s).pages += extra;
            true
        }
    }

    /// Walks every bin: each run is free, in the right bin, and the counts
    /// add up. O(free runs).
    pub fn check(&self) -> Result<(), Broken> {
        let (mut pages, mut runs) = (0, 0);
        for (b, &head) in self.bins.iter().enumerate() {
            let mut r = head;
            let mut prev: *mut Span = ptr::null_mut();
            // SAFETY: bins hold live free runs.
            unsafe {
                while !r.is_null() {
                    if (*r).kind != KIND_FREE || bin_of((*r).pages) != b || (*r).prev != prev {
                        return broken(
                            "page allocator: a bin holds a wrong run or its links are broken",
                            r,
                        );
                    }
                    pages += (*r).pages;
                    runs += 1;
                    prev = r;
                    r = (*r).next;
                }
            }
            let bit = self.bitmap[b / 64] >> (b % 64) & 1 != 0;
            if bit == head.is_null() {
                return broken("page allocator: its bitmap disagrees with the bins", self);
            }
        }
        if pages != self.free_pages || runs != self.free_runs {
            return broken("page allocator: its free page counts are wrong", self);
        }
        Ok(())
    }
}

/// Takes one of the spare descriptors.
fn take(spare: &mut [*mut Span; 2]) -> *mut Span {
    for s in spare.iter_mut() {
        if !s.is_null() {
            return core::mem::take(s);
        }
    }
    unreachable!("a split needs at most two descriptors")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_monotonic() {
        let mut last = 0;
        // Under Miri, the bins of small runs (the arithmetic is the same).
        for p in 1..if cfg!(miri) { 5_000 } else { 100_000 } {
            let b = bin_of(p);
            assert!(b >= last && b < BINS, "pages {p}");
            last = b;
        }
    }
}
