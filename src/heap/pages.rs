//! The page allocator: free page runs of every segment, found by size in
//! O(1) and merged with their free neighbours as soon as they are freed.
//!
//! ```text
//!  bins:   0..31   runs of exactly 1..=32 pages
//!          32..    four bins per doubling above 32 pages
//!  bitmap: bit b set <=> bins[b] is non-empty (words of usize: 32 bits on
//!          the Vita, where u64 shifts cost a dozen instructions each)
//!  a free run: a KIND_FREE span; the page map names it on its first and
//!  last page only (inner pages are NONE), which is all merging needs.
//! ```
//! Spans of small objects, medium blocks and the heap's single block all
//! come from here, so free space anywhere in any segment serves any of
//! them. Allocation looks at a bounded number of runs; freeing merges with
//! at most two neighbours. This module never calls the source; the
//! descriptors a split needs come from the metadata, which the heap has
//! made sure can give them (`Heap::ensure_meta`) before it calls `alloc`.
//!
//! Invariants (walked by `Heap::check`): no two free runs of one segment
//! are adjacent; a run is in the bin its size maps to; `free_pages` is the
//! sum of the runs' pages.

use super::check::{Broken, broken};
use super::config::PAGE_SIZE;
use super::meta::Meta;
use super::pagemap::PageMap;
use super::span::{self, KIND_FREE, KIND_SMALL, NO_OWNER, NONE, Span};
use core::ptr;
use core::sync::atomic::Ordering;

const EXACT: usize = 32;
const BINS: usize = EXACT + 4 * (usize::BITS as usize - 5);
/// Bits of one bitmap word.
const WORD: usize = usize::BITS as usize;
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
    bitmap: [usize; BINS.div_ceil(WORD)],
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
            bitmap: [0; BINS.div_ceil(WORD)],
            free_pages: 0,
            free_runs: 0,
        }
    }

    /// Puts the free run `r` in its bin.
    ///
    /// # Safety
    /// `r` is a KIND_FREE span in no bin.
    #[inline]
    pub unsafe fn insert(&mut self, r: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            self.link(r, bin_of((*r).pages));
            self.free_pages += (*r).pages;
        }
        self.free_runs += 1;
    }

    /// Takes the free run `r` out of its bin.
    ///
    /// # Safety
    /// `r` is in its bin.
    #[inline]
    pub unsafe fn remove(&mut self, r: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            self.unlink(r, bin_of((*r).pages));
            self.free_pages -= (*r).pages;
        }
        self.free_runs -= 1;
    }

    /// Links `r` into bin `b` (the counts are the caller's).
    ///
    /// # Safety
    /// `r` is a live KIND_FREE span in no bin.
    #[inline(always)]
    unsafe fn link(&mut self, r: *mut Span, b: usize) {
        // SAFETY: bins hold live free runs.
        unsafe { span::list_push(&mut self.bins[b], r) };
        self.bitmap[b / WORD] |= 1 << (b % WORD);
    }

    /// Unlinks `r` from bin `b` (the counts are the caller's).
    ///
    /// # Safety
    /// `r` is in bin `b`.
    #[inline(always)]
    unsafe fn unlink(&mut self, r: *mut Span, b: usize) {
        // SAFETY: bins hold live free runs.
        unsafe { span::list_unlink(&mut self.bins[b], r) };
        if self.bins[b].is_null() {
            self.bitmap[b / WORD] &= !(1 << (b % WORD));
        }
    }

    /// Moves the run `r`, in bin `old`, to the front of the bin of its
    /// (changed) size: the order `remove` then `insert` gives, so placement
    /// is the same, without the list updates when `r` already heads that
    /// bin.
    ///
    /// # Safety
    /// `r` is in bin `old`.
    #[inline(always)]
    unsafe fn rebin(&mut self, r: *mut Span, old: usize) {
        // SAFETY: per the caller.
        unsafe {
            let b = bin_of((*r).pages);
            if b != old || self.bins[b] != r {
                self.unlink(r, old);
                self.link(r, b);
            }
        }
    }

    /// A free run of at least `pages` pages, or null. O(1): a few runs of
    /// the request's own bin, then the first non-empty larger bin (a
    /// find-first-set per bitmap word).
    #[inline]
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
            let word = self.bitmap[b / WORD] >> (b % WORD);
            if word != 0 {
                let found = b + word.trailing_zeros() as usize;
                return self.bins[found];
            }
            b = (b / WORD + 1) * WORD;
        }
        ptr::null_mut()
    }

    /// Carves `pages` pages, starting at a multiple of `align` bytes (a
    /// power of two, at least PAGE_SIZE), out of some free run and returns
    /// the descriptor of the carved run (its `base`, `pages` and `seg` set,
    /// its kind still FREE and its page-map entries not yet set: they may
    /// still name the run it came from). The descriptors a split needs (at
    /// most two: the carved run, and the tail after an aligning lead) come
    /// from `meta`. Null when no run fits. O(1) plus the page-map updates of
    /// the remainders' ends.
    ///
    /// The common case, no lead: the pages come off the run's front and the
    /// run keeps its descriptor and, unless its size crosses into another
    /// bin, its place in its bin (one page-map entry rewritten).
    ///
    /// # Safety
    /// `meta` can give two span descriptors without a new chunk
    /// (`Heap::ensure_meta` for them succeeded, and nothing was taken
    /// since).
    #[inline]
    pub unsafe fn alloc(
        &mut self,
        map: &PageMap,
        meta: &mut Meta,
        pages: usize,
        align: usize,
    ) -> *mut Span {
        let slack = align / PAGE_SIZE - 1;
        let Some(want) = pages.checked_add(slack) else {
            return ptr::null_mut();
        };
        let r = self.find(want);
        if r.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `r` is a live free run; per the caller, `meta` has room
        // for the (at most two) descriptors taken below.
        unsafe {
            let base = (*r).base as usize;
            let lead = (base.wrapping_neg() & (align - 1)) / PAGE_SIZE;
            let total = (*r).pages;
            let tail = total - lead - pages;
            if lead == 0 {
                if tail == 0 {
                    self.remove(r);
                    return r; // the whole run, as it is
                }
                let c = meta.take_span(KIND_FREE);
                (*c).base = (*r).base;
                (*c).pages = pages;
                (*c).seg = (*r).seg;
                (*r).pages = tail;
                self.rebin(r, bin_of(total));
                self.free_pages -= pages;
                (*r).base = (*r).base.with_addr(base + pages * PAGE_SIZE);
                // Its last page still names it.
                map.set((*r).base as usize, 1, r);
                return c;
            }
            // `r` keeps the lead; the carved run and the tail take new
            // descriptors.
            self.remove(r);
            (*r).pages = lead;
            map.set_ends(base, lead, r);
            self.insert(r);
            let carved = meta.take_span(KIND_FREE);
            (*carved).base = (*r).base.with_addr(base + lead * PAGE_SIZE);
            (*carved).pages = pages;
            (*carved).seg = (*r).seg;
            if tail > 0 {
                let t = meta.take_span(KIND_FREE);
                (*t).base = (*r).base.with_addr(base + (lead + pages) * PAGE_SIZE);
                (*t).pages = tail;
                (*t).seg = (*r).seg;
                map.set_ends((*t).base as usize, tail, t);
                self.insert(t);
            }
            carved
        }
    }

    /// Turns the run of span `s` (in a segment) into free space, merging it
    /// with free neighbours of the same segment. Returns the resulting free
    /// run (in its bin). Descriptors merged away go back to `meta`.
    /// O(pages of `s`) for a small span (all its pages are mapped), O(1)
    /// for a medium block (only its end pages are).
    ///
    /// Page-map writes: a MEDIUM span's ends already name it and its inner
    /// pages are `NONE`, as a free run's must be (a SMALL span's inner pages
    /// are cleared first); so only the entries a merge makes inner, and the
    /// merged run's ends, are written.
    ///
    /// # Safety
    /// `s` is a live span of a segment whose memory nobody uses any more.
    pub unsafe fn free(&mut self, map: &PageMap, meta: &mut Meta, s: *mut Span) -> *mut Span {
        // SAFETY: neighbours found through the page map are live spans.
        unsafe {
            let base = (*s).base as usize;
            let pages = (*s).pages;
            let seg = (*s).seg;
            let end = base + pages * PAGE_SIZE;
            if (*s).kind == KIND_SMALL {
                if pages > 2 {
                    map.set(base + PAGE_SIZE, pages - 2, NONE);
                }
                (*s).owner.store(NO_OWNER, Ordering::Relaxed);
                (*s).class = 0xFF;
            }
            (*s).kind = KIND_FREE;
            self.free_pages += pages;
            self.free_runs += 1;
            // The left neighbour, when free, absorbs `s` and stays in its
            // bin until its final size is known.
            let mut run = s;
            let mut left_bin = usize::MAX;
            // Neither neighbour can be `s`: their pages lie outside its run.
            let left = map.get(base.wrapping_sub(PAGE_SIZE));
            if (*left).kind == KIND_FREE && (*left).seg == seg {
                debug_assert!(left != s);
                left_bin = bin_of((*left).pages);
                // Both pages are inside the merged run now.
                map.set(base - PAGE_SIZE, 1, NONE);
                map.set(base, 1, NONE);
                (*left).pages += pages;
                meta.give_span(s);
                self.free_runs -= 1;
                run = left;
            }
            let right = map.get(end);
            if (*right).kind == KIND_FREE && (*right).seg == seg {
                debug_assert!(right != s && right != run);
                self.unlink(right, bin_of((*right).pages));
                map.set(end - PAGE_SIZE, 1, NONE);
                map.set(end, 1, NONE);
                (*run).pages += (*right).pages;
                meta.give_span(right);
                self.free_runs -= 1;
                // The merged run's ends (its first page, when it is `s`,
                // may have been cleared just above).
                map.set_ends((*run).base as usize, (*run).pages, run);
            } else if run != s {
                map.set_ends((*run).base as usize, (*run).pages, run);
            }
            if run == s {
                self.link(run, bin_of((*run).pages));
            } else {
                self.rebin(run, left_bin);
            }
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
                meta.give_span(right);
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
            let bit = self.bitmap[b / WORD] >> (b % WORD) & 1 != 0;
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
