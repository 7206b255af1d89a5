//! The host source: anonymous private `mmap`.
//!
//! Over-aligned requests map `size + align` and unmap the slack on both
//! sides, so no address space is wasted. Never calls the heap it feeds.

use super::{Block, BlockKind, BlockSource, SourceError};
use core::ptr::NonNull;

/// Memory from `mmap(MAP_PRIVATE | MAP_ANONYMOUS)`.
#[derive(Debug, Default)]
pub struct MmapSource;

impl MmapSource {
    /// A source; it holds no state of its own.
    pub const fn new() -> Self {
        MmapSource
    }
}

const GRANULARITY: usize = 4096;

fn map(len: usize) -> Option<*mut u8> {
    // A failed mmap sets errno; the C API sets errno itself where the
    // standard says so and must otherwise leave it alone (posix_memalign,
    // and the `_r` functions, which report through their reent).
    // SAFETY: __errno_location returns the calling thread's errno.
    let saved = unsafe { *libc::__errno_location() };
    // SAFETY: an anonymous private mapping has no preconditions; failure is
    // reported as MAP_FAILED and checked.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
    (p != libc::MAP_FAILED).then_some(p.cast())
}

/// Faults the pages of a segment or metadata block in now, as the Vita
/// kernel commits a memblock's memory when it is allocated: otherwise the
/// first touch of each page (the heap formatting a span) pays a page fault
/// inside an allocator call, which set the host benchmark's p99.9 latency.
/// Large blocks stay lazy (the program may never touch all of one).
/// Errors (kernels before 5.14 lack MADV_POPULATE_WRITE) are ignored.
fn populate(addr: *mut u8, len: usize) {
    // Miri has no madvise; the pages fault in on first touch there.
    if cfg!(miri) {
        return;
    }
    // SAFETY: __errno_location returns the calling thread's errno.
    let saved = unsafe { *libc::__errno_location() };
    // SAFETY: the range is a fresh private mapping of ours.
    unsafe { libc::madvise(addr.cast(), len, MADV_POPULATE_WRITE) };
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

/// Linux's `MADV_POPULATE_WRITE` (5.14; not in every libc crate version).
const MADV_POPULATE_WRITE: libc::c_int = 23;

fn unmap(addr: *mut u8, len: usize) {
    if len != 0 {
        // SAFETY: callers pass a page-aligned range inside a mapping they own
        // and no longer use.
        unsafe { libc::munmap(addr.cast(), len) };
    }
}

// SAFETY: mmap returns fresh, page-aligned, non-overlapping mappings that stay
// valid until munmap; over-aligned blocks are cut out of a larger mapping.
unsafe impl BlockSource for MmapSource {
    fn granularity(&self) -> usize {
        GRANULARITY
    }

    fn name(&self) -> &'static str {
        "mmap"
    }

    fn acquire(
        &mut self,
        size: usize,
        align: usize,
        kind: BlockKind,
    ) -> Result<Block, SourceError> {
        super::valid_request(size, align, GRANULARITY)?;
        let extra = if align > GRANULARITY { align } else { 0 };
        let len = size.checked_add(extra).ok_or(SourceError::Unsupported)?;
        let raw = map(len).ok_or(SourceError::Exhausted(-(libc::ENOMEM)))?;
        // Pointers stay derived from the mapping (strict provenance: the
        // Miri run of the tests checks it).
        let lead = raw.addr().wrapping_neg() & (align - 1);
        let base = raw.wrapping_add(lead);
        unmap(raw, lead);
        unmap(base.wrapping_add(size), len - lead - size);
        if kind != BlockKind::Large {
            populate(base, size);
        }
        Ok(Block {
            base: NonNull::new(base).ok_or(SourceError::Unsupported)?,
            size,
            handle: 0,
        })
    }

    unsafe fn release(&mut self, block: Block) {
        unmap(block.base.as_ptr(), block.size);
    }
}
