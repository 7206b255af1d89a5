//! Threads that exit with live blocks, on the per-thread heap: the windows
//! between a thread's exit (its heap given back, its spans abandoned and
//! adopted) and the frees of its blocks by other threads, while a third
//! group allocates the same sizes (and so adopts those spans).
//!
//! Epochs of: waves of short-lived producer threads, each allocating a
//! batch of blocks and exiting with them live (half of the producers hand
//! their blocks over as they go, half all at once just before they exit);
//! freer threads that verify and free every block they receive; allocator
//! threads that allocate, verify and free blocks of the same sizes the
//! whole time. Between epochs no call is in flight: `check()`, and the
//! statistics must count exactly the blocks still held.
//!
//! `SOAK_OPS` sets the number of operations (mallocs and frees): 2 * 10^6
//! by default (a few seconds), 10^8 in `make soak`.
//!
//! SAFETY, for every `unsafe` block below: each block is owned by one
//! thread at a time (moved through channels), accessed within its
//! requested size, and freed once.

mod common;

use common::{Block, env, fill, first_bad, next, tag_of};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;
use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};

static HEAP: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());
static OPS: AtomicU64 = AtomicU64::new(0);
static IDS: AtomicU64 = AtomicU64::new(1);

const FREERS: usize = 2;
const ALLOCATORS: usize = 2;
const PRODUCERS_PER_WAVE: usize = 4;
const WAVES_PER_EPOCH: usize = 8;
/// Blocks of one producer (handed over in groups of `HAND`).
const BATCH: usize = 512;
const HAND: usize = 16;
/// Blocks an allocator thread keeps live.
const WINDOW: usize = 256;

/// Mostly the slot and small classes (where spans are shared between a
/// dead thread's frees and a live thread's allocations), some medium sizes.
fn size(r: u64) -> usize {
    const SIZES: [usize; 16] = [
        1, 8, 16, 24, 32, 48, 64, 96, 128, 200, 256, 500, 1024, 2048, 3000, 8192,
    ];
    match (r >> 40) % 64 {
        0 => 8193 + (r >> 8) as usize % (120 << 10),
        _ => SIZES[(r >> 16) as usize % SIZES.len()],
    }
}

fn malloc(n: usize) -> Block {
    let p = HEAP.malloc(n);
    assert!(!p.is_null(), "malloc({n})");
    let tag = tag_of(p, IDS.fetch_add(1, Ordering::Relaxed));
    unsafe { fill(p, n, tag) };
    Block { p, n, tag }
}

fn free(b: Block, who: &str) {
    if let Some(i) = unsafe { first_bad(b.p, b.n, b.tag) } {
        panic!(
            "{who}: block {:p} of {} bytes corrupted at offset {i} before its free",
            b.p, b.n
        );
    }
    if let Err(e) = unsafe { HEAP.free(b.p) } {
        panic!("{who}: free({:p}) of a live block: {e:?}", b.p);
    }
}

/// One producer: `BATCH` blocks, handed to the freers (in groups as they
/// are made, or all of them at exit), then the thread ends.
fn producer(seed: u64, to: Vec<mpsc::Sender<Vec<Block>>>, at_exit: bool) {
    let mut s = seed;
    let mut all = Vec::new();
    let mut group = Vec::with_capacity(HAND);
    for i in 0..BATCH {
        let r = next(&mut s);
        group.push(malloc(size(r)));
        if group.len() == HAND {
            let g = std::mem::replace(&mut group, Vec::with_capacity(HAND));
            if at_exit {
                all.push(g);
            } else {
                to[i % to.len()].send(g).unwrap();
            }
        }
    }
    for (i, g) in all.into_iter().enumerate() {
        to[i % to.len()].send(g).unwrap();
    }
    OPS.fetch_add(BATCH as u64, Ordering::Relaxed);
}

/// One allocator: the same sizes, `WINDOW` blocks live, until `stop`.
fn allocator(seed: u64, stop: &AtomicBool) {
    let mut s = seed;
    let mut live: Vec<Block> = Vec::with_capacity(WINDOW);
    let mut ops = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..64 {
            let r = next(&mut s);
            if live.len() == WINDOW {
                free(live.swap_remove((r >> 24) as usize % WINDOW), "allocator");
                ops += 1;
            }
            live.push(malloc(size(r)));
            ops += 1;
        }
    }
    ops += live.len() as u64;
    live.into_iter().for_each(|b| free(b, "allocator"));
    OPS.fetch_add(ops, Ordering::Relaxed);
}

#[test]
fn threads_exit_while_others_free_their_blocks_and_allocate() {
    let total = env("SOAK_OPS", 2_000_000);
    let mut seed = env("SOAK_SEED", 0x7E57_0E11).max(1);
    let start = Instant::now();
    let (mut epochs, mut threads) = (0u64, 0u64);
    while OPS.load(Ordering::Relaxed) < total {
        let stop = AtomicBool::new(false);
        let seeds: Vec<u64> = (0..ALLOCATORS + WAVES_PER_EPOCH * PRODUCERS_PER_WAVE)
            .map(|_| next(&mut seed) | 1)
            .collect();
        thread::scope(|s| {
            let (txs, rxs): (Vec<_>, Vec<_>) =
                (0..FREERS).map(|_| mpsc::channel::<Vec<Block>>()).unzip();
            for rx in rxs {
                s.spawn(move || {
                    let mut n = 0u64;
                    for g in rx {
                        n += g.len() as u64;
                        g.into_iter().for_each(|b| free(b, "freer"));
                    }
                    OPS.fetch_add(n, Ordering::Relaxed);
                });
            }
            let stop = &stop;
            let allocators: Vec<_> = (0..ALLOCATORS)
                .map(|a| {
                    let seed = seeds[a];
                    s.spawn(move || allocator(seed, stop))
                })
                .collect();
            for w in 0..WAVES_PER_EPOCH {
                let wave: Vec<_> = (0..PRODUCERS_PER_WAVE)
                    .map(|p| {
                        let (to, seed) =
                            (txs.clone(), seeds[ALLOCATORS + w * PRODUCERS_PER_WAVE + p]);
                        s.spawn(move || producer(seed, to, p % 2 == 1))
                    })
                    .collect();
                wave.into_iter().for_each(|h| h.join().unwrap());
            }
            // The freers end when their channels are empty and closed.
            drop(txs);
            stop.store(true, Ordering::Relaxed);
            allocators.into_iter().for_each(|h| h.join().unwrap());
        });
        threads += (FREERS + ALLOCATORS + WAVES_PER_EPOCH * PRODUCERS_PER_WAVE) as u64;
        epochs += 1;
        // Every thread of the epoch has ended: nothing is in flight.
        assert_eq!(HEAP.check(), Ok(()), "check() after epoch {epochs}");
        assert_eq!(
            HEAP.stats().allocations,
            0,
            "blocks live after epoch {epochs}"
        );
    }
    let secs = start.elapsed().as_secs_f64();
    let ops = OPS.load(Ordering::Relaxed);
    println!(
        "thread exit: {ops} operations in {secs:.1} s ({:.0} ops/s), {threads} threads, \
         {epochs} epochs checked, all passed",
        ops as f64 / secs
    );
}
