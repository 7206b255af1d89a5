//! Every tunable of the heap, named and explained once.
//!
//! Nothing here allocates or calls the platform; the values are compile-time
//! constants except where `mallopt` may change the default at run time (the
//! runtime copies live in [`super::Tunables`]).

/// Alignment of every pointer `malloc` returns: `max_align_t` of the target
/// (16 bytes on x86-64, 8 on 32-bit ARM).
pub const MIN_ALIGN: usize = if usize::BITS == 64 { 16 } else { 8 };

/// The page of the page map: the unit in which the heap marks memory as a
/// small-object slab, a segment or a large block. The Vita kernel aligns
/// memblocks to 4 KiB, so nothing larger can be assumed.
pub const PAGE_SHIFT: u32 = 12;
/// Bytes in a page.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// Largest request served from size-class slabs.
pub const SMALL_MAX: usize = 1024;

/// Objects per slab the slab sizes aim for (a slab is 1 to 4 pages).
pub const SLAB_TARGET_OBJECTS: usize = 16;
/// Largest slab, in pages.
pub const SLAB_MAX_PAGES: usize = 4;

/// Default size from which a request gets a source block of its own
/// (`mallopt(M_MMAP_THRESHOLD)` changes it).
pub const LARGE_THRESHOLD: usize = 1 << 20;
/// Bounds for the large threshold set through `mallopt`.
pub const LARGE_THRESHOLD_MIN: usize = 64 << 10;
/// Upper bound: medium blocks must fit in the largest segment.
pub const LARGE_THRESHOLD_MAX: usize = SEGMENT_MAX / 2;

/// First segment: small, so that a small program needs little memory.
pub const SEGMENT_MIN: usize = 64 << 10;
/// Segments grow geometrically up to this size: a 200 MiB heap takes about
/// 55 source blocks (the Vita allows about 2048 memblocks per process,
/// shared with textures). Larger segments would save blocks but leave more
/// of the newest segment unused: at 8 MiB, a game-like heap of 100 MiB held
/// 90 % of what it took from the kernel; at 4 MiB, 96 % (bench/run.sh).
pub const SEGMENT_MAX: usize = 4 << 20;

/// Default for how many free bytes the heap keeps cached instead of handing
/// them back (one spare segment is always kept; a freed large block is kept
/// if it is at most this big). `mallopt(M_TRIM_THRESHOLD)` changes it.
pub const TRIM_THRESHOLD: usize = 2 << 20;

/// Size of each chunk of page-map nodes obtained from the source.
pub const META_CHUNK: usize = 64 << 10;

/// An empty slab kept as its class's last one is given back after this many
/// further `free` calls (or at once when a segment empties or memory runs
/// short), so kept slabs cannot pin segments for long.
pub const SLAB_KEEP_FREES: u32 = 1024;
