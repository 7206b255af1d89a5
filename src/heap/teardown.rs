//! Giving everything back: the end of a heap object (`vitalloc_heap_destroy`).
//!
//! Every segment, large block, kept block and metadata chunk goes back to
//! the source, each reported to the block hook first, so a program that
//! mapped them for the GPU unmaps them all. The heap must never be used
//! afterwards: its records went back with the metadata.

use super::Heap;
use super::large;
use super::span::Span;
use crate::source::{BlockKind, BlockSource};

impl<S: BlockSource> Heap<S> {
    /// Releases every block the heap holds and returns how many allocations
    /// were still live (their memory is gone too). O(segments + large
    /// blocks + metadata chunks).
    ///
    /// # Safety
    /// Nothing uses the heap or any of its blocks again; no thread heap
    /// (per-thread front) is attached to it.
    pub unsafe fn release_all(&mut self) -> usize {
        let live = self.stats().allocations;
        // SAFETY: per the caller; each record is read before the block or
        // chunk holding it goes back, metadata chunks last.
        unsafe {
            let mut seg = self.segments;
            while !seg.is_null() {
                let next = (*seg).next;
                let block = (*seg).block;
                if self.single.is_none() {
                    self.release(block, BlockKind::Segment);
                }
                seg = next;
            }
            self.segments = core::ptr::null_mut();
            let mut l: *mut Span = self.large;
            while !l.is_null() {
                let next = (*l).next;
                self.release(large::block_of(l), BlockKind::Large);
                l = next;
            }
            self.large = core::ptr::null_mut();
            if let Some(b) = self.spare_large.take() {
                self.release(b, BlockKind::Large);
            }
            if let Some(b) = self.single.take() {
                self.release(b, BlockKind::Segment);
            }
            let mut c = self.meta.chunks;
            while !c.is_null() {
                let next = (*c).next;
                self.release((*c).block, BlockKind::Meta);
                c = next;
            }
            self.meta.chunks = core::ptr::null_mut();
        }
        live
    }
}
