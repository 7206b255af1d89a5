//! Heap tests: each structure's invariants after targeted sequences, misuse
//! detection, and random operation sequences against a shadow model.
//!
//! SAFETY, for every `unsafe` block below: pointers handed to the heap came
//! from that same heap and are live, and reads and writes stay within a
//! block's usable size; the misuse tests pass foreign, interior or freed
//! pointers on purpose, which the heap must detect without touching memory
//! it does not own.

use super::config::*;
use super::*;
#[allow(unused_imports)]
use crate::front;
use crate::testing::{Src, TestHeap, arena_heap, miri_or};
use proptest::prelude::*;
use std::boxed::Box;
use std::string::ToString;
use std::vec::Vec;

type Locked = crate::Allocator<Src>;

/// Under Miri the heaps are arenas of 64 MiB (the tests that need more
/// shrink under `cfg(miri)`).
fn heap() -> TestHeap {
    crate::testing::heap(64 << 20)
}

fn meta_bytes(h: &Locked) -> usize {
    h.with(|h| h.meta.bytes)
}

fn meta_blocks(h: &Locked) -> usize {
    h.with(|h| h.meta.blocks)
}

fn set_limit(h: &Locked, limit: usize) {
    h.with(|h| {
        let t = Tunables {
            limit,
            ..h.tunables()
        };
        h.set_tunables(t)
    });
}

fn fill(p: *mut u8, n: usize, v: u8) {
    unsafe { core::ptr::write_bytes(p, v, n) }
}

/// Whether `p[..n]` all hold `v`. Under Miri, 16 bytes spread over the
/// block and the last (Miri checks the heap's memory safety, and a byte
/// costs it thousands of times more; the native run checks every byte).
fn holds(p: *mut u8, n: usize, v: u8) -> bool {
    let step = if cfg!(miri) { (n / 16).max(1) } else { 1 };
    (0..n)
        .step_by(step)
        .chain(n.checked_sub(1))
        .all(|i| unsafe { *p.add(i) } == v)
}

#[test]
fn every_size_class_and_tier_allocates_aligned_and_usable() {
    let h = heap();
    let mut live = Vec::new();
    // Sizes around every rounding step of each tier: class edges, TLSF
    // list edges, and page edges of large blocks.
    // Under Miri, a sample that fits its arena.
    let large_edges = (0..miri_or(256, 2)).map(|k| LARGE_THRESHOLD + 3 * PAGE_SIZE - 128 + k);
    for size in (0..=3 * SMALL_MAX)
        .step_by(miri_or(1, 997))
        .chain([4096, 65536, 300_000, 3 << 20])
        .chain(large_edges)
    {
        let p = h.malloc(size);
        assert!(!p.is_null(), "malloc({size})");
        assert_eq!(p as usize % MIN_ALIGN, 0);
        let usable = unsafe { h.usable_size(p) }.unwrap();
        assert!(usable >= size);
        fill(p, usable, size as u8);
        live.push((p, usable, size as u8));
    }
    h.check().unwrap();
    for (p, n, v) in live {
        assert!(holds(p, n, v));
        unsafe { h.free(p) }.unwrap();
    }
    h.check().unwrap();
    assert_eq!(h.stats().in_use, 0);
    assert_eq!(h.stats().allocations, 0);
}

#[test]
fn malloc_zero_gives_unique_pointers() {
    let h = heap();
    let a = h.malloc(0);
    let b = h.malloc(0);
    assert!(!a.is_null() && !b.is_null() && a != b);
}

#[test]
fn memalign_honours_every_power_of_two_up_to_4_mib() {
    let h = heap();
    // Under Miri every fourth alignment and the largest.
    let shifts = (0..=22)
        .step_by(miri_or(1, 4))
        .chain(cfg!(miri).then_some(22));
    for shift in shifts {
        let align = 1usize << shift;
        for size in [1, 100, 5000, 2 << 20] {
            // Page-map nodes the block's address range happens to need are
            // not the block's waste.
            let before = h.stats().reserved - meta_bytes(&h);
            let p = h.memalign(align, size);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "align {align} size {size}");
            let usable = unsafe { h.usable_size(p) }.unwrap();
            assert!(usable >= size);
            // A large block may not waste more than the alignment (plus the
            // header and granularity rounding).
            if size >= LARGE_THRESHOLD {
                let grown = h.stats().reserved - meta_bytes(&h) - before;
                assert!(
                    grown <= size + align.max(MIN_ALIGN) + 2 * PAGE_SIZE,
                    "align {align} grew {grown}"
                );
            }
            fill(p, usable, 0xAB);
            h.check().unwrap();
            unsafe { h.free(p) }.unwrap();
        }
    }
    h.check().unwrap();
}

#[test]
fn realloc_keeps_contents_and_grows_in_place_when_it_can() {
    let h = heap();
    let p = h.malloc(40_000);
    fill(p, 40_000, 7);
    let q = unsafe { h.realloc(p, 60_000) }.unwrap();
    assert_eq!(
        p, q,
        "the pages after a fresh medium block are free: grow in place"
    );
    assert!(holds(q, 40_000, 7));
    let r = unsafe { h.realloc(q, 35_000) }.unwrap();
    assert_eq!(r, q, "shrinking stays in place");
    let r = unsafe { h.realloc(r, 2000) }.unwrap();
    assert!(holds(r, 2000, 7));
    let s = unsafe { h.realloc(r, 10) }.unwrap();
    assert!(holds(s, 10, 7));
    let t = unsafe { h.realloc(s, 2 << 20) }.unwrap();
    assert!(holds(t, 10, 7));
    let z = unsafe { h.realloc(t, 0) }.unwrap();
    assert!(
        !z.is_null(),
        "realloc(p, 0) returns a minimum allocation, as newlib does"
    );
    h.check().unwrap();
    unsafe { h.free(z) }.unwrap();
    h.check().unwrap();
}

#[test]
fn shrinking_never_fails_even_without_memory() {
    let h = heap();
    let small = h.malloc(1000);
    let large = h.malloc(3 << 20);
    fill(small, 1000, 3);
    fill(large, 3 << 20, 4);
    // No memory beyond what is held: any move would fail.
    set_limit(&h, h.stats().reserved);
    let mut hog = Vec::new();
    loop {
        let p = h.malloc(16);
        if p.is_null() {
            break;
        }
        hog.push(p);
    }
    let s2 = unsafe { h.realloc(small, 20) }.unwrap();
    let l2 = unsafe { h.realloc(large, 100) }.unwrap();
    assert_eq!((s2, l2), (small, large), "kept in place");
    assert!(holds(s2, 20, 3) && holds(l2, 100, 4));
    h.check().unwrap();
}

#[test]
fn double_free_is_detected_in_every_tier() {
    for size in [16, 500, 5000, 2 << 20] {
        let h = heap();
        let keep = h.malloc(size); // keeps slabs and segments alive
        let p = h.malloc(size);
        unsafe { h.free(p) }.unwrap();
        let second = unsafe { h.free(p) };
        // Large blocks go back to the source (or the spare cache): the
        // range is remembered.
        for r in [second, unsafe { h.usable_size(p) }.map(|_| ())] {
            assert!(
                matches!(r, Err(Misuse::DoubleFree | Misuse::FreedMemory)),
                "size {size}: {r:?}"
            );
        }
        assert!(unsafe { h.realloc(p, size * 2) }.is_err(), "size {size}");
        h.check().unwrap();
        unsafe { h.free(keep) }.unwrap();
    }
}

#[test]
fn double_free_is_recognised_after_the_span_went_back() {
    // Far more 200-byte objects than a thread keeps spans for: when all
    // are freed, most spans go back to the page allocator (or their
    // segments to the source), and a second free of their objects finds
    // free pages (or memory given back): still a double free.
    let h = heap();
    let keep = h.malloc(100_000); // keeps the segment
    let ps: Vec<*mut u8> = (0..2000).map(|_| h.malloc(200)).collect();
    for &p in &ps {
        unsafe { h.free(p) }.unwrap();
    }
    let (mut freed_memory, mut double) = (0, 0);
    for &p in &ps {
        match unsafe { h.free(p) } {
            Err(Misuse::FreedMemory) => freed_memory += 1,
            Err(Misuse::DoubleFree) => double += 1,
            other => panic!("{p:?}: {other:?}"),
        }
        assert!(unsafe { h.usable_size(p) }.is_err());
    }
    assert!(freed_memory > 1000 && double > 0, "{freed_memory} {double}");
    // Not aligned as a block: not a double free.
    assert_eq!(
        unsafe { h.free(ps[1000].add(1)) },
        Err(Misuse::InvalidPointer)
    );
    h.check().unwrap();
    unsafe { h.free(keep) }.unwrap();
}

#[test]
fn foreign_and_interior_pointers_are_rejected() {
    let h = heap();
    let mut local = 0u64;
    assert_eq!(
        unsafe { h.free(&mut local as *mut u64 as *mut u8) },
        Err(Misuse::InvalidPointer)
    );
    for size in [24, 700, 9000, 3 << 20] {
        let p = h.malloc(size);
        for off in [MIN_ALIGN, 8, 1] {
            assert_eq!(
                unsafe { h.free(p.add(off)) },
                Err(Misuse::InvalidPointer),
                "size {size} +{off}"
            );
            assert_eq!(
                unsafe { h.usable_size(p.add(off)) },
                Err(Misuse::InvalidPointer)
            );
        }
        h.check().unwrap();
        unsafe { h.free(p) }.unwrap();
    }
}

#[test]
fn empty_memory_goes_back_to_the_source() {
    let h = heap();
    let ptrs: Vec<_> = (0..miri_or(20000, 1500))
        .map(|i| h.malloc(16 + i % 3000))
        .collect();
    let held = h.stats();
    assert!(held.segments > 3);
    for p in ptrs {
        unsafe { h.free(p) }.unwrap();
    }
    h.check().unwrap();
    let after = h.stats();
    assert!(
        after.segments <= 1,
        "one spare segment and the kept empty spans' at most, not {}",
        after.segments
    );
    h.trim(0);
    h.check().unwrap();
    assert_eq!(h.stats().segments, 0);
    assert_eq!(h.stats().source_blocks, meta_blocks(&h));
}

#[test]
fn segments_grow_geometrically() {
    let h = heap();
    let mut ptrs = Vec::new();
    // Under Miri, a smaller heap, and statistics (a walk) every 8 blocks.
    while h.stats().reserved < miri_or(200 << 20, 12 << 20) {
        for _ in 0..miri_or(1, 8) {
            ptrs.push(h.malloc(100_000));
        }
    }
    let s = h.stats();
    assert!(
        s.source_blocks < 72,
        "{} blocks for 200 MiB ({} segments)",
        s.source_blocks,
        s.segments
    );
    for p in ptrs {
        unsafe { h.free(p) }.unwrap();
    }
    h.check().unwrap();
}

#[test]
fn oscillating_at_a_boundary_does_not_call_the_source_each_time() {
    let h = heap();
    let mut blocks = 0;
    for i in 0..miri_or(1000, 60) {
        if i == 1 {
            // The first round obtains what the pattern needs (metadata
            // for the large block's address range, the spare large block).
            blocks = h.stats().source_blocks;
        }
        let p = h.malloc(64);
        let q = h.malloc(40_000);
        let r = h.malloc(LARGE_THRESHOLD);
        unsafe {
            h.free(r).unwrap();
            h.free(q).unwrap();
            h.free(p).unwrap();
        }
    }
    assert_eq!(h.stats().source_blocks, blocks);
    h.check().unwrap();
}

#[test]
fn limit_makes_allocations_fail_cleanly() {
    let h = heap();
    set_limit(&h, 4 << 20);
    let mut ptrs = Vec::new();
    loop {
        let p = h.malloc(50_000);
        if p.is_null() {
            break;
        }
        ptrs.push(p);
    }
    assert!(h.stats().reserved <= 4 << 20);
    assert!(h.stats().failed_calls >= 1);
    assert!(h.malloc(2 << 20).is_null());
    h.check().unwrap();
    for p in ptrs {
        unsafe { h.free(p) }.unwrap();
    }
    assert!(
        !h.malloc(2 << 20).is_null(),
        "memory given back is usable again"
    );
    h.check().unwrap();
}

#[test]
fn arena_source_serves_and_runs_out() {
    let mib = miri_or(4, 1);
    let h = arena_heap(mib << 20);
    let mut n = 0;
    while !h.malloc(1000).is_null() {
        n += 1;
    }
    // At least 3/4 of the arena serves KiB-sized blocks.
    assert!(
        n > 768 * mib,
        "only {n} KiB-sized blocks from a {mib} MiB arena"
    );
    h.check().unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Malloc(usize),
    Memalign(u32, usize),
    Realloc(usize, usize),
    Free(usize),
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..=SMALL_MAX,
        3 => SMALL_MAX..64 << 10,
        1 => (64usize << 10)..miri_or(3 << 20, (1 << 20) + (64 << 10)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => size().prop_map(Op::Malloc),
        1 => (4u32..=16, size()).prop_map(|(a, s)| Op::Memalign(a, s)),
        2 => (any::<usize>(), size()).prop_map(|(i, s)| Op::Realloc(i, s)),
        3 => any::<usize>().prop_map(Op::Free),
    ]
}

proptest! {
    // Under Miri: a few short sequences, and no regression files (Miri
    // isolates the program from the file system).
    #![proptest_config(ProptestConfig {
        cases: miri_or(96, 2) as u32,
        failure_persistence: if cfg!(miri) { None } else { ProptestConfig::default().failure_persistence },
        ..ProptestConfig::default()
    })]

    /// Random sequences against a shadow model of the live blocks: no
    /// overlap, contents preserved, alignment and usable size honoured,
    /// statistics consistent, `check` clean after every step.
    #[test]
    fn random_operations_match_the_model(ops in proptest::collection::vec(op(), 1..miri_or(600, 24))) {
        let h = heap();
        // (pointer, requested size, fill byte)
        let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
        let mut tag = 0u8;
        for op in ops {
            tag = tag.wrapping_add(1);
            match op {
                Op::Malloc(s) | Op::Memalign(_, s) => {
                    let align = if let Op::Memalign(a, _) = op { 1usize << a } else { MIN_ALIGN };
                    let p = if let Op::Memalign(..) = op { h.memalign(align, s) } else { h.malloc(s) };
                    prop_assert!(!p.is_null());
                    prop_assert_eq!(p as usize % align, 0);
                    let usable = unsafe { h.usable_size(p) }.unwrap();
                    prop_assert!(usable >= s);
                    fill(p, s, tag);
                    live.push((p, s, tag));
                }
                Op::Realloc(i, s) if !live.is_empty() => {
                    let (p, old, v) = live.swap_remove(i % live.len());
                    let q = unsafe { h.realloc(p, s) }.unwrap();
                    prop_assert!(!q.is_null());
                    prop_assert!(holds(q, old.min(s), v));
                    let usable = unsafe { h.usable_size(q) }.unwrap();
                    prop_assert!(usable >= s);
                    fill(q, s, tag);
                    live.push((q, s, tag));
                }
                Op::Free(i) if !live.is_empty() => {
                    let (p, s, v) = live.swap_remove(i % live.len());
                    prop_assert!(holds(p, s, v));
                    unsafe { h.free(p) }.unwrap();
                }
                _ => {}
            }
            h.check().map_err(|b| TestCaseError::fail(b.to_string()))?;
            let mut spans: Vec<(usize, usize)> = live.iter()
                .map(|&(p, _, _)| (p as usize, p as usize + unsafe { h.usable_size(p) }.unwrap()))
                .collect();
            spans.sort();
            for w in spans.windows(2) {
                prop_assert!(w[0].1 <= w[1].0, "live blocks overlap");
            }
            let st = h.stats();
            prop_assert_eq!(st.allocations, live.len());
            let usable: usize = live.iter().map(|&(p, _, _)| unsafe { h.usable_size(p) }.unwrap()).sum();
            prop_assert_eq!(st.in_use, usable);
        }
        for (p, s, v) in live {
            prop_assert!(holds(p, s, v));
            unsafe { h.free(p) }.unwrap();
        }
        h.check().map_err(|b| TestCaseError::fail(b.to_string()))?;
        prop_assert_eq!(h.stats().in_use, 0);
    }
}

#[test]
fn single_block_mode_serves_everything_from_one_block() {
    let h = heap();
    // Under Miri a smaller block: the walks over it are interpreted.
    let block = miri_or(32 << 20, 16 << 20);
    assert!(h.with(|h| h.set_single_block(block)));
    let first = h.malloc(1);
    let blocks = h.stats().source_blocks;
    assert_eq!(blocks, 1, "one block, page-map nodes included");
    let base = first as usize;
    let mut ptrs = std::vec![first];
    for size in [16, 5000, 300_000, 2 << 20, 3 << 20] {
        let p = h.malloc(size);
        assert!(!p.is_null());
        ptrs.push(p);
    }
    ptrs.push(h.memalign(1 << 20, 100));
    let s = h.stats();
    assert_eq!((s.source_blocks, s.large_blocks), (1, 0));
    for &p in &ptrs {
        assert!(
            (p as usize).abs_diff(base) < block,
            "every allocation lies in the block"
        );
    }
    assert!(
        h.malloc(block + (8 << 20)).is_null(),
        "the block never grows"
    );
    h.check().unwrap();
    for p in ptrs {
        unsafe { h.free(p) }.unwrap();
    }
    h.trim(0);
    assert_eq!(h.stats().source_blocks, 1, "the block is never given back");
    assert!(
        !h.malloc(block * 5 / 8).is_null(),
        "the whole block is usable again"
    );
    h.check().unwrap();
    assert!(
        !h.with(|h| h.set_single_block(1 << 20)),
        "too late once memory is held"
    );
}

#[test]
fn block_hook_sees_every_block_obtained_and_released() {
    use core::ffi::c_void;
    #[derive(Default)]
    struct Seen {
        live: std::collections::BTreeMap<usize, usize>,
        events: usize,
    }
    unsafe extern "C" fn hook(event: core::ffi::c_int, b: *const BlockInfo, user: *mut c_void) {
        let seen = unsafe { &mut *(user as *mut Seen) };
        let b = unsafe { &*b };
        seen.events += 1;
        match event {
            BLOCK_ACQUIRED => assert!(seen.live.insert(b.base as usize, b.size).is_none()),
            BLOCK_RELEASED => assert_eq!(seen.live.remove(&(b.base as usize)), Some(b.size)),
            _ => panic!("unknown event {event}"),
        }
    }
    let h = heap();
    let early = h.malloc(100); // before the hook: replayed when it is set
    // Reached only through this raw pointer (by the hook and by the test
    // between calls), so no reference outlives a call that runs the hook.
    let user = Box::into_raw(Box::<Seen>::default());
    let seen = || unsafe { &*user };
    h.with(|h| h.set_block_hook(Some(hook), user.cast::<c_void>()));
    assert_eq!(seen().live.len(), h.stats().source_blocks);
    let mut ptrs: Vec<_> = (0..miri_or(300, 30))
        .map(|i| h.malloc(1000 + i * 3000))
        .collect();
    ptrs.push(h.malloc(5 << 20));
    assert_eq!(seen().live.len(), h.stats().source_blocks);
    assert_eq!(seen().live.values().sum::<usize>(), h.stats().reserved);
    for p in ptrs {
        unsafe { h.free(p) }.unwrap();
    }
    unsafe { h.free(early) }.unwrap();
    h.trim(0);
    assert_eq!(seen().live.len(), h.stats().source_blocks);
    assert_eq!(seen().live.values().sum::<usize>(), h.stats().reserved);
    assert!(seen().events > 4);
    h.with(|h| h.set_block_hook(None, core::ptr::null_mut()));
    drop(unsafe { Box::from_raw(user) });
}

// ----- fault injection ------------------------------------------------------------

/// A block source for fault injection: an arena over a buffer it owns (a
/// few GiB of address space that is never touched stays unbacked) that
/// refuses on command, counting its calls and refusals.
struct FaultSource {
    inner: crate::source::ArenaSource,
    /// The buffer the arena is over (freed on drop, after the heap).
    buf: *mut [u8],
    /// Calls to `acquire`, and those refused.
    calls: usize,
    refused: usize,
    /// The call (counted from 0, from when it is set) that is refused.
    fail_in: Option<usize>,
    /// Alignment of the next block (then back to what the heap asks):
    /// placing it in address space no block used before.
    align_next: usize,
}

// SAFETY: the blocks are the arena's.
unsafe impl BlockSource for FaultSource {
    fn granularity(&self) -> usize {
        self.inner.granularity()
    }
    fn name(&self) -> &'static str {
        "fault injection"
    }
    fn acquire(
        &mut self,
        size: usize,
        align: usize,
        kind: crate::source::BlockKind,
    ) -> Result<crate::source::Block, crate::source::SourceError> {
        self.calls += 1;
        if let Some(n) = self.fail_in {
            self.fail_in = n.checked_sub(1);
            if n == 0 {
                self.refused += 1;
                return Err(crate::source::SourceError::Exhausted(0));
            }
        }
        let align = align.max(core::mem::take(&mut self.align_next));
        self.inner.acquire(size, align, kind)
    }
    unsafe fn release(&mut self, block: crate::source::Block) {
        unsafe { self.inner.release(block) }
    }
}

impl Drop for FaultSource {
    fn drop(&mut self) {
        // SAFETY: from `Box::into_raw` in `fault_heap`; the heap is gone.
        drop(unsafe { Box::from_raw(self.buf) });
    }
}

/// Bytes of address space one page-map leaf covers.
const LEAF_SPAN: usize = pagemap::LEAF_BYTES / size_of::<usize>() * PAGE_SIZE;

type FaultHeap = crate::Allocator<FaultSource>;

/// A heap over a fault-injecting arena of `bytes`, starting on a leaf
/// boundary (so where a block lands tells which leaf it needs).
fn fault_heap(bytes: usize) -> Box<FaultHeap> {
    let buf = Box::into_raw(std::vec![0u8; bytes + LEAF_SPAN].into_boxed_slice());
    let base = buf.cast::<u8>();
    let skip = base.addr().next_multiple_of(LEAF_SPAN) - base.addr();
    // SAFETY: the buffer is owned by the source and outlives the arena.
    let inner = unsafe { crate::source::ArenaSource::new(base.add(skip), bytes) };
    Box::new(crate::Allocator::new(FaultSource {
        inner,
        buf,
        calls: 0,
        refused: 0,
        fail_in: None,
        align_next: 0,
    }))
}

/// (calls, refusals) of the heap's source so far.
fn source_calls(h: &FaultHeap) -> (usize, usize) {
    h.with(|h| (h.source().calls, h.source().refused))
}

/// Leaves exactly `room` bytes of metadata bump space in a chunk, and no
/// recycled span or segment record, so the next metadata the heap takes
/// comes from there.
fn set_meta_room(h: &FaultHeap, room: usize) {
    h.with(|h| {
        assert!(h.ensure_meta(room + 64));
        // Recycled records are used before bump space: take them all (a
        // span take that moves the bump pointer was the last recycled one's).
        while !h.meta.take_recycled(meta::Pool::Segment).is_null() {}
        loop {
            let before = h.meta.room();
            assert!(!h.meta.try_take_span(span::KIND_FREE).is_null());
            if h.meta.room() != before {
                break;
            }
        }
        assert!(h.ensure_meta(room + 64));
        // An empty bump aligns the bump pointer (chunks end aligned).
        assert!(!h.meta.bump(0).is_null());
        let r = h.meta.room();
        assert!(r >= room && (r - room) % 16 == 0);
        if r > room {
            assert!(!h.meta.bump(r - room).is_null());
        }
        assert_eq!(h.meta.room(), room);
    });
}

/// A request for which the source refused nothing must succeed; here the
/// new segment needs a page-map leaf and the metadata has just enough room
/// for the leaf (and a little more), at every 16-byte step of that margin.
/// On a 32-bit target the leaf is 4 KiB, on 64-bit 32 KiB: the C fault
/// suite sees the same on ARM (`memalign(65536, 307200)` returning NULL).
#[test]
#[cfg_attr(miri, ignore = "an arena of many leaf spans")]
fn a_new_segment_never_fails_for_metadata_the_leaf_took() {
    type Req = fn(&FaultHeap) -> *mut u8;
    let requests: [(&str, Req); 5] = [
        ("memalign(64 KiB, 300 KiB)", |h| {
            h.memalign(64 << 10, 300 << 10)
        }),
        ("malloc(600 KiB)", |h| h.malloc(600 << 10)),
        ("memalign(256 KiB, 200 KiB)", |h| {
            h.memalign(256 << 10, 200 << 10)
        }),
        ("malloc(5000)", |h| h.malloc(5000)),
        ("malloc(1 MiB), large", |h| h.malloc(LARGE_THRESHOLD)),
    ];
    let need = pagemap::LEAF_BYTES + 16;
    for (what, req) in requests {
        for margin in (0..512).step_by(16) {
            let h = fault_heap(2 * LEAF_SPAN);
            // The first segment and metadata, in the first leaf's span; a
            // small object of another class than the request's.
            let warm = h.malloc(24);
            assert!(!warm.is_null());
            let fill = h.malloc(120 << 10);
            assert!(!fill.is_null(), "fills the first segment");
            set_meta_room(&h, need + 32 + margin);
            // The next block lands in the second leaf's span.
            h.with(|h| h.source_mut().align_next = LEAF_SPAN);
            let (c0, r0) = source_calls(&h);
            let p = req(&h);
            let (c1, r1) = source_calls(&h);
            assert!(c1 > c0, "{what}: the request needed a new block");
            assert!(
                !p.is_null() || r1 > r0,
                "{what} with {} bytes of metadata room: NULL though the source refused none of {} calls",
                need + 32 + margin,
                c1 - c0
            );
            h.check().unwrap();
            unsafe {
                h.free(p).unwrap();
                h.free(fill).unwrap();
                h.free(warm).unwrap();
            }
            h.trim(0);
            h.check().unwrap();
            assert_eq!(h.stats().segments, 0, "{what}: everything went back");
        }
    }
}

/// The very first request to the source is refused while a thread heap is
/// being made: that call is served by the allocator's own heap, the
/// thread's later calls by its heap, which frees every block (the first
/// one through a cross-thread free). Trimming then gives back every
/// segment: what the allocator's own heap keeps empty is cached memory
/// like any other.
#[test]
fn the_heap_that_served_a_failed_registration_is_trimmed() {
    let h = fault_heap(miri_or(64 << 20, 8 << 20));
    h.with(|h| h.source_mut().fail_in = Some(0));
    // What the front does on a thread's first call.
    let lh = h.with(|h| h.register_local(1, 0, |_| {}));
    assert!(lh.is_null(), "the refused request was the thread heap's");
    assert_eq!(source_calls(&h).1, 1);
    // The allocator's own heap serves this call (no thread heap here).
    let first = h.malloc(100);
    assert!(!first.is_null());
    let lh = h.with(|h| h.register_local(1, 0, |_| {}));
    assert!(!lh.is_null());
    let mut ptrs = Vec::new();
    unsafe {
        for i in 0..miri_or(200, 40) {
            ptrs.push(front::malloc(lh, &*h, 1 + (i * 97) % 4000));
        }
        ptrs.push(front::malloc(lh, &*h, 48 << 10));
        ptrs.push(front::memalign(lh, &*h, 64 << 10, 300 << 10));
        assert!(ptrs.iter().all(|p| !p.is_null()));
        front::free(lh, &*h, first).unwrap();
        for p in ptrs {
            front::free(lh, &*h, p).unwrap();
        }
        front::trim(lh, &*h, 0);
    }
    h.check().unwrap();
    let s = h.stats();
    assert_eq!(s.in_use, 0);
    assert_eq!(
        (s.segments, s.source_blocks),
        (0, h.with(|h| h.meta.blocks)),
        "after trim(0) only the metadata is held"
    );
    h.with(|h| unsafe { h.reclaim_local(lh) });
}

/// Siblings: whichever of the first requests to the source is refused,
/// and whatever the first call asks for (served by the allocator's own
/// heap when the thread heap could not be made), `check` stays clean and,
/// once everything is freed, `trim(0)` leaves the metadata alone.
#[test]
fn after_any_early_refusal_trim_leaves_only_metadata() {
    let firsts: [(usize, usize); 5] = [
        (100, 0),
        (20000, 0),
        (5000, 4096),
        (300 << 10, 64 << 10),
        (2 << 20, 0),
    ];
    for (size, align) in firsts {
        for n in 0..miri_or(6, 2) {
            let h = fault_heap(miri_or(64 << 20, 16 << 20));
            h.with(|h| h.source_mut().fail_in = Some(n));
            // A thread's first call, as `Allocator` makes it: through the
            // thread's heap if one can be made, else its own heap.
            let mut lh = h.with(|h| h.register_local(1, 0, |_| {}));
            let first = unsafe {
                match (lh.is_null(), align) {
                    (true, 0) => h.malloc(size),
                    (true, a) => h.memalign(a, size),
                    (false, 0) => front::malloc(lh, &*h, size),
                    (false, a) => front::memalign(lh, &*h, a, size),
                }
            };
            let what = std::format!("refusal {n}, first call ({size}, align {align})");
            assert!(
                !first.is_null() || source_calls(&h).1 == 1,
                "{what}: NULL, nothing refused"
            );
            h.check().unwrap();
            if lh.is_null() {
                lh = h.with(|h| h.register_local(1, 0, |_| {}));
            }
            assert!(!lh.is_null(), "{what}");
            let mut ptrs = std::vec![first];
            unsafe {
                for i in 0..miri_or(100, 20) {
                    ptrs.push(front::malloc(lh, &*h, 1 + (i * 331) % 9000));
                }
                ptrs.push(front::memalign(lh, &*h, 64 << 10, 300 << 10));
                ptrs.push(front::malloc(lh, &*h, 1 << 20));
                for &p in &ptrs[1..] {
                    assert!(!p.is_null(), "{what}");
                }
                for p in ptrs {
                    if !p.is_null() {
                        front::free(lh, &*h, p).unwrap();
                    }
                }
                front::trim(lh, &*h, 0);
            }
            h.check().unwrap();
            let s = h.stats();
            assert_eq!(s.in_use, 0, "{what}");
            assert_eq!(
                (s.segments, s.large_blocks, s.source_blocks),
                (0, 0, h.with(|h| h.meta.blocks)),
                "{what}: after trim(0) only the metadata is held"
            );
            h.with(|h| unsafe { h.reclaim_local(lh) });
        }
    }
}

/// The same for a thread heap's own current span: every object freed by
/// another thread (onto the span's remote list), then `trim(0)` from the
/// owner: the remote frees are collected before the span is looked at, so
/// it goes back, and its segment with it.
#[test]
fn trim_releases_a_current_span_emptied_by_other_threads() {
    let h = fault_heap(miri_or(64 << 20, 8 << 20));
    let a = h.with(|h| h.register_local(1, 0, |_| {}));
    let b = h.with(|h| h.register_local(2, 0, |_| {}));
    assert!(!a.is_null() && !b.is_null());
    unsafe {
        let ptrs: Vec<_> = (0..10).map(|_| front::malloc(a, &*h, 100)).collect();
        assert!(ptrs.iter().all(|p| !p.is_null()));
        for p in ptrs {
            front::free(b, &*h, p).unwrap();
        }
        front::trim(b, &*h, 0);
        front::trim(a, &*h, 0);
    }
    h.check().unwrap();
    let s = h.stats();
    assert_eq!(s.in_use, 0);
    assert_eq!(s.segments, 0, "after trim(0) no segment is held");
    h.with(|h| unsafe {
        h.reclaim_local(a);
        h.reclaim_local(b);
    });
}
