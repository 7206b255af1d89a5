//! The two-thread workloads: one allocator instance called from two threads
//! at once, through the same [`Driver`] as the single-thread workloads.
//!
//! - *prodcons*: a producer thread allocates blocks and hands them through a
//!   bounded single-producer single-consumer ring ([`Ring`], the same for
//!   every allocator) to a consumer thread, which frees them: every free is a
//!   cross-thread free.
//! - *churn2*: two threads each run the small LIFO churn workload on their
//!   own (own PRNG seed, own blocks) at the same time.
//!
//! Threads are spawned for each run and wait on a barrier; the clock runs
//! from the moment the barrier releases them until both have finished, so
//! spawning (which allocates from glibc) is not timed.

use crate::allocators::BenchAlloc;
use crate::workloads::{Blk, Driver, MapBuf, lifo};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadWorkload {
    ProdCons,
    Churn2,
}

impl ThreadWorkload {
    pub const ALL: [ThreadWorkload; 2] = [ThreadWorkload::ProdCons, ThreadWorkload::Churn2];

    pub fn name(self) -> &'static str {
        match self {
            ThreadWorkload::ProdCons => "prodcons",
            ThreadWorkload::Churn2 => "churn2",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ThreadWorkload::ProdCons => "producer/consumer, cross-thread frees",
            ThreadWorkload::Churn2 => "two independent small-churn threads",
        }
    }

    /// One run at `scale` on two threads; returns the allocator calls made
    /// by both threads and the wall time.
    pub fn run<A: BenchAlloc>(self, a: &A, seed: u64, scale: usize) -> (u64, Duration) {
        match self {
            ThreadWorkload::ProdCons => prodcons(a, seed, 200_000 * scale),
            ThreadWorkload::Churn2 => churn2(a, seed, 400_000 * scale as u64),
        }
    }
}

/// Runs `left` and `right` on two fresh threads released together; returns
/// their results and the time from release until both are done.
fn two_threads<L, R>(
    left: impl FnOnce() -> L + Send,
    right: impl FnOnce() -> R + Send,
) -> (L, R, Duration)
where
    L: Send,
    R: Send,
{
    let go = Barrier::new(3);
    std::thread::scope(|s| {
        let l = s.spawn(|| {
            go.wait();
            left()
        });
        let r = s.spawn(|| {
            go.wait();
            right()
        });
        go.wait();
        let t = Instant::now();
        let (l, r) = (l.join().unwrap(), r.join().unwrap());
        (l, r, t.elapsed())
    })
}

/// Producer/consumer: `blocks` blocks, 15 of 16 log-uniform in 16..=512 B,
/// 1 of 16 uniform in 513..=4096 B, alignment 8 or 16; the consumer checks
/// and frees them in the order they were made.
fn prodcons<A: BenchAlloc>(a: &A, seed: u64, blocks: usize) -> (u64, Duration) {
    let ring = Ring::new();
    let (p_ops, c_ops, t) = two_threads(
        || {
            let _g = ring.guard();
            let mut d = Driver::new(a, seed, None);
            for _ in 0..blocks {
                let size = if d.rng().next() & 15 == 0 {
                    d.rng().range(513, 4096)
                } else {
                    d.rng().log_range(16, 512)
                };
                let b = d.alloc(size);
                ring.push(b);
            }
            d.ops
        },
        || {
            let _g = ring.guard();
            let mut d = Driver::new(a, seed ^ 1, None);
            for _ in 0..blocks {
                let b = ring.pop();
                d.free_foreign(b);
            }
            d.ops
        },
    );
    (p_ops + c_ops, t)
}

/// Two threads, each running the LIFO churn workload with its own seed.
fn churn2<A: BenchAlloc>(a: &A, seed: u64, ops_each: u64) -> (u64, Duration) {
    let one = |seed: u64| {
        move || {
            let mut d = Driver::new(a, seed, None);
            lifo(&mut d, ops_each);
            d.ops
        }
    };
    let (l, r, t) = two_threads(one(seed), one(seed.rotate_left(32) ^ 0x5555));
    (l + r, t)
}

// ----- the queue ----------------------------------------------------------------------

/// Slots in the ring: enough that neither side waits for the other at every
/// block, few enough that the blocks in flight stay in cache.
const RING: usize = 256;

/// A bounded single-producer single-consumer ring of blocks: two indices
/// on their own cache lines, slots in their own `mmap` (not from any
/// allocator under test). A side that finds the ring full (empty) spins a
/// little, then yields its core (2 cores, and the machine is shared).
struct Ring {
    slots: MapBuf<Blk>,
    /// Next slot to write (only the producer stores it).
    head: Padded,
    /// Next slot to read (only the consumer stores it).
    tail: Padded,
    /// Set when either side panicked (a corrupted block, an allocator
    /// returning null), so the other stops waiting for it.
    dead: AtomicBool,
}

/// Marks the ring dead if its thread unwinds.
struct Guard<'a>(&'a AtomicBool);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

#[repr(align(128))]
struct Padded(AtomicUsize);

// SAFETY: slot `i % RING` is written only by the producer while
// `head - tail < RING` says the consumer is done with it, and read only by
// the consumer after `head` (release/acquire) says it was written.
unsafe impl Sync for Ring {}

impl Ring {
    fn new() -> Self {
        let mut slots = MapBuf::with_capacity(RING);
        for _ in 0..RING {
            slots.push(Blk::EMPTY);
        }
        Ring {
            slots,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            dead: AtomicBool::new(false),
        }
    }

    fn guard(&self) -> Guard<'_> {
        Guard(&self.dead)
    }

    fn slot(&self, i: usize) -> *mut Blk {
        self.slots.ptr().wrapping_add(i % RING)
    }

    fn push(&self, b: Blk) {
        let h = self.head.0.load(Ordering::Relaxed);
        self.wait_until(|| h - self.tail.0.load(Ordering::Acquire) < RING);
        // SAFETY: see `impl Sync`: the consumer has finished with this slot.
        unsafe { self.slot(h).write(b) };
        self.head.0.store(h + 1, Ordering::Release);
    }

    fn pop(&self) -> Blk {
        let t = self.tail.0.load(Ordering::Relaxed);
        self.wait_until(|| self.head.0.load(Ordering::Acquire) != t);
        // SAFETY: see `impl Sync`: the producer has written this slot.
        let b = unsafe { self.slot(t).read() };
        self.tail.0.store(t + 1, Ordering::Release);
        b
    }

    #[inline(always)]
    fn wait_until(&self, ready: impl Fn() -> bool) {
        let mut spins = 0u32;
        while !ready() {
            if spins < 128 {
                core::hint::spin_loop();
                spins += 1;
            } else {
                assert!(
                    !self.dead.load(Ordering::Relaxed),
                    "the other side of the ring panicked"
                );
                std::thread::yield_now();
            }
        }
    }
}
