//! The heap's own metadata: span descriptors, segment records, thread
//! heaps and page-map nodes, carved from chunks that never hold user data.
//!
//! ```text
//!  chunk (a source block, or the front of the single block):
//!  | MetaChunk | node | span | span | thread heap | ... bump ──►      |
//!  recycled objects: one free list per type (spans, segments, heaps, slot bitmaps)
//! ```
//! A span descriptor's owner word may still be read, atomically, by a
//! thread that freed into the span before it went back (it looks whether to
//! tell the owner): so descriptors are only ever reused as descriptors,
//! linked through their `next` field, and their atomics are only ever
//! written atomically, never overwritten by a plain write or a free-list
//! link.
//! Chunks grow with the heap ([`META_MIN`] doubling up to [`META_MAX`]), so
//! a small program pays a few KiB and a 200 MiB heap a handful of chunks.
//! Chunks are never given back: descriptors are recycled instead. This
//! module never calls the source: the heap hands it chunks it obtained.

use super::config::{META_MAX, META_MIN};
use super::pagemap::NodeSource;
use super::span::Span;
use crate::source::Block;
use core::ptr;

/// Header of each chunk obtained from the source.
#[repr(C)]
pub struct MetaChunk {
    /// The source block this chunk is.
    pub block: Block,
    /// The previously obtained chunk, or null.
    pub next: *mut MetaChunk,
}

/// A recycled object: its first word links the free list.
#[repr(C)]
struct Recycled {
    next: *mut Recycled,
}

/// Bump space and recycled objects.
pub struct Meta {
    next: usize,
    end: usize,
    /// The chunk `next` and `end` lie in: bump space is derived from this
    /// pointer (its provenance), not made from the integer address.
    chunk: *mut u8,
    /// Chunks obtained from the source, newest first.
    pub chunks: *mut MetaChunk,
    /// Bytes and blocks of chunks obtained from the source (plus the seeded
    /// front of the single block, in bytes only).
    pub bytes: usize,
    /// Chunks obtained from the source.
    pub blocks: usize,
    free: [*mut Recycled; 3],
    /// Recycled span descriptors, linked through `Span::next`.
    spans: *mut Span,
}

/// What a recycled object is (one free list each).
#[derive(Clone, Copy)]
pub enum Pool {
    /// Segment records.
    Segment = 0,
    /// Thread heaps.
    Local = 1,
    /// Slot spans' bitmap records (the size of a span descriptor).
    Bits = 2,
}

const ALIGN: usize = 16;

impl Meta {
    /// No metadata yet.
    pub const fn new() -> Self {
        Meta {
            next: 0,
            end: 0,
            chunk: ptr::null_mut(),
            chunks: ptr::null_mut(),
            bytes: 0,
            blocks: 0,
            free: [ptr::null_mut(); 3],
            spans: ptr::null_mut(),
        }
    }

    /// Free bump bytes.
    pub fn room(&self) -> usize {
        self.end - self.next
    }

    /// Size of the next chunk to ask the source for, to fit `bytes`.
    pub fn next_chunk_size(&self, bytes: usize) -> usize {
        let grown = self.bytes.clamp(META_MIN, META_MAX);
        grown.max(bytes + size_of::<MetaChunk>() + ALIGN)
    }

    /// Starts carving from a chunk the heap obtained from the source.
    ///
    /// # Safety
    /// `block` is a fresh, writable block owned by the metadata from now on.
    pub unsafe fn add_chunk(&mut self, block: Block) {
        let chunk = block.base.as_ptr().cast::<MetaChunk>();
        // SAFETY: the block is fresh and large enough for its header.
        unsafe {
            chunk.write(MetaChunk {
                block,
                next: self.chunks,
            })
        };
        self.chunks = chunk;
        self.chunk = block.base.as_ptr();
        self.next = self.chunk.addr() + size_of::<MetaChunk>();
        self.end = self.chunk.addr() + block.size;
        self.bytes += block.size;
        self.blocks += 1;
    }

    /// Carves from `[start, start + len)` (the front of the single block)
    /// before asking the source.
    pub fn seed(&mut self, start: *mut u8, len: usize) {
        self.chunk = start;
        self.next = start.addr();
        self.end = start.addr() + len;
        self.bytes += len;
    }

    /// `bytes` of bump space (zeroed), or null if the current chunk is out.
    pub fn bump(&mut self, bytes: usize) -> *mut u8 {
        let p = self.bump_uninit(bytes);
        if !p.is_null() {
            // SAFETY: the range lies in metadata memory nothing else uses.
            unsafe { ptr::write_bytes(p, 0, bytes) };
        }
        p
    }

    /// `bytes` of bump space as it is, or null if the current chunk is out.
    #[inline]
    fn bump_uninit(&mut self, bytes: usize) -> *mut u8 {
        // A mask, not `next_multiple_of`: ALIGN is a power of two.
        let at = (self.next + (ALIGN - 1)) & !(ALIGN - 1);
        if at > self.end || self.end - at < bytes {
            return ptr::null_mut();
        }
        self.next = at + bytes;
        self.chunk.with_addr(at)
    }

    /// A recycled object of `pool`, or bump space for one of `bytes`; null
    /// when the current chunk is out.
    pub fn take(&mut self, pool: Pool, bytes: usize) -> *mut u8 {
        let head = self.free[pool as usize];
        if !head.is_null() {
            // SAFETY: recycled objects are metadata memory of `bytes` bytes.
            unsafe {
                self.free[pool as usize] = (*head).next;
                ptr::write_bytes(head.cast::<u8>(), 0, bytes);
            }
            return head.cast();
        }
        self.bump(bytes)
    }

    /// A recycled object of `pool` as it was given back (not zeroed), or
    /// null. O(1).
    pub fn take_recycled(&mut self, pool: Pool) -> *mut u8 {
        let head = self.free[pool as usize];
        if !head.is_null() {
            // SAFETY: recycled objects are metadata memory.
            self.free[pool as usize] = unsafe { (*head).next };
        }
        head.cast()
    }

    /// Calls `f` with each recycled object of `pool`. O(objects recycled).
    pub fn for_each_recycled(&self, pool: Pool, mut f: impl FnMut(*mut u8)) {
        let mut r = self.free[pool as usize];
        while !r.is_null() {
            f(r.cast());
            // SAFETY: recycled objects are linked by their first word.
            r = unsafe { (*r).next };
        }
    }

    /// A blank span descriptor of `kind`: a recycled one (reset, its
    /// atomics stored atomically), or bump space written as
    /// `Span::fresh(kind)`; null when the current chunk is out. O(1).
    #[inline]
    pub fn try_take_span(&mut self, kind: u8) -> *mut Span {
        let s = self.spans;
        if !s.is_null() {
            // SAFETY: recycled descriptors are live metadata, only ever
            // descriptors.
            unsafe {
                self.spans = (*s).next;
                Span::reset(s, kind);
            }
            return s;
        }
        let p = self.bump_uninit(size_of::<Span>()).cast::<Span>();
        if !p.is_null() {
            // SAFETY: fresh bump space sized and aligned for a span, never
            // seen by another thread.
            unsafe { p.write(Span::fresh(kind)) };
        }
        p
    }

    /// As [`try_take_span`](Self::try_take_span), where room is certain.
    ///
    /// # Safety
    /// The metadata can give one without a new chunk: `Heap::ensure_meta`
    /// for at least this descriptor succeeded and nothing has taken that
    /// room since.
    #[inline]
    pub unsafe fn take_span(&mut self, kind: u8) -> *mut Span {
        let p = self.try_take_span(kind);
        debug_assert!(!p.is_null(), "take_span without ensure_meta");
        p
    }

    /// Gives a span descriptor back for reuse (as a descriptor only).
    ///
    /// # Safety
    /// `s` came from `take_span` and is no longer used (other threads may
    /// still read its owner word).
    #[inline]
    pub unsafe fn give_span(&mut self, s: *mut Span) {
        // SAFETY: per the caller; `next` is a plain field of the span.
        unsafe { (*s).next = self.spans };
        self.spans = s;
    }

    /// Gives an object back for reuse by `pool`.
    ///
    /// # Safety
    /// `p` came from `take(pool, _)` and is no longer used.
    #[inline]
    pub unsafe fn give(&mut self, pool: Pool, p: *mut u8) {
        let r = p.cast::<Recycled>();
        // SAFETY: per the caller, the object is ours to reuse.
        unsafe { (*r).next = self.free[pool as usize] };
        self.free[pool as usize] = r;
    }
}

impl NodeSource for Meta {
    fn node(&mut self, bytes: usize) -> *mut u8 {
        self.bump(bytes)
    }
}
