//! The heap's own metadata: span descriptors, segment records, thread
//! heaps and page-map nodes, carved from chunks that never hold user data.
//!
//! ```text
//!  chunk (a source block, or the front of the single block):
//!  | MetaChunk | node | span | span | thread heap | ... bump ──►      |
//!  recycled objects: one free list per type (spans, segments, heaps)
//! ```
//! Chunks grow with the heap ([`META_MIN`] doubling up to [`META_MAX`]), so
//! a small program pays a few KiB and a 200 MiB heap a handful of chunks.
//! Chunks are never given back: descriptors are recycled instead. This
//! module never calls the source: the heap hands it chunks it obtained.

use super::config::{META_MAX, META_MIN};
use super::pagemap::NodeSource;
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
}

/// What a recycled object is (one free list each).
#[derive(Clone, Copy)]
pub enum Pool {
    /// Span descriptors.
    Span = 0,
    /// Segment records.
    Segment = 1,
    /// Thread heaps.
    Local = 2,
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
        let at = self.next.next_multiple_of(ALIGN);
        if at > self.end || self.end - at < bytes {
            return ptr::null_mut();
        }
        self.next = at + bytes;
        let p = self.chunk.with_addr(at);
        // SAFETY: the range lies in metadata memory nothing else uses.
        unsafe { ptr::write_bytes(p, 0, bytes) };
        p
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

    /// Gives an object back for reuse by `pool`.
    ///
    /// # Safety
    /// `p` came from `take(pool, _)` and is no longer used.
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
