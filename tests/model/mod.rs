//! The shadow model of an allocator's live blocks and the operation driver
//! shared by the fuzz target (`fuzz/fuzz_targets/ops.rs`, which includes
//! this file by path) and the soak test (`tests/soak.rs`).
//!
//! It owns what "correct" means for a sequence of calls: every block is
//! non-null, aligned as asked, has at least the requested usable bytes, and
//! overlaps no other live block; a block's bytes (all of its usable size,
//! so a wrong `usable_size` shows up as a corrupted neighbour) hold a
//! pattern that depends on the block's seed and on the offset, so a block
//! moved by a wrong amount, copied short, or overwritten by the heap's own
//! bookkeeping is caught when it is verified (on free, realloc and at the
//! end); `realloc` keeps the prefix; statistics agree with the model; the
//! heap's `check()` passes. Operations are decoded from a stream of words
//! (fuzzer input bytes, or a PRNG in the soak), so both drive the same
//! code. A failed check panics with what broke.
//!
//! Some operations run on a second thread (a worker that frees, allocates
//! and reallocates on request, synchronously so a sequence stays
//! reproducible), and bursts run on a fresh thread that exits with its
//! blocks still live: cross-thread frees and thread-heap reclaim.
//!
//! SAFETY, for every `unsafe` block below: pointers passed to the allocator
//! came from it and are live in the model (each is removed from the model
//! before it is freed or reallocated); reads and writes stay within a
//! block's usable size as the allocator reported it.
#![allow(dead_code)] // each includer uses a different part

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread;
use vitalloc::heap::config::{LARGE_THRESHOLD, SMALL_MAX};
use vitalloc::{Allocator, Stats, source::BlockSource, sync::RawLock};

/// The calls the driver makes; implemented by every [`Allocator`].
pub trait Heap: Sync + 'static {
    fn malloc(&self, size: usize) -> *mut u8;
    fn memalign(&self, align: usize, size: usize) -> *mut u8;
    /// # Safety
    /// `p` is live and from this heap.
    unsafe fn realloc(&self, p: *mut u8, size: usize) -> *mut u8;
    /// # Safety
    /// `p` is live and from this heap.
    unsafe fn free(&self, p: *mut u8);
    /// # Safety
    /// `p` is live and from this heap.
    unsafe fn usable_size(&self, p: *mut u8) -> usize;
    fn check(&self) -> Result<(), vitalloc::heap::Broken>;
    fn stats(&self) -> Stats;
    fn trim(&self);
}

impl<S, L, const P: bool> Heap for Allocator<S, L, P>
where
    S: BlockSource + Send + 'static,
    L: RawLock + Sync + Send + 'static,
{
    fn malloc(&self, size: usize) -> *mut u8 {
        Allocator::malloc(self, size)
    }
    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        Allocator::memalign(self, align, size)
    }
    unsafe fn realloc(&self, p: *mut u8, size: usize) -> *mut u8 {
        unsafe { Allocator::realloc(self, p, size) }.expect("realloc of a live block")
    }
    unsafe fn free(&self, p: *mut u8) {
        unsafe { Allocator::free(self, p) }.expect("free of a live block")
    }
    unsafe fn usable_size(&self, p: *mut u8) -> usize {
        unsafe { Allocator::usable_size(self, p) }.expect("usable_size of a live block")
    }
    fn check(&self) -> Result<(), vitalloc::heap::Broken> {
        Allocator::check(self)
    }
    fn stats(&self) -> Stats {
        Allocator::stats(self)
    }
    fn trim(&self) {
        Allocator::trim(self, 0);
    }
}

/// Heap objects (`vitalloc_heap_*`): every block out of band (slots below
/// 2 KiB, page runs above).
impl<S, L> Heap for vitalloc::blocks::BlockHeap<S, L>
where
    S: BlockSource + Send + 'static,
    L: RawLock + Sync + Send + 'static,
{
    fn malloc(&self, size: usize) -> *mut u8 {
        vitalloc::blocks::BlockHeap::malloc(self, size)
    }
    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        vitalloc::blocks::BlockHeap::memalign(self, align, size)
    }
    unsafe fn realloc(&self, p: *mut u8, size: usize) -> *mut u8 {
        unsafe { vitalloc::blocks::BlockHeap::realloc(self, p, size) }
            .expect("realloc of a live block")
    }
    unsafe fn free(&self, p: *mut u8) {
        unsafe { vitalloc::blocks::BlockHeap::free(self, p) }.expect("free of a live block")
    }
    unsafe fn usable_size(&self, p: *mut u8) -> usize {
        unsafe { vitalloc::blocks::BlockHeap::usable_size(self, p) }
            .expect("usable_size of a live block")
    }
    fn check(&self) -> Result<(), vitalloc::heap::Broken> {
        vitalloc::blocks::BlockHeap::check(self)
    }
    fn stats(&self) -> Stats {
        vitalloc::blocks::BlockHeap::stats(self)
    }
    fn trim(&self) {
        vitalloc::blocks::BlockHeap::trim(self, 0);
    }
}

/// The pattern's word at word offset `k` of a block with seed `seed`.
#[inline(always)]
fn word(seed: u64, k: usize) -> u64 {
    (seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).rotate_left(k as u32 & 63)
}

/// Blocks up to this size are patterned whole; larger ones at their head,
/// tail and the start of every page (where a heap that kept bookkeeping
/// in freed memory would write it), so a 6 MiB block costs microseconds.
const WHOLE: usize = 64 << 10;
const EDGE: usize = 4096;
const PAGE_SAMPLE: usize = 16;

/// The byte ranges of an `n`-byte block that carry the pattern; each starts
/// at a multiple of 8.
fn pieces(n: usize) -> impl Iterator<Item = (usize, usize)> {
    let whole = (n <= WHOLE).then_some((0, n));
    let sampled = (n > WHOLE).then(|| {
        let tail = (n - EDGE) & !7;
        core::iter::once((0, EDGE))
            .chain((EDGE..tail).step_by(EDGE).map(|s| (s, s + PAGE_SAMPLE)))
            .chain(core::iter::once((tail, n)))
    });
    whole.into_iter().chain(sampled.into_iter().flatten())
}

/// Fills the pattern of `seed` into the pieces of an `n`-byte block at `p`.
fn fill(p: *mut u8, n: usize, seed: u64) {
    for (s, e) in pieces(n) {
        for k in s / 8..e / 8 {
            unsafe { p.add(8 * k).cast::<u64>().write_unaligned(word(seed, k)) };
        }
        let last = word(seed, e / 8).to_le_bytes();
        for (i, &b) in last.iter().enumerate().take(e % 8) {
            unsafe { p.add(e / 8 * 8 + i).write(b) };
        }
    }
}

/// The first offset below `limit` in the pieces of an `n`-byte block at
/// `p` that does not hold the pattern of `seed`.
fn first_mismatch(p: *const u8, n: usize, limit: usize, seed: u64) -> Option<usize> {
    for (s, e) in pieces(n) {
        let e = e.min(limit);
        for k in s / 8..e / 8 {
            if unsafe { p.add(8 * k).cast::<u64>().read_unaligned() } != word(seed, k) {
                return Some(8 * k);
            }
        }
        if s < e {
            let last = word(seed, e / 8).to_le_bytes();
            let tail = e / 8 * 8;
            if let Some(i) = (0..e % 8).find(|&i| unsafe { p.add(tail + i).read() } != last[i]) {
                return Some(tail + i);
            }
        }
    }
    None
}

/// A live block in the model.
#[derive(Clone, Copy, Debug)]
struct Live {
    size: usize,
    usable: usize,
    seed: u64,
    /// Its index in [`Model::order`].
    slot: usize,
}

/// One decoded operation. Indices pick a live block modulo their count.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Malloc(usize),
    Memalign(usize, usize),
    Realloc(usize, usize),
    Free(usize),
    UsableSize(usize),
    /// The worker thread frees the block.
    RemoteFree(usize),
    /// The worker thread allocates a block that this thread owns from now on.
    RemoteMalloc(usize),
    /// The worker thread reallocates the block.
    RemoteRealloc(usize, usize),
    /// A new thread allocates this many blocks of about this size and exits.
    Burst(usize, usize),
    Trim,
}

/// Operation mix and limits.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Largest size a request may have.
    pub max_size: usize,
    /// Largest alignment shift for memalign.
    pub max_align_shift: u32,
    /// Whether operations may use other threads.
    pub threads: bool,
    /// One in 2^this sized requests is large or medium (the rest small).
    pub big_one_in_log2: u32,
    /// With this many blocks live, allocating operations free instead
    /// (bounds a long run's memory).
    pub max_live: usize,
}

impl Mix {
    /// The fuzzer's: every tier, alignments up to 4 MiB, threads.
    pub const FUZZ: Mix = Mix {
        max_size: 6 << 20,
        max_align_shift: 22,
        threads: true,
        big_one_in_log2: 3,
        max_live: 1024,
    };

    /// The soak's: the same tiers with fewer big blocks, no worker thread
    /// (a round trip per operation would dominate; the threaded soak covers
    /// cross-thread frees), at most 2000 blocks live.
    pub const SOAK: Mix = Mix {
        max_size: 4 << 20,
        max_align_shift: 22,
        threads: false,
        big_one_in_log2: 6,
        max_live: 2000,
    };
}

impl Op {
    /// Decodes one operation from `next` (which yields random words).
    pub fn decode(mix: &Mix, mut next: impl FnMut() -> u64) -> Op {
        let w = next();
        let idx = (w >> 8) as usize;
        let size = decode_size(mix, next());
        let kind = (w & 0xFF) % if mix.threads { 32 } else { 24 };
        match kind {
            0..=7 => Op::Malloc(size),
            8..=9 => {
                let shift = (w >> 40) as u32 % (mix.max_align_shift + 1);
                Op::Memalign(1 << shift, size)
            }
            10..=13 => Op::Realloc(idx, size),
            14..=20 => Op::Free(idx),
            21..=22 => Op::UsableSize(idx),
            23 => {
                if w >> 16 & 0xFF == 0 {
                    Op::Trim
                } else {
                    Op::Free(idx)
                }
            }
            24..=26 => Op::RemoteFree(idx),
            27..=28 => Op::RemoteMalloc(size),
            29..=30 => Op::RemoteRealloc(idx, size),
            _ => {
                if w >> 16 & 0x7 == 0 {
                    Op::Burst(1 + (w >> 20) as usize % 16, size.min(SMALL_MAX))
                } else {
                    Op::RemoteFree(idx)
                }
            }
        }
    }
}

/// A request size: mostly small (where the classes are), sometimes
/// medium or large, and exact edges of the tiers.
fn decode_size(mix: &Mix, w: u64) -> usize {
    let r = (w >> 8) as usize;
    let big = w & ((1 << mix.big_one_in_log2) - 1) == 0;
    let s = match ((w >> 4) & 7, big) {
        (0 | 4, false) => r % 65,
        (1 | 2 | 5 | 6, false) => r % 1025,
        (_, false) => r % (SMALL_MAX + 1),
        (k, true) => match k {
            0 => [
                0,
                SMALL_MAX,
                SMALL_MAX + 1,
                LARGE_THRESHOLD - 1,
                LARGE_THRESHOLD,
            ][r % 5],
            1..=4 => SMALL_MAX + r % (LARGE_THRESHOLD - SMALL_MAX),
            _ => LARGE_THRESHOLD + r % mix.max_size.saturating_sub(LARGE_THRESHOLD).max(1),
        },
    };
    s.min(mix.max_size)
}

/// A request to the worker thread; pointers travel as addresses.
enum Job {
    Free(usize),
    Malloc(usize),
    Realloc(usize, usize),
}

/// A thread that runs jobs for the driver, one at a time, and checks the
/// heap (with its own thread heap) after each.
struct Worker {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<usize>,
}

impl Worker {
    fn start<H: Heap>(heap: &'static H) -> Worker {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (tx, done) = mpsc::channel();
        thread::spawn(move || {
            for job in rx {
                let r = match job {
                    Job::Free(p) => {
                        unsafe { heap.free(p as *mut u8) };
                        0
                    }
                    Job::Malloc(n) => heap.malloc(n) as usize,
                    Job::Realloc(p, n) => (unsafe { heap.realloc(p as *mut u8, n) }) as usize,
                };
                if let Err(e) = heap.check() {
                    panic!("check() on the worker thread: {e}");
                }
                if tx.send(r).is_err() {
                    break;
                }
            }
        });
        Worker { jobs, done }
    }

    fn run(&self, job: Job) -> usize {
        self.jobs.send(job).expect("worker alive");
        self.done.recv().expect("worker alive")
    }
}

/// The live blocks, by address, and the driver of one heap.
pub struct Model<H: Heap> {
    heap: &'static H,
    live: BTreeMap<usize, Live>,
    /// The live blocks' addresses, for picking the `i`-th in O(1).
    order: Vec<usize>,
    worker: Option<Worker>,
    /// Allocations the heap held before the model started.
    base_allocations: usize,
    seed: u64,
    /// Operations applied and `check()` calls made.
    pub ops: u64,
    pub checks: u64,
}

impl<H: Heap> Model<H> {
    /// A model of `heap`, which must not be used by anyone else meanwhile
    /// (statistics are compared exactly). With `threads`, starts a worker.
    pub fn new(heap: &'static H, threads: bool) -> Self {
        Model {
            heap,
            live: BTreeMap::new(),
            order: Vec::new(),
            worker: threads.then(|| Worker::start(heap)),
            base_allocations: heap.stats().allocations,
            seed: 0x5EED,
            ops: 0,
            checks: 0,
        }
    }

    fn next_seed(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.seed
    }

    fn nth(&self, idx: usize) -> Option<usize> {
        (!self.order.is_empty()).then(|| self.order[idx % self.order.len()])
    }

    /// Takes a new block into the model: checks alignment, usable size and
    /// overlap, then fills it.
    fn insert(&mut self, p: *mut u8, size: usize, align: usize, what: &str) {
        assert!(!p.is_null(), "{what}({size}) failed");
        let a = p as usize;
        assert_eq!(
            a % align,
            0,
            "{what}({size}) is not aligned to {align}: {p:p}"
        );
        let usable = unsafe { self.heap.usable_size(p) };
        assert!(usable >= size, "{what}({size}): usable size {usable}");
        if let Some((&b, l)) = self.live.range(..=a).next_back() {
            assert!(
                b + l.usable <= a,
                "{what}({size}) at {a:#x} overlaps {b:#x}+{}",
                l.usable
            );
        }
        if let Some((&b, _)) = self.live.range(a..).next() {
            assert!(
                a + usable <= b,
                "{what}({size}) at {a:#x}+{usable} overlaps {b:#x}"
            );
        }
        let seed = self.next_seed();
        fill(p, usable, seed);
        let slot = self.order.len();
        self.order.push(a);
        self.live.insert(
            a,
            Live {
                size,
                usable,
                seed,
                slot,
            },
        );
    }

    /// Takes a block out of the model after verifying all its bytes.
    fn take(&mut self, a: usize, what: &str) -> Live {
        let l = self.live.remove(&a).expect("live block");
        self.order.swap_remove(l.slot);
        if let Some(&moved) = self.order.get(l.slot) {
            self.live.get_mut(&moved).expect("live block").slot = l.slot;
        }
        if let Some(off) = first_mismatch(a as *const u8, l.usable, l.usable, l.seed) {
            panic!(
                "{what}: block {a:#x} (size {}, usable {}) corrupted at offset {off}",
                l.size, l.usable
            );
        }
        l
    }

    /// A reallocated block: its prefix kept, then refilled.
    fn reinsert(&mut self, q: *mut u8, old: Live, size: usize, what: &str) {
        assert!(!q.is_null(), "{what}({size}) failed");
        let keep = old.size.min(size);
        if let Some(off) = first_mismatch(q, old.usable, keep, old.seed) {
            panic!("{what}({size}) lost contents at offset {off} of {keep}");
        }
        self.insert(q, size, vitalloc::heap::config::MIN_ALIGN, what);
    }

    /// Applies one operation and checks the heap.
    pub fn apply(&mut self, op: Op, max_live: usize, check: bool) {
        self.ops += 1;
        let op = match op {
            Op::Malloc(_) | Op::Memalign(..) | Op::RemoteMalloc(_) | Op::Burst(..)
                if self.order.len() >= max_live =>
            {
                Op::Free(self.seed as usize)
            }
            op => op,
        };
        match op {
            Op::Malloc(n) => {
                let p = self.heap.malloc(n);
                self.insert(p, n, vitalloc::heap::config::MIN_ALIGN, "malloc");
            }
            Op::Memalign(align, n) => {
                let p = self.heap.memalign(align, n);
                self.insert(p, n, align, "memalign");
            }
            Op::Realloc(i, n) => {
                if let Some(a) = self.nth(i) {
                    let old = self.take(a, "realloc");
                    let q = unsafe { self.heap.realloc(a as *mut u8, n) };
                    self.reinsert(q, old, n, "realloc");
                }
            }
            Op::Free(i) => {
                if let Some(a) = self.nth(i) {
                    self.take(a, "free");
                    unsafe { self.heap.free(a as *mut u8) };
                }
            }
            Op::UsableSize(i) => {
                if let Some(a) = self.nth(i) {
                    let u = unsafe { self.heap.usable_size(a as *mut u8) };
                    assert_eq!(u, self.live[&a].usable, "usable_size changed");
                }
            }
            Op::RemoteFree(i) => {
                if let (Some(a), true) = (self.nth(i), self.worker.is_some()) {
                    self.take(a, "remote free");
                    self.worker.as_ref().unwrap().run(Job::Free(a));
                }
            }
            Op::RemoteMalloc(n) => {
                if let Some(w) = &self.worker {
                    let p = w.run(Job::Malloc(n)) as *mut u8;
                    self.insert(p, n, vitalloc::heap::config::MIN_ALIGN, "remote malloc");
                }
            }
            Op::RemoteRealloc(i, n) => {
                if let (Some(a), true) = (self.nth(i), self.worker.is_some()) {
                    let old = self.take(a, "remote realloc");
                    let q = self.worker.as_ref().unwrap().run(Job::Realloc(a, n)) as *mut u8;
                    self.reinsert(q, old, n, "remote realloc");
                }
            }
            Op::Burst(count, n) => self.burst(count, n),
            Op::Trim => self.heap.trim(),
        }
        if check {
            self.check();
        }
    }

    /// A short-lived thread allocates `count` blocks and exits; they stay
    /// live here (its heap is reclaimed with objects in use).
    fn burst(&mut self, count: usize, n: usize) {
        let heap = self.heap;
        let got: Vec<usize> = thread::spawn(move || {
            let v: Vec<usize> = (0..count)
                .map(|i| heap.malloc(n + i * 8) as usize)
                .collect();
            // Half of them are freed by the thread itself: its spans then
            // hold both free and live objects when it exits.
            v.iter()
                .step_by(2)
                .for_each(|&p| unsafe { heap.free(p as *mut u8) });
            v.into_iter().skip(1).step_by(2).collect()
        })
        .join()
        .expect("burst thread");
        for (i, p) in got.into_iter().enumerate() {
            self.insert(
                p as *mut u8,
                n + (2 * i + 1) * 8,
                vitalloc::heap::config::MIN_ALIGN,
                "burst malloc",
            );
        }
    }

    /// `check()`, and statistics against the model.
    pub fn check(&mut self) {
        self.checks += 1;
        if let Err(e) = self.heap.check() {
            panic!("check() after {} operations: {e}", self.ops);
        }
        let s = self.heap.stats();
        assert_eq!(
            s.allocations,
            self.base_allocations + self.live.len(),
            "allocation count"
        );
    }

    /// Verifies and frees every live block, then checks the heap.
    pub fn finish(&mut self) {
        while let Some((&a, _)) = self.live.iter().next() {
            self.take(a, "final free");
            unsafe { self.heap.free(a as *mut u8) };
        }
        self.check();
    }

    /// Live blocks now.
    pub fn live(&self) -> usize {
        self.live.len()
    }
}

/// A fuzzer input as the little-endian words `run_words` decodes (the last
/// one zero-padded).
pub fn words(data: &[u8]) -> impl Iterator<Item = u64> + '_ {
    data.chunks(8).map(|c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(w)
    })
}

/// Runs the operations that `words` decodes to (until it runs dry),
/// checking after every one, then frees everything.
pub fn run_words<H: Heap>(model: &mut Model<H>, mix: &Mix, words: &mut dyn Iterator<Item = u64>) {
    let mut words = words.peekable();
    while words.peek().is_some() {
        let op = Op::decode(mix, || words.next().unwrap_or(0));
        model.apply(op, mix.max_live, true);
    }
    model.finish();
}

/// One fuzzer input, the fuzz targets' whole body: decoded and run on the
/// run's one model in `cell` (made on the first input, with a worker
/// thread; every input ends with all its blocks freed, so the next starts
/// from an empty model on a used heap).
pub fn fuzz_input<H: Heap>(cell: &RefCell<Option<Model<H>>>, heap: &'static H, data: &[u8]) {
    let mut words = words(data);
    let mut m = cell.borrow_mut();
    let model = m.get_or_insert_with(|| Model::new(heap, true));
    run_words(model, &Mix::FUZZ, &mut words);
}
