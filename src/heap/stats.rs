//! Statistics: what `vitalloc_stats` and `mallinfo` report, summed when
//! asked (O(spans + thread heaps)) from the spans, the thread heaps'
//! counters and what the shared heap counts under its lock. malloc and free
//! update no global counter: a span counts its live objects and the objects
//! it ever handed out, a thread heap its remote frees.
//!
//! Figures are exact when no other thread allocates meanwhile; with threads
//! running they are a snapshot of each span at the moment it is read.

/// A snapshot of the heap's statistics (`vitalloc_stats_t` in C).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Usable bytes in live allocations (what `malloc_usable_size` returns,
    /// summed).
    pub in_use: usize,
    /// Highest `in_use` seen when statistics were taken (the fast paths do
    /// not track a running peak: it would cost every call).
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
    /// Small-object spans (4 KiB-granular runs of one size class; in a
    /// heap object, runs of slots of one size).
    pub slabs: usize,
    /// Bytes in small-object spans.
    pub slab_bytes: usize,
    /// Free bytes inside segments (free objects inside spans not counted).
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
    /// Thread heaps: threads that allocated and are not known to have ended
    /// (a thread's heap is reclaimed when it is found dead; the
    /// allocator's own heap, used by calls made without one, counts too).
    pub thread_heaps: usize,
    /// The largest free run inside one segment, in bytes: the largest
    /// block the heap can make without obtaining memory. `free_bytes`
    /// minus this is fragmented: free, but in smaller pieces. (Last: the
    /// fields before it keep their offsets for programs that read them.)
    pub largest_free: usize,
}

/// One size class's figures in the debug build (`vitalloc_class_stats_t`
/// in C; filled by `vitalloc_class_stats`). Requests are counted by the
/// size the program asked for: the classes of small requests, then one
/// entry for medium requests and one for large ones (from the default
/// large threshold, 1 MiB, up).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// The largest request of the class (`SIZE_MAX` for the last entry).
    pub size: usize,
    /// Allocations made in the class so far.
    pub allocations: u64,
    /// Frees of blocks of the class so far.
    pub frees: u64,
    /// Blocks of the class live now.
    pub live: usize,
    /// Bytes asked for by those blocks.
    pub live_bytes: usize,
    /// Highest `live` so far.
    pub peak_live: usize,
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

use super::Heap;
use super::config::PAGE_SIZE;
use super::span::{KIND_FREE, KIND_MEDIUM, KIND_SLOTS, KIND_SMALL};
use crate::front::local::Counters;
use crate::source::BlockSource;

/// Sums over the small spans (and slot spans) of every segment.
#[derive(Default)]
pub(super) struct SpanSums {
    pub spans: usize,
    /// The largest free run, in bytes.
    pub largest_free: usize,
    pub span_bytes: usize,
    pub used_objects: usize,
    pub used_bytes: usize,
    pub allocs: u64,
}

impl<S: BlockSource> Heap<S> {
    /// Walks every segment's runs and sums the small spans. O(spans).
    pub(super) fn span_sums(&self) -> SpanSums {
        let mut t = SpanSums::default();
        // SAFETY: the spans the page map names in segments are live;
        // `used` and `allocs` of spans other threads own are read with
        // volatile loads (a snapshot; see the module comment).
        self.for_each_span(|s| unsafe {
            if (*s).kind == KIND_SMALL {
                let used = core::ptr::read_volatile(&raw const (*s).used) as usize;
                let allocs = core::ptr::read_volatile(&raw const (*s).allocs);
                t.spans += 1;
                t.span_bytes += (*s).bytes();
                t.used_objects += used;
                t.used_bytes += used * (*s).obj_size();
                t.allocs += allocs as u64;
            } else if (*s).kind == KIND_SLOTS {
                t.spans += 1;
                t.span_bytes += (*s).bytes();
            } else if (*s).kind == KIND_FREE {
                t.largest_free = t.largest_free.max((*s).bytes());
            }
            debug_assert!(matches!(
                (*s).kind,
                KIND_SMALL | KIND_FREE | KIND_MEDIUM | KIND_SLOTS
            ));
        });
        t
    }

    /// The retired counters plus every registered thread heap's.
    pub(super) fn counter_sums(&self) -> Counters {
        let mut c = self.retired;
        let mut lh = self.locals;
        // SAFETY: registry members are live; their counters are read with
        // volatile loads (their owners may be writing them).
        unsafe {
            while !lh.is_null() {
                let mine = core::ptr::read_volatile(&raw const (*lh).counters);
                c.add(&mine);
                lh = (*lh).next;
            }
        }
        c
    }

    /// Statistics, summed now. O(spans + thread heaps).
    pub fn stats(&mut self) -> Stats {
        let t = self.span_sums();
        let c = self.counter_sums();
        let pending = c.remote_freed.wrapping_sub(c.collected) as usize;
        let pending_bytes = c.remote_freed_bytes.wrapping_sub(c.collected_bytes) as usize;
        let small_live = t.used_objects.wrapping_sub(pending);
        let small_bytes = t.used_bytes.wrapping_sub(pending_bytes);
        let small_allocs = t.allocs.wrapping_add(c.allocs);
        let small_frees = small_allocs.wrapping_sub(small_live as u64);
        let large = self.stats.large_blocks;
        let in_use = small_bytes
            + self.slots.live_bytes()
            + self.medium_pages * PAGE_SIZE
            + self.large_bytes_in_use;
        if in_use > self.stats.in_use_peak {
            self.stats.in_use_peak = in_use;
        }
        let k = &self.stats;
        Stats {
            in_use,
            in_use_peak: k.in_use_peak,
            reserved: k.reserved,
            reserved_peak: k.reserved_peak,
            allocations: small_live + self.slots.live() + self.medium_blocks + large,
            segments: k.segments,
            large_blocks: large,
            source_blocks: k.source_blocks,
            slabs: t.spans,
            slab_bytes: t.span_bytes,
            free_bytes: self.pages.free_pages * PAGE_SIZE,
            largest_free: t.largest_free,
            limit: self.tunables.limit,
            malloc_calls: small_allocs.wrapping_sub(c.inner_allocs)
                + k.small_failed
                + k.block_mallocs,
            free_calls: small_frees.wrapping_sub(c.inner_frees) + k.block_frees,
            realloc_calls: c.reallocs,
            failed_calls: k.failed_calls,
            thread_heaps: self.count_locals(),
        }
    }

    /// The `mallinfo` view. O(spans + thread heaps).
    pub fn mallinfo(&mut self) -> MallInfo {
        let s = self.stats();
        let large_bytes = s.reserved - self.segment_bytes - self.meta.bytes;
        let spare_seg = self.spare_segment;
        let spare = if !spare_seg.is_null() && self.segment_is_empty(spare_seg) {
            // SAFETY: a non-null spare is a live segment.
            unsafe { (*spare_seg).block.size }
        } else {
            0
        };
        MallInfo {
            arena: self.segment_bytes,
            ordblks: self.pages.free_runs,
            smblks: s.slabs,
            hblks: s.large_blocks,
            hblkhd: large_bytes,
            usmblks: s.reserved_peak,
            fsmblks: s.slab_bytes,
            uordblks: s.in_use,
            fordblks: s.free_bytes,
            keepcost: spare + self.spare_large.map_or(0, |b| b.size),
        }
    }
}
