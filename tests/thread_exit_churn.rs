//! Thread heaps recycled under load, on the per-thread heap.
//!
//! 1. A mixed workload on 4 threads: malloc, memalign, realloc and free of
//!    random sizes, a quarter of the blocks freed by the next thread.
//! 2. Then thousands of short-lived threads, at most 8 alive at a time:
//!    each frees (after verifying) the blocks a finished thread handed it,
//!    allocates a batch, frees half of it and hands the other half to a
//!    later thread, and exits. Thread records are reused over and over,
//!    while blocks of dead threads are freed by live ones.
//!
//! Every block holds a pattern made from its address and an id, verified
//! before every free and realloc; `check()` whenever no call is in flight
//! (after part 1, and every 512 threads of part 2 with the statistics
//! compared with the blocks held).
//!
//! `SOAK_OPS` sets the number of operations, half for each part: 10^6 by
//! default (a few seconds), more in `make soak`.
//!
//! SAFETY, for every `unsafe` block below: each block is owned by one
//! thread at a time (moved through channels or the locked pool), accessed
//! within its requested size, and freed once.

mod common;

use common::{Block, PATTERN_BYTES, env, fill, first_bad, next, tag_of};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, mpsc};
use std::thread;
use std::time::Instant;
use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};

static HEAP: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());
static IDS: AtomicU64 = AtomicU64::new(1);
/// Blocks allocated and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);

const MIXED_THREADS: usize = 4;
const MAX_ALIVE: usize = 8;
/// Blocks each short-lived thread allocates.
const CHURN_BATCH: usize = 64;
const CHECK_EVERY_THREADS: u64 = 512;

fn size(r: u64) -> usize {
    let x = (r >> 8) as usize;
    match r % 128 {
        0..=99 => x % 1025,
        100..=125 => 1025 + x % (16 << 10),
        _ => (16 << 10) + x % (200 << 10),
    }
}

fn tagged(p: *mut u8, n: usize) -> Block {
    assert!(!p.is_null(), "allocation of {n} bytes failed");
    let tag = tag_of(p, IDS.fetch_add(1, Ordering::Relaxed));
    unsafe { fill(p, n, tag) };
    Block { p, n, tag }
}

fn malloc(n: usize) -> Block {
    LIVE.fetch_add(1, Ordering::Relaxed);
    tagged(HEAP.malloc(n), n)
}

fn memalign(align: usize, n: usize) -> Block {
    LIVE.fetch_add(1, Ordering::Relaxed);
    let b = tagged(HEAP.memalign(align, n), n);
    assert_eq!(b.p as usize % align, 0, "memalign({align}, {n})");
    b
}

fn verify(b: &Block, who: &str) {
    if let Some(i) = unsafe { first_bad(b.p, b.n, b.tag) } {
        panic!(
            "{who}: block {:p} of {} bytes corrupted at offset {i}",
            b.p, b.n
        );
    }
}

fn free(b: Block, who: &str) {
    verify(&b, who);
    if let Err(e) = unsafe { HEAP.free(b.p) } {
        panic!("{who}: free({:p}) of a live block: {e:?}", b.p);
    }
    LIVE.fetch_sub(1, Ordering::Relaxed);
}

/// Reallocates `b` to `m` bytes: its pattern must survive (the part that
/// fits), then the block gets a new one.
fn realloc(b: Block, m: usize) -> Block {
    verify(&b, "realloc");
    let q = match unsafe { HEAP.realloc(b.p, m) } {
        Ok(q) => q,
        Err(e) => panic!("realloc({:p}, {m}) of a live block: {e:?}", b.p),
    };
    assert!(!q.is_null(), "realloc to {m} bytes failed");
    // The first PATTERN_BYTES bytes of the old block, as far as they fit.
    let kept = b.n.min(m).min(PATTERN_BYTES);
    if let Some(i) = unsafe { first_bad(q, kept, b.tag) } {
        panic!("realloc({:p}, {m}) -> {q:p} lost byte {i} of {}", b.p, b.n);
    }
    tagged(q, m)
}

/// Part 1: `ops` operations on each of 4 threads.
fn mixed(ops: u64, seed: u64) {
    let barrier = Barrier::new(MIXED_THREADS);
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..MIXED_THREADS).map(|_| mpsc::channel::<Block>()).unzip();
    thread::scope(|s| {
        for (t, rx) in rxs.into_iter().enumerate() {
            let to_next = txs[(t + 1) % MIXED_THREADS].clone();
            let barrier = &barrier;
            s.spawn(move || {
                let mut s = seed ^ (t as u64 + 1) << 32;
                let mut own: Vec<Block> = Vec::new();
                for _ in 0..ops {
                    let r = next(&mut s);
                    let pick = (r >> 32) as usize;
                    match r % 16 {
                        0..=5 => own.push(malloc(size(r))),
                        6 => own.push(memalign(16 << (pick % 9), size(r) % 4096)),
                        7..=9 if !own.is_empty() => {
                            let b = own.swap_remove(pick % own.len());
                            own.push(realloc(b, size(r.rotate_left(23))));
                        }
                        10..=12 if !own.is_empty() => {
                            free(own.swap_remove(pick % own.len()), "owner")
                        }
                        13..=15 if !own.is_empty() => {
                            to_next.send(own.swap_remove(pick % own.len())).unwrap()
                        }
                        _ => own.push(malloc(size(r))),
                    }
                    while let Ok(b) = rx.try_recv() {
                        free(b, "neighbour");
                    }
                    if own.len() > 300 {
                        free(own.swap_remove(pick % own.len()), "owner");
                    }
                }
                // Every thread has sent its last block before any drains.
                barrier.wait();
                rx.try_iter().for_each(|b| free(b, "neighbour"));
                own.into_iter().for_each(|b| free(b, "owner"));
                barrier.wait();
                assert_eq!(HEAP.check(), Ok(()), "check() on mixed thread {t}");
            });
        }
    });
}

/// Part 2: `threads` short-lived threads, at most `MAX_ALIVE` alive.
fn churn(threads: u64, seed: u64) -> u64 {
    // Blocks handed from a finished thread to a later one.
    let pool: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
    let ops = AtomicU64::new(0);
    thread::scope(|s| {
        let mut alive: VecDeque<thread::ScopedJoinHandle<()>> = VecDeque::new();
        for i in 0..threads {
            if alive.len() == MAX_ALIVE {
                alive.pop_front().unwrap().join().unwrap();
            }
            let (pool, ops) = (&pool, &ops);
            let mut st = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            alive.push_back(s.spawn(move || {
                let handed = pool.lock().unwrap().pop().unwrap_or_default();
                let mut n = handed.len() as u64;
                handed.into_iter().for_each(|b| free(b, "later thread"));
                let mut mine: Vec<Block> = (0..CHURN_BATCH)
                    .map(|_| malloc(size(next(&mut st))))
                    .collect();
                let keep = mine.split_off(CHURN_BATCH / 2);
                n += (CHURN_BATCH + mine.len()) as u64;
                mine.into_iter().for_each(|b| free(b, "short-lived thread"));
                pool.lock().unwrap().push(keep);
                ops.fetch_add(n, Ordering::Relaxed);
            }));
            if (i + 1) % CHECK_EVERY_THREADS == 0 {
                alive.drain(..).for_each(|h| h.join().unwrap());
                assert_eq!(HEAP.check(), Ok(()), "check() after {} threads", i + 1);
                let live = LIVE.load(Ordering::Relaxed);
                assert_eq!(HEAP.stats().allocations, live, "after {} threads", i + 1);
            }
        }
        alive.drain(..).for_each(|h| h.join().unwrap());
    });
    let left = pool.into_inner().unwrap();
    let n = left.iter().map(Vec::len).sum::<usize>() as u64;
    left.into_iter().flatten().for_each(|b| free(b, "main"));
    ops.load(Ordering::Relaxed) + n
}

#[test]
fn mixed_workload_then_thousands_of_short_lived_threads() {
    let total = env("SOAK_OPS", 1_000_000);
    let seed = env("SOAK_SEED", 0xC4A2_0E11).max(1);
    let start = Instant::now();
    let per_thread = (total / 2 / MIXED_THREADS as u64).max(1);
    mixed(per_thread, seed);
    assert_eq!(HEAP.check(), Ok(()), "check() after the mixed workload");
    assert_eq!(
        HEAP.stats().allocations,
        0,
        "blocks live after the mixed workload"
    );
    let mixed_secs = start.elapsed().as_secs_f64();
    // About 1.5 * CHURN_BATCH operations per thread; at least 2000 threads.
    let threads = (total / 2 / (CHURN_BATCH as u64 * 3 / 2)).max(2000);
    let start = Instant::now();
    let churn_ops = churn(threads, seed);
    assert_eq!(
        HEAP.check(),
        Ok(()),
        "check() after the short-lived threads"
    );
    assert_eq!(HEAP.stats().allocations, 0, "blocks live at the end");
    println!(
        "thread churn: {} mixed operations on {MIXED_THREADS} threads in {mixed_secs:.1} s, \
         then {threads} short-lived threads ({churn_ops} operations) in {:.1} s, all passed",
        per_thread * MIXED_THREADS as u64,
        start.elapsed().as_secs_f64()
    );
}
