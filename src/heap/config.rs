//! Every tunable of the heap, named and explained once.
//!
//! Nothing here allocates or calls the platform; the values are compile-time
//! constants except where `mallopt` may change the default at run time (the
//! runtime copies live in [`super::Tunables`]).

/// Alignment of every pointer `malloc` returns: `max_align_t` of the target
/// (16 bytes on x86-64, 8 on 32-bit ARM).
pub const MIN_ALIGN: usize = if usize::BITS == 64 { 16 } else { 8 };

/// The page: the unit in which the page map describes memory and in which
/// segments are carved into spans and medium blocks. The Vita kernel aligns
/// memblocks to 4 KiB, so nothing larger can be assumed.
pub const PAGE_SHIFT: u32 = 12;
/// Bytes in a page.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// Largest request served from size-class spans (per-thread, lock-free).
/// Above it, requests take whole pages (medium) or a source block (large).
/// Every class a program touches costs at least one span: with classes up
/// to 32 KiB that was 420 KiB for all of them, and Lua's string workload
/// held 1.93x newlib's sbrk mark; at 8 KiB it holds 1.55x (bench/arm, the
/// other workloads within one segment of before). Above 8 KiB, page
/// rounding (4 KiB steps) is at most half a class step coarser.
pub const SMALL_MAX: usize = 8 << 10;
/// Largest request whose class comes from a table indexed by `(size+7)/8`
/// (the quickest path; larger small requests compute their class).
pub const DIRECT_MAX: usize = 1024;
/// Largest span of a class's base size, in pages: a class whose objects
/// leave a big tail in fewer pages (7168 B: 7 pages, 4 objects) takes up
/// to this many. At most 32 KiB (`classes::recip` is exact up to there).
pub const SPAN_MAX_PAGES: usize = 8;

/// Default size from which a request gets a source block of its own
/// (`mallopt(M_MMAP_THRESHOLD)` changes it).
pub const LARGE_THRESHOLD: usize = 1 << 20;
/// Bounds for the large threshold set through `mallopt`.
pub const LARGE_THRESHOLD_MIN: usize = 64 << 10;
/// Upper bound: medium blocks must fit in the largest segment.
pub const LARGE_THRESHOLD_MAX: usize = SEGMENT_MAX / 2;

/// First segments: small, so that a small program needs little memory
/// (newlib's sbrk heap of a small program is tens of KiB; at 128 KiB a 16 MiB
/// heap takes about 30 segments).
pub const SEGMENT_MIN: usize = 128 << 10;
/// A new segment is about this fraction of what the heap already holds in
/// segments (1/8): at a peak the newest segment is then mostly less than
/// 1/9 of the heap, where doubling left it a third to half empty.
pub const SEGMENT_GROWTH_SHIFT: u32 = 3;
/// Segments stop growing at this size. With 1/8 growth, a 200 MiB heap
/// takes about 60 source blocks (the Vita allows about 2048 memblocks per
/// process, shared with textures), and the newest segment is at most 4 %
/// of such a heap.
pub const SEGMENT_MAX: usize = 8 << 20;

/// Default for how many free bytes the heap keeps cached instead of handing
/// them back (one spare segment is always kept; a freed large block is kept
/// if it is at most this big). `mallopt(M_TRIM_THRESHOLD)` changes it.
pub const TRIM_THRESHOLD: usize = 2 << 20;

/// First chunk of metadata (span descriptors, page-map leaves, thread
/// heaps) obtained from the source; later chunks grow with the heap.
pub const META_MIN: usize = 16 << 10;
/// Metadata chunks stop growing at this size.
pub const META_MAX: usize = 1 << 20;

/// The thread-local-storage key vitalloc's per-thread heap pointer lives
/// in on the Vita (`sceKernelGetTLSAddr`). No registry hands out keys;
/// the ones known taken (DESIGN.md §2: 0–4, 6–9, 0x40–0x42, 0x44, 0x88,
/// 0x89) are far from this one. A library using the same key would break
/// both: the README says so.
pub const VITA_TLS_KEY: usize = 0xE7;

/// A thread's heap is checked for a dead owner (and its spans reclaimed)
/// at most once per this many slow-path entries into the shared heap.
pub const LIVENESS_SCAN_INTERVAL: u32 = 256;

/// A segment holding at most this many pages in use, all of them small
/// spans, has those spans marked so that they go back as soon as they are
/// empty (even as a thread's current span), letting the segment go back.
/// Marking and unmarking walk the segment's runs (at most 2 × this + 1)
/// in one call, which bounds the largest call: on ARM's pair trace at
/// 16 MiB live, 10308 instructions at 256, 6788 at 128 (4271 at 1 MiB
/// live). Below 128, a heap emptied with its spans grown to 16 KiB kept
/// segments (`empty_memory_goes_back_to_the_source`).
pub const PIN_CHECK_PAGES: usize = 128;

/// Ranges given back to the source that the heap remembers, so that a free
/// into one is reported as a double free (`released.rs`): 16 × 8 bytes.
pub const RELEASED_KEPT: usize = 16;

/// Pages of empty spans a thread heap keeps aside for reuse (64 KiB): the
/// bound on what a thread holds beyond its current spans.
pub const SPARE_PAGES: usize = 16;

/// A thread heap's spans of a class grow (doubling with each new span) up
/// to this many bytes and [`SPAN_GROW_OBJECTS`] objects (a class's base
/// span may be larger): a 1 KiB class's span grows to 16 objects, a
/// 64-byte class's to 256.
pub const SPAN_GROW_MAX: usize = 16 << 10;
/// Spans grow while they hold at most this many objects: making a span
/// lists every object, so this bounds the work of the call that makes one.
pub const SPAN_GROW_OBJECTS: usize = 256;

// ----- the debug build (feature `debug-heap`, `src/debug/`) -----------------

/// Bytes of canary the debug build asks for after every block, at least:
/// the canary is this plus whatever the block's size class rounds up, so an
/// overrun of up to this many bytes is always caught, a longer one when it
/// stays within the rounding. 16 covers the usual off-by-one and
/// missing-terminator writes (and a whole `double` or two pointers) for
/// 16 bytes per block.
pub const DEBUG_CANARY_MIN: usize = 16;

/// Bytes of freed blocks the debug build holds back (poisoned, in a FIFO)
/// before handing them back to the heap: a write through a stale pointer
/// is caught if it happens while the block is held. 1 MiB holds the last
/// few thousand small frees, is under 0.5 % of a Vita application's
/// memory, and is what checking the whole quarantine in `vitalloc_check`
/// reads.
pub const DEBUG_QUARANTINE_BYTES: usize = 1 << 20;

/// A freed block larger than this skips the quarantine (its canary is
/// still checked): one such block would otherwise flush every other one.
pub const DEBUG_QUARANTINE_MAX_BLOCK: usize = DEBUG_QUARANTINE_BYTES / 4;
