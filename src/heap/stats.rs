//! Statistics the heap keeps as it works, and the `mallinfo` view of them.
//!
//! Counters are updated by the heap under its lock; this module only defines
//! them. `vitalloc_check` recomputes them from the heap and compares.

/// A snapshot of the heap's statistics (`vitalloc_stats_t` in C).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Usable bytes in live allocations (what `malloc_usable_size` returns,
    /// summed).
    pub in_use: usize,
    /// Highest `in_use` so far.
    pub in_use_peak: usize,
    /// Bytes held from the block source: segments, large blocks and the
    /// heap's own metadata.
    pub reserved: usize,
    /// Highest `reserved` so far.
    pub reserved_peak: usize,
    /// Live allocations.
    pub allocations: usize,
    /// Segments held (blocks carved into small and medium allocations).
    pub segments: usize,
    /// Large allocations held, each in a block of its own.
    pub large_blocks: usize,
    /// Blocks held from the source in all (memblocks on the Vita):
    /// segments, large blocks, cached spares and metadata blocks.
    pub source_blocks: usize,
    /// Small-object slabs.
    pub slabs: usize,
    /// Bytes in small-object slabs.
    pub slab_bytes: usize,
    /// Free bytes inside segments (free objects inside slabs not counted).
    pub free_bytes: usize,
    /// The limit on `reserved`, or 0 for none.
    pub limit: usize,
    /// Allocating calls (malloc, calloc, memalign and friends).
    pub malloc_calls: u64,
    /// free calls with a non-null pointer.
    pub free_calls: u64,
    /// realloc calls with a non-null pointer.
    pub realloc_calls: u64,
    /// Calls that failed for lack of memory.
    pub failed_calls: u64,
}

/// newlib's `struct mallinfo`: ten `size_t` fields (also `_mallinfo_r`'s
/// layout on every target, and `mallinfo2`'s on glibc).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallInfo {
    /// Bytes obtained from the source for segments (dlmalloc: sbrk'd space).
    pub arena: usize,
    /// Free blocks in segments.
    pub ordblks: usize,
    /// Small-object slabs.
    pub smblks: usize,
    /// Large blocks (dlmalloc: mmapped regions).
    pub hblks: usize,
    /// Bytes in large blocks.
    pub hblkhd: usize,
    /// Peak of bytes obtained from the source.
    pub usmblks: usize,
    /// Bytes in small-object slabs (used and free objects).
    pub fsmblks: usize,
    /// Bytes in use.
    pub uordblks: usize,
    /// Free bytes in segments.
    pub fordblks: usize,
    /// Bytes `malloc_trim` could give back now.
    pub keepcost: usize,
}
