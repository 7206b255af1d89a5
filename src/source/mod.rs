//! Where memory comes from: the [`BlockSource`] trait and its implementations.
//!
//! A source hands out large, page-aligned blocks and takes them back whole. It
//! owns the platform call (`mmap`, `sceKernelAllocMemBlock`, a fixed arena) and
//! nothing else: it never carves blocks, never keeps statistics beyond what it
//! needs to give blocks back, and never allocates from the heap it feeds.

pub mod arena;
#[cfg(all(unix, not(target_os = "vita")))]
pub mod mmap;
#[cfg(target_os = "vita")]
pub mod vita;

pub use arena::ArenaSource;
#[cfg(all(unix, not(target_os = "vita")))]
pub use mmap::MmapSource;
#[cfg(target_os = "vita")]
pub use vita::VitaSource;

use core::ptr::NonNull;

/// What a block will be used for; a source may name or place blocks by it
/// (the Vita source names memblocks after it, so they are recognisable in a
/// memory dump).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// A segment carved into many small and medium allocations.
    Segment,
    /// One large allocation.
    Large,
    /// The heap's own metadata (page-map nodes).
    Meta,
}

/// A block obtained from a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// First byte; aligned at least to [`crate::heap::config::PAGE_SIZE`] and to
    /// the alignment that was asked for.
    pub base: NonNull<u8>,
    /// Usable bytes: the requested size rounded up to the source's granularity.
    pub size: usize,
    /// Whatever the source needs to give the block back (a memblock uid).
    pub handle: usize,
}

/// Why a source could not provide a block. The heap turns every variant into a
/// failed allocation (NULL + ENOMEM); the variant is for diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceError {
    /// The platform has no memory left (or refused for its own reasons); the
    /// platform's error code, if it has one.
    Exhausted(i32),
    /// The source's limit on the number of blocks was reached.
    TooManyBlocks(i32),
    /// The request cannot be expressed (size or alignment too large).
    Unsupported,
}

/// A provider of large blocks of memory.
///
/// # Safety
/// Implementations must return blocks that are valid for reads and writes for
/// `size` bytes, do not overlap any other live block, are aligned as
/// documented on [`Block::base`], and stay valid until passed to
/// [`BlockSource::release`].
pub unsafe trait BlockSource {
    /// Block sizes are multiples of this (a power of two, at least 4 KiB).
    fn granularity(&self) -> usize;

    /// The granularity of blocks of `kind`: a source of GPU memory serves
    /// the heap's metadata from ordinary main memory, whose granularity
    /// may be finer than its own.
    fn granularity_of(&self, kind: BlockKind) -> usize {
        let _ = kind;
        self.granularity()
    }

    /// A short name for messages and statistics ("mmap", "vita memblock").
    fn name(&self) -> &'static str;

    /// The platform's memory type of the blocks, for block hooks (the
    /// memblock type on the Vita; 0 where there is none).
    fn mem_type(&self) -> u32 {
        0
    }

    /// The memory type of blocks of `kind` (metadata may be of another
    /// type than the heap's blocks: see [`granularity_of`](Self::granularity_of)).
    fn mem_type_of(&self, kind: BlockKind) -> u32 {
        let _ = kind;
        self.mem_type()
    }

    /// Obtains a block of at least `size` bytes (the caller rounds `size` to
    /// [`granularity`](Self::granularity)) whose base is aligned to `align`
    /// (a power of two; the heap never asks for less than its page size).
    fn acquire(&mut self, size: usize, align: usize, kind: BlockKind)
    -> Result<Block, SourceError>;

    /// Gives a block back.
    ///
    /// # Safety
    /// `block` was returned by `acquire` on this source and not released
    /// since; nothing uses its memory any more.
    unsafe fn release(&mut self, block: Block);
}

/// Whether a request is one a source can serve: a non-zero multiple of the
/// granularity, and a power-of-two alignment.
pub(crate) fn valid_request(
    size: usize,
    align: usize,
    granularity: usize,
) -> Result<(), SourceError> {
    if size == 0 || size % granularity != 0 || !align.is_power_of_two() {
        return Err(SourceError::Unsupported);
    }
    Ok(())
}
