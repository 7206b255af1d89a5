//! Large blocks: one source block each, described by a LARGE span in the
//! metadata (nothing is written into the block), given back on free.
//!
//! ```text
//!  source block:  | pad to the alignment | user memory ...            |
//!                 ^ base (page-aligned)   ^ start (aligned as asked)
//!  page map: pages base ..= start's page ─► the LARGE span
//! ```
//! One freed block of at most the trim threshold is kept for the next large
//! request it suits. This module lays blocks out and keeps their list; the
//! heap's segment code obtains and releases them.

use super::Heap;
use super::check::{Broken, broken};
use super::config::{MIN_ALIGN, PAGE_SIZE};
use super::span::{self, KIND_LARGE, NONE, Span};
use crate::source::{Block, BlockKind, BlockSource};
use core::ptr::{self, NonNull};

/// The source block a LARGE span describes.
///
/// # Safety
/// `l` is a live LARGE span.
pub unsafe fn block_of(l: *mut Span) -> Block {
    // SAFETY: per the caller.
    unsafe {
        Block {
            base: NonNull::new_unchecked((*l).base),
            size: (*l).bytes(),
            handle: (*l).seg.addr(),
        }
    }
}

/// Usable bytes at the user pointer of a LARGE span.
///
/// # Safety
/// `l` is a live LARGE span.
pub unsafe fn usable(l: *mut Span) -> usize {
    // SAFETY: per the caller.
    unsafe { (*l).end() - (*l).start as usize }
}

/// Pages mapped to a LARGE span: from its base through the user pointer's.
///
/// # Safety
/// `l` is a live LARGE span.
unsafe fn marked_pages(l: *mut Span) -> usize {
    // SAFETY: per the caller.
    unsafe { ((*l).start as usize - (*l).base as usize) / PAGE_SIZE + 1 }
}

impl<S: BlockSource> Heap<S> {
    /// A large block for `size` bytes aligned to `align`; null when out of
    /// memory. Out of line: it calls the source anyway, and inlined it
    /// would give the medium path its large stack frame.
    #[inline(never)]
    pub(super) fn alloc_large(&mut self, size: usize, align: usize) -> *mut u8 {
        let gran = self.source.granularity().max(PAGE_SIZE);
        let slack = align.saturating_sub(PAGE_SIZE);
        let Some(bytes) = size
            .max(1)
            .checked_add(slack)
            .and_then(|b| super::align_up(b, gran))
        else {
            return ptr::null_mut();
        };
        if !self.ensure_meta(size_of::<Span>() + 64) {
            return ptr::null_mut();
        }
        let block = match self.spare_large {
            Some(b) if b.size >= bytes && b.size / 2 <= bytes => {
                self.spare_large = None;
                b
            }
            _ => match self.acquire(bytes, BlockKind::Large) {
                Some(b) => b,
                None => {
                    // The cached spare may be what stands between us and
                    // the limit or the kernel's budget: drop it and retry.
                    let Some(spare) = self.spare_large.take() else {
                        return ptr::null_mut();
                    };
                    // SAFETY: the spare is an unused block from the source.
                    unsafe { self.release(spare, BlockKind::Large) };
                    match self.acquire(bytes, BlockKind::Large) {
                        Some(b) => b,
                        None => return ptr::null_mut(),
                    }
                }
            },
        };
        let base = block.base.as_ptr() as usize;
        let align = align.max(MIN_ALIGN);
        let user = base + (base.wrapping_neg() & (align - 1));
        let pages_marked = (user - base) / PAGE_SIZE + 1;
        let l = self.meta.try_take_span(KIND_LARGE);
        if l.is_null() || !self.reserve_map(base, pages_marked * PAGE_SIZE) {
            if !l.is_null() {
                // SAFETY: the descriptor was just taken and is unused.
                unsafe { self.meta.give_span(l) };
            }
            // SAFETY: the block is unused.
            unsafe { self.release(block, BlockKind::Large) };
            return ptr::null_mut();
        }
        // SAFETY: a fresh descriptor; the list holds live LARGE spans.
        unsafe {
            (*l).base = block.base.as_ptr();
            (*l).pages = block.size / PAGE_SIZE;
            (*l).start = block.base.as_ptr().with_addr(user);
            // The handle is a number (a memblock uid), kept in the
            // segment's field of a span that has no segment.
            (*l).seg = ptr::without_provenance_mut(block.handle);
            span::list_push(&mut self.large, l);
            self.map.set(base, pages_marked, l);
        }
        self.stats.large_blocks += 1;
        // SAFETY: `l` was just made.
        self.large_bytes_in_use += unsafe { usable(l) };
        block.base.as_ptr().with_addr(user)
    }

    /// Frees a large block: the spare keeps it if it is small enough,
    /// otherwise it goes back to the source.
    ///
    /// # Safety
    /// `l` is a live LARGE span of this heap.
    #[inline(never)]
    pub(super) unsafe fn free_large(&mut self, l: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            span::list_unlink(&mut self.large, l);
            let block = block_of(l);
            self.large_bytes_in_use -= usable(l);
            self.map
                .set(block.base.as_ptr() as usize, marked_pages(l), NONE);
            self.meta.give_span(l);
            self.stats.large_blocks -= 1;
            if self.spare_large.is_none() && block.size <= self.tunables.trim_threshold {
                self.spare_large = Some(block);
            } else {
                self.release(block, BlockKind::Large);
            }
        }
    }

    /// Walks the large-block list. Returns (blocks, bytes, usable bytes).
    pub(super) fn check_large(&self) -> Result<(usize, usize, usize), Broken> {
        let (mut n, mut bytes, mut use_) = (0, 0, 0);
        let mut l = self.large;
        let mut prev: *mut Span = ptr::null_mut();
        // SAFETY: the list holds live LARGE spans.
        unsafe {
            while !l.is_null() {
                if (*l).kind != KIND_LARGE || (*l).prev != prev {
                    return broken("large blocks: the list is broken", l);
                }
                for i in 0..marked_pages(l) {
                    if self.map.get((*l).base as usize + i * PAGE_SIZE) != l {
                        return broken("page map: a large block's page is not marked", l);
                    }
                }
                n += 1;
                bytes += (*l).bytes();
                use_ += usable(l);
                prev = l;
                l = (*l).next;
            }
        }
        Ok((n, bytes, use_))
    }
}
