//! Medium blocks (above the largest size class, below the large threshold):
//! whole page runs from the page allocator, resized in place when the pages
//! after them are free; and the dispatch between medium and large blocks.
//! Nothing of a block is written into its memory: its span describes it.

use super::config::*;
use super::large;
use super::span::{KIND_FREE, KIND_LARGE, KIND_MEDIUM, NONE, Span};
use super::{Heap, Misuse};
use crate::source::BlockSource;
use core::ptr;

impl<S: BlockSource> Heap<S> {
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
            // Only the end pages: O(1) whatever the block's size (the
            // interior stays unmapped; `Heap::misuse_outside` tells an
            // interior pointer from free memory).
            self.map.set_ends((*s).base as usize, pages, s);
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
                // Freed meanwhile by another thread: a double free.
                KIND_FREE => Err(Misuse::in_free_run(p)),
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
                let t = self.meta.take_span(KIND_MEDIUM);
                (*t).base = (*s).base.add(want * PAGE_SIZE);
                (*t).pages = have - want;
                (*t).seg = (*s).seg;
                (*s).pages = want;
                self.medium_pages -= have - want;
                self.map.set_ends((*s).base as usize, want, s);
                self.map.set_ends((*t).base as usize, have - want, t);
                self.free_run(t);
                return true;
            }
            if self.pages.grow(&self.map, &mut self.meta, s, want - have) {
                // The old last page is interior now (unless it is the first).
                if have > 1 {
                    self.map
                        .set((*s).base as usize + (have - 1) * PAGE_SIZE, 1, NONE);
                }
                self.map.set_ends((*s).base as usize, want, s);
                self.medium_pages += want - have;
                (*(*s).seg).used_pages += want - have;
                return true;
            }
            false
        }
    }
}
