//! Soak, part 2: 4 threads on the per-thread heap for `SOAK_SECONDS`
//! (2 s in the ordinary test run, 600 by default in `make soak`). Each
//! allocates random sizes (every tier), fills them with a pattern, hands
//! most blocks to its neighbour through a channel, frees the blocks it
//! receives after verifying them, and reallocates its own. Every
//! `SOAK_PAUSE_ROUNDS` rounds of 256 allocations all threads meet at a
//! barrier, with no call in flight, and each runs `check()`; one compares
//! the statistics with the count of live blocks. Prints operations, time, operations per second and checks.
//!
//! SAFETY, for every `unsafe` block below: each block is owned by one
//! thread at a time (moved through channels), accessed within its
//! requested size, and freed once.

mod common;

use common::{env, next};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant};
use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};

static HEAP: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());
/// Blocks allocated and not yet freed, by all threads.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static OPS: AtomicU64 = AtomicU64::new(0);
static CHECKS: AtomicU64 = AtomicU64::new(0);

const THREADS: usize = 4;

struct Block(*mut u8, usize, u64);
// SAFETY: a block is owned by one thread at a time (moved through channels).
unsafe impl Send for Block {}

fn size(r: u64) -> usize {
    let x = (r >> 8) as usize;
    match r % 256 {
        0..=199 => x % 512,
        200..=249 => x % (32 << 10),
        250..=254 => (32 << 10) + x % (1000 << 10),
        _ => (1 << 20) + x % (3 << 20),
    }
}

/// A pattern of `tag` and the offset, at most the first and last 256
/// bytes (the thread soak measures the heap's concurrency, not memset).
fn touch(p: *mut u8, n: usize, tag: u64, write: bool) -> bool {
    let at = (0..n.min(256)).chain(n.saturating_sub(256).max(256)..n);
    let mut ok = true;
    for i in at {
        let v = (tag as usize ^ i.wrapping_mul(31)) as u8;
        unsafe {
            if write {
                p.add(i).write(v);
            } else {
                ok &= p.add(i).read() == v;
            }
        }
    }
    ok
}

fn malloc(n: usize, tag: u64) -> Block {
    let p = HEAP.malloc(n);
    assert!(!p.is_null(), "malloc({n})");
    LIVE.fetch_add(1, Ordering::Relaxed);
    touch(p, n, tag, true);
    Block(p, n, tag)
}

fn free(b: Block) {
    assert!(
        touch(b.0, b.1, b.2, false),
        "block of {} bytes corrupted",
        b.1
    );
    unsafe { HEAP.free(b.0) }.unwrap();
    LIVE.fetch_sub(1, Ordering::Relaxed);
}

#[test]
fn four_threads_hand_blocks_to_each_other() {
    let secs = env("SOAK_SECONDS", 2);
    let rounds_per_pause = env("SOAK_PAUSE_ROUNDS", 200).max(1);
    let deadline = Instant::now() + Duration::from_secs(secs);
    // Set by thread 0 between two barriers, read by all after the second:
    // every thread leaves at the same pause.
    let done = AtomicBool::new(false);
    let barrier = Barrier::new(THREADS);
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel::<Block>()).unzip();
    let start = Instant::now();
    let leftovers: Vec<(Vec<Block>, mpsc::Receiver<Block>)> = thread::scope(|s| {
        let handles: Vec<_> = rxs
            .into_iter()
            .enumerate()
            .map(|(t, rx)| {
                let to_next = txs[(t + 1) % THREADS].clone();
                let (done, barrier) = (&done, &barrier);
                s.spawn(move || {
                    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
                    let mut own: Vec<Block> = Vec::new();
                    let mut ops = 0u64;
                    for round in 1u64.. {
                        for _ in 0..256 {
                            let r = next(&mut seed);
                            let b = malloc(size(r), r);
                            if r >> 61 == 0 {
                                own.push(b);
                            } else {
                                to_next.send(b).unwrap();
                            }
                            while let Ok(b) = rx.try_recv() {
                                free(b);
                                ops += 1;
                            }
                            if own.len() > 200 {
                                let Block(p, n, tag) =
                                    own.swap_remove((r >> 20) as usize % own.len());
                                assert!(touch(p, n, tag, false), "own block corrupted");
                                let m = size(r.rotate_left(17));
                                let q = unsafe { HEAP.realloc(p, m) }.unwrap();
                                let kept = n.min(m).min(256);
                                assert!(touch(q, kept, tag, false), "realloc lost contents");
                                touch(q, m, tag ^ 1, true);
                                free(Block(q, m, tag ^ 1));
                                ops += 1;
                            }
                            ops += 1;
                        }
                        if round % rounds_per_pause != 0 {
                            continue;
                        }
                        // No call in flight anywhere: every thread checks
                        // (its own heap and the shared one), then thread 0
                        // compares the statistics with the live count
                        // (blocks in channels are live).
                        barrier.wait();
                        assert_eq!(HEAP.check(), Ok(()), "check() on thread {t}");
                        CHECKS.fetch_add(1, Ordering::Relaxed);
                        barrier.wait();
                        if t == 0 {
                            let live = LIVE.load(Ordering::Relaxed);
                            assert_eq!(HEAP.stats().allocations, live, "allocations");
                            done.store(Instant::now() >= deadline, Ordering::Relaxed);
                        }
                        barrier.wait();
                        if done.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    OPS.fetch_add(ops, Ordering::Relaxed);
                    (own, rx)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    drop(txs);
    let secs = start.elapsed().as_secs_f64();
    for (own, rx) in leftovers {
        own.into_iter().chain(rx.try_iter()).for_each(free);
    }
    assert_eq!(HEAP.check(), Ok(()));
    assert_eq!(HEAP.stats().allocations, 0, "every block freed");
    let ops = OPS.load(Ordering::Relaxed);
    let checks = CHECKS.load(Ordering::Relaxed);
    println!(
        "threaded soak: {ops} operations on {THREADS} threads in {secs:.1} s ({:.0} ops/s), \
         {checks} checks, all passed",
        ops as f64 / secs
    );
    assert!(checks >= THREADS as u64, "at least one round of checks");
}
