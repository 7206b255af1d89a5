//! BlockHeap against a shadow model, over a source whose data blocks the
//! test can make unreadable: the heap must never touch them.

extern crate std;

use super::{BlockHeap, MIN_ALIGN};
use crate::heap::Misuse;
#[cfg(miri)]
use crate::source::ArenaSource;
#[cfg(not(miri))]
use crate::source::MmapSource;
use crate::source::{Block, BlockKind, BlockSource, SourceError};
use crate::sync::SpinLock;
use std::vec::Vec;

/// mmap memory (under Miri, which has no partial munmap, an arena over a
/// buffer the source owns); with `guard`, segments and large blocks are
/// PROT_NONE from the moment they are handed out (only metadata stays
/// readable; natively only). Records the live blocks.
struct Tracked {
    #[cfg(not(miri))]
    inner: MmapSource,
    #[cfg(miri)]
    inner: ArenaSource,
    /// Under Miri: the arena's buffer, freed with the source.
    #[cfg(miri)]
    arena: *mut [u8],
    guard: bool,
    gran: usize,
    live: Vec<(usize, usize, BlockKind)>,
}

impl Tracked {
    fn new(guard: bool, gran: usize) -> Self {
        #[cfg(miri)]
        let arena = std::boxed::Box::into_raw(std::vec![0u8; 40 << 20].into_boxed_slice());
        Tracked {
            #[cfg(not(miri))]
            inner: MmapSource::new(),
            // SAFETY: the buffer is the arena's alone and outlives it
            // (freed in `drop`, after the heap gave everything back).
            #[cfg(miri)]
            inner: unsafe { ArenaSource::new(arena.cast(), arena.len()) },
            #[cfg(miri)]
            arena,
            guard,
            gran,
            live: Vec::new(),
        }
    }
}

// SAFETY: the arena buffer is owned by the source and only reached through
// it (under the heap's lock).
#[cfg(miri)]
unsafe impl Send for Tracked {}

#[cfg(miri)]
impl Drop for Tracked {
    fn drop(&mut self) {
        // SAFETY: made by `Box::into_raw` in `new`; no block is live.
        drop(unsafe { std::boxed::Box::from_raw(self.arena) });
    }
}

// SAFETY: forwards to MmapSource, which upholds the contract.
unsafe impl BlockSource for Tracked {
    fn granularity(&self) -> usize {
        self.gran
    }
    fn granularity_of(&self, kind: BlockKind) -> usize {
        match kind {
            BlockKind::Meta => 4096,
            _ => self.gran,
        }
    }
    fn name(&self) -> &'static str {
        "tracked"
    }
    fn acquire(
        &mut self,
        size: usize,
        align: usize,
        kind: BlockKind,
    ) -> Result<Block, SourceError> {
        assert_eq!(
            size % self.granularity_of(kind),
            0,
            "{kind:?} of {size} bytes"
        );
        let b = self.inner.acquire(size, align, kind)?;
        if self.guard && kind != BlockKind::Meta && !cfg!(miri) {
            // SAFETY: a fresh mapping of ours.
            unsafe { libc::mprotect(b.base.as_ptr().cast(), size, libc::PROT_NONE) };
        }
        self.live.push((b.base.as_ptr() as usize, size, kind));
        Ok(b)
    }
    unsafe fn release(&mut self, block: Block) {
        let a = block.base.as_ptr() as usize;
        let i = self
            .live
            .iter()
            .position(|&(b, s, _)| b == a && s == block.size);
        self.live
            .swap_remove(i.expect("released a block that is not live"));
        // SAFETY: forwarded.
        unsafe { self.inner.release(block) };
    }
}

type TestHeap = BlockHeap<Tracked, SpinLock>;

fn heap(guard: bool, gran: usize) -> std::boxed::Box<TestHeap> {
    std::boxed::Box::new(BlockHeap::new(Tracked::new(guard, gran)))
}

fn live_blocks(h: &TestHeap) -> Vec<(usize, usize, BlockKind)> {
    h.with(|h| h.source().live.clone())
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random mallocs, memaligns, frees and in-place or moving reallocs of
/// 1 B to 2^`max_shift` B (times up to 2) with alignments up to 1 MiB;
/// after every step the heap's check and the model's: alignment, usable
/// size, no overlap, stats.
fn shadow_run(guard: bool, gran: usize, steps: usize, seed: u64, max_shift: u64) {
    let h = heap(guard, gran);
    let mut rng = Rng(seed);
    let mut live: Vec<(*mut u8, usize, usize)> = Vec::new(); // (ptr, size, align)
    for step in 0..steps {
        let op = rng.below(10);
        if op < 5 || live.is_empty() {
            let size = 1usize << rng.below(max_shift.min(if cfg!(miri) { 20 } else { 23 }));
            let size = size + rng.below(size as u64) as usize - 1;
            let (p, align) = match op {
                0 => (h.malloc(size), MIN_ALIGN),
                1 | 2 => (h.memalign(4096, size), 4096),
                _ => {
                    let align = 1usize << rng.below(21);
                    (h.memalign(align, size), align)
                }
            };
            assert!(!p.is_null(), "step {step}: {size} bytes");
            live.push((p, size, align));
        } else if op < 8 || guard {
            let i = rng.below(live.len() as u64) as usize;
            let (p, _, _) = live.swap_remove(i);
            // SAFETY: a live block of this heap.
            unsafe { h.free(p) }.unwrap();
        } else {
            let i = rng.below(live.len() as u64) as usize;
            let (p, _, _) = live[i];
            let size = rng.below(1 << max_shift.min(22)) as usize;
            // SAFETY: a live block of this heap.
            let q = unsafe { h.realloc(p, size) }.unwrap();
            assert!(!q.is_null());
            live[i] = (q, size, MIN_ALIGN);
        }
        h.check().unwrap_or_else(|b| panic!("step {step}: {b}"));
        let mut in_use = 0;
        for &(p, size, align) in &live {
            assert_eq!(p.addr() % align, 0, "step {step}");
            // SAFETY: live blocks of this heap.
            let u = unsafe { h.usable_size(p) }.unwrap();
            assert!(u >= size, "step {step}: usable {u} < {size}");
            in_use += u;
        }
        let mut spans: Vec<(usize, usize)> = live.iter().map(|&(p, s, _)| (p.addr(), s)).collect();
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "step {step}: overlap");
        }
        let st = h.stats();
        assert_eq!(st.in_use, in_use, "step {step}");
        assert_eq!(st.allocations, live.len(), "step {step}");
    }
    // SAFETY: nothing uses the heap again.
    let left = unsafe { h.destroy() };
    assert_eq!(left, live.len());
    assert!(live_blocks(&h).is_empty(), "destroy returns every block");
}

#[test]
fn never_touches_the_memory_it_manages() {
    // Segments and large blocks are PROT_NONE: any access by the heap
    // would fault. (No realloc that moves: the copy is the caller's data.)
    shadow_run(
        true,
        4096,
        if cfg!(miri) { 20 } else { 1500 },
        0x9E37_79B9,
        23,
    );
}

#[test]
fn small_blocks_are_slots_and_never_touched() {
    // Mostly blocks below a page (slots), PROT_NONE all the same.
    shadow_run(true, 4096, if cfg!(miri) { 25 } else { 4000 }, 0x51_07, 12);
}

#[test]
fn shadow_model_with_realloc_and_cdram_granularity() {
    shadow_run(
        false,
        256 << 10,
        if cfg!(miri) { 20 } else { 1500 },
        0x1234_5678,
        23,
    );
    // Mostly slots among 1 MiB-granular segments (natively only: the
    // interpreted walks take minutes; the slot tests below run under Miri).
    if !cfg!(miri) {
        shadow_run(false, 1 << 20, 3000, 0xABCD, 13);
    }
}

#[test]
fn a_write_past_a_block_cannot_corrupt_the_heap() {
    let h = heap(false, 4096);
    let ps: Vec<*mut u8> = (0..64).map(|i| h.malloc(1000 + i * 300)).collect();
    let mapped = live_blocks(&h);
    for (i, &p) in ps.iter().enumerate() {
        // SAFETY: writes inside the block and up to 512 bytes past its
        // usable end, inside the same mapping (segments need not be
        // adjacent): into the next block or free memory, never into
        // anything of the heap's (it keeps nothing there).
        unsafe {
            let u = h.usable_size(p).unwrap();
            let spill = if i % 2 == 0 { 512 } else { 0 };
            let (a, n) = (p as usize, u + spill);
            if mapped.iter().any(|&(b, s, _)| b <= a && a + n <= b + s) {
                core::ptr::write_bytes(p, 0xEE, n);
            }
        }
    }
    h.check().unwrap();
    for &p in ps.iter().step_by(2) {
        // SAFETY: live blocks.
        unsafe { h.free(p) }.unwrap();
    }
    let again: Vec<*mut u8> = (0..32).map(|_| h.malloc(5000)).collect();
    h.check().unwrap();
    assert!(again.iter().all(|p| !p.is_null()));
    // SAFETY: nothing uses the heap again.
    unsafe { h.destroy() };
}

#[test]
fn misuse_is_reported_not_obeyed() {
    let h = heap(false, 4096);
    let other = heap(false, 4096);
    let p = h.malloc(10_000);
    let q = other.malloc(100);
    let mut local = 0u64;
    // SAFETY: every call below is misuse the heap must detect.
    unsafe {
        assert_eq!(
            h.free((&mut local as *mut u64).cast()),
            Err(Misuse::InvalidPointer)
        );
        assert_eq!(
            h.free(q),
            Err(Misuse::InvalidPointer),
            "another heap's block"
        );
        assert_eq!(
            h.free(p.add(4096)),
            Err(Misuse::InvalidPointer),
            "inside a block"
        );
        h.free(p).unwrap();
        assert!(matches!(
            h.free(p),
            Err(Misuse::DoubleFree | Misuse::FreedMemory)
        ));
        assert!(h.usable_size(p).is_err());
        assert!(h.realloc(p, 10).is_err());
        let big = h.malloc(3 << 20);
        h.free(big).unwrap();
        assert!(matches!(
            h.free(big),
            Err(Misuse::DoubleFree | Misuse::FreedMemory)
        ));
    }
    h.check().unwrap();
    // SAFETY: nothing uses the heaps again.
    unsafe {
        assert_eq!(h.destroy(), 0);
        assert_eq!(other.destroy(), 1);
    }
}

#[test]
fn the_limit_gives_null_and_the_heap_recovers() {
    let h = heap(false, 256 << 10);
    let mut t = h.tunables();
    t.limit = 4 << 20;
    h.set_tunables(t);
    let mut ps = Vec::new();
    loop {
        let p = h.malloc(300 << 10);
        if p.is_null() {
            break;
        }
        ps.push(p);
        assert!(ps.len() < 100, "the limit is not enforced");
    }
    assert!(h.stats().reserved <= 4 << 20);
    for p in ps.drain(..) {
        // SAFETY: live blocks.
        unsafe { h.free(p) }.unwrap();
    }
    assert!(!h.malloc(300 << 10).is_null(), "usable again after frees");
    h.check().unwrap();
    // SAFETY: nothing uses the heap again.
    assert_eq!(unsafe { h.destroy() }, 1);
    assert!(live_blocks(&h).is_empty());
}

#[test]
fn a_fixed_capacity_is_one_block_and_never_more() {
    let h = heap(true, 256 << 10);
    assert!(h.with(|h| h.set_fixed_block(1 << 20)));
    let data = |h: &TestHeap| {
        live_blocks(h)
            .into_iter()
            .filter(|b| b.2 != BlockKind::Meta)
            .count()
    };
    assert_eq!(data(&h), 1, "reserved up front");
    let mut ps = Vec::new();
    loop {
        let p = h.memalign(64 << 10, 40 << 10);
        if p.is_null() {
            break;
        }
        assert_eq!(p as usize % (64 << 10), 0);
        ps.push(p);
        assert!(ps.len() <= 16);
    }
    assert!(ps.len() >= 8, "{} blocks of 40 KiB fit 1 MiB", ps.len());
    assert!(h.malloc(2 << 20).is_null(), "nothing beyond the capacity");
    assert_eq!(data(&h), 1);
    for p in ps.drain(..) {
        // SAFETY: live blocks.
        unsafe { h.free(p) }.unwrap();
    }
    assert!(!h.trim(0) || data(&h) == 1, "the block stays");
    assert_eq!(data(&h), 1);
    h.check().unwrap();
    // SAFETY: nothing uses the heap again.
    assert_eq!(unsafe { h.destroy() }, 0);
    assert!(live_blocks(&h).is_empty());
}

#[test]
fn growth_starts_at_the_configured_unit() {
    let h = heap(false, 256 << 10);
    let mut t = h.tunables();
    t.segment_min = 2 << 20;
    h.set_tunables(t);
    let p = h.malloc(4096);
    let seg = live_blocks(&h)
        .into_iter()
        .find(|b| b.2 == BlockKind::Segment)
        .unwrap();
    assert_eq!(seg.1, 2 << 20);
    // SAFETY: a live block; then nothing uses the heap again.
    unsafe {
        h.free(p).unwrap();
        h.destroy();
    }
}

#[test]
fn threads_share_a_heap_object_under_its_lock() {
    let h = heap(false, 256 << 10);
    let threads = if cfg!(miri) { 2 } else { 4 };
    let rounds = if cfg!(miri) { 10 } else { 2000 };
    std::thread::scope(|s| {
        for t in 0..threads {
            let h = &*h;
            s.spawn(move || {
                let mut rng = Rng(0x51ED + t as u64);
                let mut mine: Vec<(*mut u8, usize)> = Vec::new();
                for _ in 0..rounds {
                    if mine.len() < 32 && rng.below(3) != 0 {
                        let size = 1 + rng.below(200_000) as usize;
                        let p = h.memalign(256 << rng.below(5), size);
                        assert!(!p.is_null());
                        // SAFETY: the block is this thread's.
                        unsafe { core::ptr::write_bytes(p, t as u8, size.min(64)) };
                        mine.push((p, size));
                    } else if let Some((p, size)) = mine.pop() {
                        // SAFETY: the block is this thread's; its first
                        // bytes were written with the thread's number.
                        unsafe {
                            let b = core::slice::from_raw_parts(p, size.min(64));
                            assert!(b.iter().all(|&x| x == t as u8), "another thread wrote here");
                            h.free(p).unwrap();
                        }
                    }
                }
                for (p, _) in mine {
                    // SAFETY: the thread's own blocks.
                    unsafe { h.free(p) }.unwrap();
                }
            });
        }
    });
    h.check().unwrap();
    assert_eq!(h.stats().allocations, 0);
    // SAFETY: nothing uses the heap again.
    assert_eq!(unsafe { h.destroy() }, 0);
}

#[test]
fn small_blocks_share_pages_and_go_back_when_freed() {
    let h = heap(true, 4096);
    // A renderer's uniform buffers: 64 bytes each, 16-byte aligned.
    let n = if cfg!(miri) { 100 } else { 5000 };
    let ps: Vec<*mut u8> = (0..n).map(|_| h.memalign(16, 64)).collect();
    assert!(ps.iter().all(|p| !p.is_null() && p.addr() % 64 == 0));
    let st = h.stats();
    assert_eq!((st.allocations, st.in_use), (n, n * 64));
    assert_eq!(
        st.slab_bytes,
        (n * 64).next_multiple_of(4096),
        "64-byte slots fill their pages"
    );
    // SAFETY: live blocks of this heap.
    unsafe {
        assert_eq!(h.usable_size(ps[7]), Ok(64));
        assert_eq!(h.realloc(ps[7], 50), Ok(ps[7]), "fits its slot: in place");
        assert_eq!(h.free(ps[7].add(16)), Err(Misuse::InvalidPointer));
        h.free(ps[7]).unwrap();
        assert_eq!(h.free(ps[7]), Err(Misuse::DoubleFree));
        assert_eq!(h.usable_size(ps[7]), Err(Misuse::DoubleFree));
        for &p in &ps[8..] {
            h.free(p).unwrap();
        }
    }
    h.check().unwrap();
    // What is left: one page of slots (ps[0..7]) and the class's empty
    // span kept at most; nothing pins a segment once all is freed.
    assert!(h.stats().slab_bytes <= 2 * 4096);
    for &p in &ps[..7] {
        // SAFETY: live blocks.
        unsafe { h.free(p) }.unwrap();
    }
    h.check().unwrap();
    let st = h.stats();
    assert_eq!((st.allocations, st.slabs), (0, 0));
    assert!(st.segments <= 1, "at most the spare segment is kept");
    // Every size class and alignment a slot can serve.
    for align in [1, 16, 64, 256, 1024, 2048] {
        for size in [0, 1, 16, 17, 100, 200, 777, 1500, 2048] {
            let p = h.memalign(align, size);
            assert!(!p.is_null() && p.addr() % align.max(MIN_ALIGN) == 0);
            // SAFETY: a live block.
            let u = unsafe { h.usable_size(p) }.unwrap();
            assert!(
                u >= size && u <= size.max(align).max(16) * 2,
                "{size} -> {u}"
            );
            h.check().unwrap();
            // SAFETY: a live block.
            unsafe { h.free(p) }.unwrap();
        }
    }
    assert_eq!(h.stats().slabs, 0, "alone in its segment, no span is kept");
    // Beside a block of pages, the emptied span stays for the next slot,
    // until trimmed.
    let pages = h.malloc(8192);
    let p = h.malloc(100);
    // SAFETY: a live block.
    unsafe { h.free(p) }.unwrap();
    assert_eq!(h.stats().slabs, 1, "kept");
    h.check().unwrap();
    h.trim(0);
    assert_eq!(h.stats().slabs, 0, "trim gives it back");
    // SAFETY: a live block.
    unsafe { h.free(pages) }.unwrap();
    h.trim(0);
    assert_eq!(h.stats().segments, 0);
    // SAFETY: nothing uses the heap again.
    assert_eq!(unsafe { h.destroy() }, 0);
    assert!(live_blocks(&h).is_empty());
}
