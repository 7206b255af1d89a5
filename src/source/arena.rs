//! A fixed region given by the caller (a static array on bare metal, a
//! buffer in tests), handed out in page-aligned blocks.
//!
//! Free space is kept as an address-ordered list of regions whose headers live
//! in the free memory itself, so the source needs no memory of its own. It
//! never touches memory it has handed out. Its operations walk that list: it
//! is meant for a handful of large blocks, which is what the heap asks for.
//!
//! Addresses are computed as integers (alignment, splitting, merging) and
//! turned back into pointers with [`ArenaSource::at`], which derives them
//! from the region's own pointer: every pointer the arena writes through or
//! hands out keeps the caller's provenance (Miri's strict provenance).

use super::{Block, BlockKind, BlockSource, SourceError};
use core::ptr::{self, NonNull};

const GRANULARITY: usize = 4096;

/// Header of a free region, stored at the region's start.
#[repr(C)]
struct FreeRegion {
    size: usize,
    next: *mut FreeRegion,
}

/// Blocks carved from one caller-provided region.
#[derive(Debug)]
pub struct ArenaSource {
    /// Address-ordered, coalesced free regions, each page-aligned and a
    /// multiple of [`GRANULARITY`] long.
    free: *mut FreeRegion,
    /// The caller's region: every pointer into it is derived from this one.
    base: *mut u8,
    start: usize,
    len: usize,
}

// SAFETY: the arena is only reached through the heap's lock.
unsafe impl Send for ArenaSource {}

impl ArenaSource {
    /// An arena with no memory; every request fails.
    pub const fn empty() -> Self {
        ArenaSource {
            free: ptr::null_mut(),
            base: ptr::null_mut(),
            start: 0,
            len: 0,
        }
    }

    /// A pointer to `addr`, which lies in the region, with the region's
    /// provenance.
    fn at<T>(&self, addr: usize) -> *mut T {
        self.base.with_addr(addr).cast()
    }

    /// An arena over `len` bytes at `base`. Bytes before the first page
    /// boundary and after the last one are not used.
    ///
    /// # Safety
    /// The region is valid for reads and writes, is used by nothing else for
    /// as long as the arena or any block from it lives.
    pub unsafe fn new(base: *mut u8, len: usize) -> Self {
        let start = base.addr().wrapping_add(GRANULARITY - 1) & !(GRANULARITY - 1);
        let end = base.addr().saturating_add(len) & !(GRANULARITY - 1);
        if base.is_null() || start >= end {
            return Self::empty();
        }
        let region: *mut FreeRegion = base.with_addr(start).cast();
        // SAFETY: `region` is page-aligned and inside the caller's region.
        unsafe {
            region.write(FreeRegion {
                size: end - start,
                next: ptr::null_mut(),
            })
        };
        ArenaSource {
            free: region,
            base,
            start,
            len: end - start,
        }
    }

    /// An arena over a static buffer.
    pub fn from_static(buf: &'static mut [u8]) -> Self {
        // SAFETY: the exclusive 'static borrow guarantees nothing else uses it.
        unsafe { Self::new(buf.as_mut_ptr(), buf.len()) }
    }

    /// Bytes currently free in the arena (walks the free list).
    pub fn free_bytes(&self) -> usize {
        let mut total = 0;
        let mut r = self.free;
        while !r.is_null() {
            // SAFETY: every list node is a live free-region header.
            unsafe {
                total += (*r).size;
                r = (*r).next;
            }
        }
        total
    }
}

// SAFETY: blocks are disjoint sub-ranges of the caller's region, removed from
// the free list while handed out, aligned as requested.
unsafe impl BlockSource for ArenaSource {
    fn granularity(&self) -> usize {
        GRANULARITY
    }

    fn name(&self) -> &'static str {
        "arena"
    }

    fn acquire(
        &mut self,
        size: usize,
        align: usize,
        _kind: BlockKind,
    ) -> Result<Block, SourceError> {
        super::valid_request(size, align, GRANULARITY)?;
        let align = align.max(GRANULARITY);
        let mut link: *mut *mut FreeRegion = &mut self.free;
        // SAFETY: the list holds live headers inside the arena; splitting
        // writes new headers only inside the region being split.
        unsafe {
            while !(*link).is_null() {
                let r = *link;
                let (r_start, r_size, r_next) = (r.addr(), (*r).size, (*r).next);
                let r_end = r_start + r_size;
                let base = (r_start + align - 1) & !(align - 1);
                if base <= r_end && r_end - base >= size {
                    let tail = base + size;
                    // The tail (if any) replaces `r` in the list, the head (if
                    // any) stays in front of it: the list stays ordered.
                    let after = if tail < r_end {
                        let t: *mut FreeRegion = self.at(tail);
                        t.write(FreeRegion {
                            size: r_end - tail,
                            next: r_next,
                        });
                        t
                    } else {
                        r_next
                    };
                    if base > r_start {
                        (*r).size = base - r_start;
                        (*r).next = after;
                    } else {
                        *link = after;
                    }
                    return Ok(Block {
                        base: NonNull::new_unchecked(self.at(base)),
                        size,
                        handle: 0,
                    });
                }
                link = &mut (*r).next;
            }
        }
        Err(SourceError::Exhausted(0))
    }

    unsafe fn release(&mut self, block: Block) {
        let start = block.base.as_ptr().addr();
        let end = start + block.size;
        debug_assert!(start >= self.start && end <= self.start + self.len);
        let mut prev: *mut FreeRegion = ptr::null_mut();
        let mut next = self.free;
        // SAFETY: as in `acquire`; the released range is no longer in use and
        // becomes a free-region header, merged with adjacent free regions.
        unsafe {
            while !next.is_null() && next.addr() < start {
                prev = next;
                next = (*next).next;
            }
            let node: *mut FreeRegion = self.at(start);
            node.write(FreeRegion {
                size: block.size,
                next,
            });
            if !next.is_null() && end == next.addr() {
                (*node).size += (*next).size;
                (*node).next = (*next).next;
            }
            if prev.is_null() {
                self.free = node;
            } else if prev.addr() + (*prev).size == start {
                (*prev).size += (*node).size;
                (*prev).next = (*node).next;
            } else {
                (*prev).next = node;
            }
        }
    }
}
