//! Thread heaps: what a short-lived thread costs, that a thread's heap is
//! reclaimed when it exits (with objects still cached and objects still
//! live), and cross-thread frees under load, on the per-thread allocator.
//!
//! SAFETY, for every `unsafe` block below: each block is owned by one thread
//! at a time and accessed within its requested size; it is freed once.

use std::sync::mpsc;
use std::thread;
use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};

static HEAP: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());

struct Block(*mut u8);
// SAFETY: a block is owned by one thread at a time (moved through channels).
unsafe impl Send for Block {}

const HANDFUL: [usize; 6] = [16, 40, 100, 300, 1000, 3000];

/// One test function, so the steps see each other's heap in a known order
/// (the allocator is process-wide).
#[test]
fn thread_heaps() {
    // The main thread's heap exists and has touched these classes once.
    let warm: Vec<_> = HANDFUL.iter().map(|&s| HEAP.malloc(s)).collect();
    let base = HEAP.stats();

    // A thread making a handful of allocations (kept live after it exits).
    // Its cost: the spans it took (pages no other thread can use until it
    // ends) and the memory held from the system.
    let cost = |s0: vitalloc::Stats, s1: vitalloc::Stats| {
        (s1.slab_bytes - s0.slab_bytes).max(s1.reserved - s0.reserved)
    };
    let before = HEAP.stats();
    let got: Vec<Block> =
        thread::spawn(|| HANDFUL.iter().map(|&s| Block(HEAP.malloc(s))).collect())
            .join()
            .unwrap();
    let thread_cost = cost(before, HEAP.stats());
    // The same allocations made by the main thread.
    let before = HEAP.stats();
    let mine: Vec<_> = HANDFUL.iter().map(|&s| HEAP.malloc(s)).collect();
    let main_cost = cost(before, HEAP.stats());
    println!(
        "a handful of allocations: {thread_cost} bytes from a new thread, {main_cost} from the main thread"
    );
    assert!(
        thread_cost <= main_cost + (32 << 10),
        "a thread's handful of allocations cost {thread_cost} bytes, the main thread's {main_cost}"
    );
    // The thread ended: its heap is gone (host: its destructor), its
    // objects are still live and freed from here (spans nobody owns).
    assert_eq!(HEAP.stats().thread_heaps, base.thread_heaps);
    for b in got {
        unsafe { HEAP.free(b.0) }.unwrap();
    }
    for p in mine.into_iter().chain(warm) {
        unsafe { HEAP.free(p) }.unwrap();
    }
    assert_eq!(HEAP.check(), Ok(()));

    // Threads that exit with objects cached in their heaps and half of
    // what they allocated still live; the rest is freed here.
    let live0 = HEAP.stats().allocations;
    let mut kept = Vec::new();
    for round in 0..8 {
        let v: Vec<Block> = thread::spawn(move || {
            let mut v = Vec::new();
            for i in 0..5000usize {
                let p = HEAP.malloc(8 + (i * 37 + round) % 2000);
                unsafe { p.write(i as u8) };
                if i % 2 == 0 {
                    unsafe { HEAP.free(p) }.unwrap();
                } else {
                    v.push(Block(p));
                }
            }
            v
        })
        .join()
        .unwrap();
        kept.extend(v);
    }
    assert_eq!(HEAP.stats().allocations, live0 + kept.len());
    assert_eq!(HEAP.stats().thread_heaps, base.thread_heaps);
    for b in kept {
        unsafe { HEAP.free(b.0) }.unwrap();
    }
    assert_eq!(HEAP.stats().allocations, live0);
    assert_eq!(HEAP.check(), Ok(()));

    // Producer/consumer: every block freed by another thread than its
    // allocator's, while both run.
    let (tx, rx) = mpsc::sync_channel::<Block>(256);
    let consumer = thread::spawn(move || {
        let mut n = 0;
        for b in rx {
            unsafe {
                assert_eq!(*b.0, (n % 251) as u8);
                HEAP.free(b.0).unwrap();
            }
            n += 1;
        }
        n
    });
    for i in 0..200_000usize {
        let p = HEAP.malloc(16 + i % 700);
        unsafe { p.write((i % 251) as u8) };
        tx.send(Block(p)).unwrap();
    }
    drop(tx);
    assert_eq!(consumer.join().unwrap(), 200_000);
    assert_eq!(HEAP.stats().allocations, live0);
    assert_eq!(HEAP.check(), Ok(()));
    HEAP.trim(0);
    assert_eq!(HEAP.check(), Ok(()));
}
