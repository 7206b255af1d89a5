//! [`BlockHeap`]: a heap object whose every allocation is a block described
//! out of band -- the heap for memory the CPU should not touch (the Vita's
//! GPU memory: CDRAM, physically contiguous or uncached main memory).
//!
//! It is the same [`Heap`] as the main heap's, over a source of that memory
//! type, with its own lock, used without its size classes and thread heaps
//! (they keep free-list links inside the objects): a block of up to
//! [`SLOT_MAX`] bytes is a slot of a slot span, tracked by a bitmap
//! (`heap/slots.rs`); a larger one is a run of whole pages from a segment
//! (medium) or a source block of its own (large). Every record is in the
//! heap's metadata, which the source serves from ordinary main memory
//! (`BlockSource::granularity_of(BlockKind::Meta)`; on the Vita,
//! `VitaSource` allocates metadata as `USER_RW`), so the heap never reads
//! or writes the memory it manages: a GPU write past a block's end cannot
//! corrupt it, and uncached memory is never read by the CPU to allocate.
//!
//! Cost: a slot is O(1) (a partial span's bitmap words); a page run is
//! O(1) page-bin operations plus the merge with free neighbours (pages.rs)
//! and the page-map entries of the run's two ends; a large block is one
//! source call. The records cost one span descriptor per page block and
//! per free run (`size_of::<Span>()`, 60 bytes on the Vita), two per slot
//! span (descriptor and bitmap, for 1–2 pages of slots), plus the page map
//! (2 levels, 4 KiB leaves covering 4 MiB).
//!
//! What it must never do: touch a block's memory, or take the main heap's
//! lock (it has its own; misuse is returned, and reported by the caller
//! after the lock is released).

use crate::heap::config::PAGE_SIZE;
use crate::heap::slots::{self, SLOT_MAX};
use crate::heap::span::{KIND_SLOTS, NONE, Span};
use crate::heap::{Broken, Heap, Misuse, Stats, Tunables};
use crate::source::BlockSource;
use crate::sync::RawLock;
use core::cell::UnsafeCell;

/// A heap of out-of-band blocks over `S`, locked with `L`.
pub struct BlockHeap<S: BlockSource, L: RawLock> {
    lock: L,
    heap: UnsafeCell<Heap<S>>,
}

// SAFETY: the heap is only reached through `with`, under the lock.
unsafe impl<S: BlockSource + Send, L: RawLock + Sync> Sync for BlockHeap<S, L> {}
// SAFETY: the heap owns all memory its pointers reach.
unsafe impl<S: BlockSource + Send, L: RawLock + Send> Send for BlockHeap<S, L> {}

impl<S: BlockSource, L: RawLock> BlockHeap<S, L> {
    /// A heap over `source`, holding nothing yet.
    pub const fn new(source: S) -> Self {
        BlockHeap {
            lock: L::INIT,
            heap: UnsafeCell::new(Heap::new(source)),
        }
    }

    /// Runs `f` on the heap under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut Heap<S>) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock gives exclusive access.
        let r = f(unsafe { &mut *self.heap.get() });
        // SAFETY: locked above.
        unsafe { self.lock.unlock() };
        r
    }

    /// A block of at least `size` bytes, aligned to [`MIN_ALIGN`] (to a page
    /// from [`SLOT_MAX`] bytes up); null when out of memory (or the limit).
    pub fn malloc(&self, size: usize) -> *mut u8 {
        self.memalign(MIN_ALIGN, size)
    }

    /// A block of at least `size` bytes aligned to `align` (a power of two;
    /// at least [`MIN_ALIGN`]); null when out of memory.
    pub fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        debug_assert!(align.is_power_of_two());
        self.with(|h| alloc(h, size, align))
    }

    /// Frees `p` (null is ignored).
    ///
    /// # Safety
    /// Nothing uses the block after the call (misuse the heap can detect is
    /// returned instead of corrupting it).
    pub unsafe fn free(&self, p: *mut u8) -> Result<(), Misuse> {
        if p.is_null() {
            return Ok(());
        }
        self.with(|h| {
            let s = h.map.get(p as usize);
            if s == NONE {
                return Err(h.misuse_outside(p));
            }
            // SAFETY: `s` is the page map's span of `p`.
            unsafe { free(h, s, p) }
        })
    }

    /// Usable bytes of the block at `p` (0 for null).
    ///
    /// # Safety
    /// `p` is null or a pointer the caller got from this heap (others are
    /// reported).
    pub unsafe fn usable_size(&self, p: *mut u8) -> Result<usize, Misuse> {
        if p.is_null() {
            return Ok(0);
        }
        self.with(|h| {
            let s = h.map.get(p as usize);
            if s == NONE {
                return Err(h.misuse_outside(p));
            }
            // SAFETY: `s` is the page map's span of `p`.
            unsafe { usable(h, s, p) }
        })
    }

    /// Resizes the block at `p` to `size` bytes: in place when it fits (a
    /// slot holding `size`, or pages that can shrink or grow into free
    /// pages after them), else a new block (the contents copied by the
    /// CPU, then the old block freed); null (with `p` intact) when out of
    /// memory. `p` null: `malloc(size)`.
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    pub unsafe fn realloc(&self, p: *mut u8, size: usize) -> Result<*mut u8, Misuse> {
        if p.is_null() {
            return Ok(self.malloc(size));
        }
        let moved = self.with(|h| {
            let s = h.map.get(p as usize);
            if s == NONE {
                return Err(h.misuse_outside(p));
            }
            // SAFETY: `s` is the page map's span of `p`, validated by
            // `usable` before it is resized.
            unsafe {
                let have = usable(h, s, p)?;
                let fits = if (*s).kind == KIND_SLOTS {
                    size <= have
                } else {
                    size > SLOT_MAX && h.resize_block_in_place(s, size)
                };
                if fits {
                    return Ok(None);
                }
                let q = alloc(h, size, MIN_ALIGN);
                if !q.is_null() {
                    core::ptr::copy_nonoverlapping(p, q, have.min(size));
                    free(h, s, p)?;
                }
                Ok(Some(q))
            }
        })?;
        Ok(moved.unwrap_or(p))
    }

    /// Statistics, exact now.
    pub fn stats(&self) -> Stats {
        self.with(|h| h.stats())
    }

    /// Walks every structure; the first broken invariant.
    pub fn check(&self) -> Result<(), Broken> {
        // SAFETY: no thread heap is attached to a block heap.
        self.with(|h| unsafe { h.check(core::ptr::null_mut()) })
    }

    /// Gives back what the heap caches (the spare segment and large block)
    /// beyond `pad` bytes; whether anything went back.
    pub fn trim(&self, pad: usize) -> bool {
        self.with(|h| h.trim(pad))
    }

    /// The heap's tunables (the limit, the large-block threshold...).
    pub fn tunables(&self) -> Tunables {
        self.with(|h| h.tunables())
    }

    /// Replaces the tunables.
    pub fn set_tunables(&self, t: Tunables) {
        self.with(|h| h.set_tunables(t))
    }

    /// Gives every block back to the source (reported to the block hook)
    /// and returns how many allocations were still live.
    ///
    /// # Safety
    /// Nothing uses the heap or any of its blocks again.
    pub unsafe fn destroy(&self) -> usize {
        // SAFETY: per the caller.
        let live = self.with(|h| unsafe { h.release_all() });
        // SAFETY: per the caller: nobody uses the lock again.
        unsafe { self.lock.destroy() };
        live
    }
}

/// The alignment every block has: what GXM asks of vertex, index and
/// uniform buffers and of most textures.
pub const MIN_ALIGN: usize = 16;

/// A block of `size` bytes aligned to `align`: a slot when one holds it,
/// else page runs. Counted as a call.
#[inline(always)]
fn alloc<S: BlockSource>(h: &mut Heap<S>, size: usize, align: usize) -> *mut u8 {
    match slots::slot_class(size, align) {
        Some(cls) => h.alloc_slot(cls),
        None => h.alloc_block(size, align.max(PAGE_SIZE)),
    }
}

/// Frees the block at `p`, a slot or page runs (or reports what `p` is
/// not). Counted.
///
/// # Safety
/// `s` is the page map's span of `p` (not `NONE`).
#[inline(always)]
unsafe fn free<S: BlockSource>(h: &mut Heap<S>, s: *mut Span, p: *mut u8) -> Result<(), Misuse> {
    // SAFETY: per the caller.
    unsafe {
        if (*s).kind == KIND_SLOTS {
            h.free_slot(s, p)
        } else {
            h.free_block(s, p)
        }
    }
}

/// Usable bytes of the block at `p`, a slot or page runs.
///
/// # Safety
/// As for [`free`].
#[inline(always)]
unsafe fn usable<S: BlockSource>(h: &Heap<S>, s: *mut Span, p: *mut u8) -> Result<usize, Misuse> {
    // SAFETY: per the caller.
    unsafe {
        if (*s).kind == KIND_SLOTS {
            h.slot_usable(s, p)
        } else {
            h.block_usable(s, p)
        }
    }
}

#[cfg(test)]
mod tests;
