//! Multi-thread stress: 4 threads allocate, hand blocks to a neighbour
//! thread through a channel, and free what they receive, so most blocks are
//! freed on a different thread than the one that allocated them. Contents
//! are verified at every hand-over and the heap is checked at the end.
//!
//! SAFETY, for every `unsafe` block below: each block is owned by one thread
//! at a time and accessed within its requested size; it is freed once.

use std::sync::mpsc;
use std::thread;
use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};

static HEAP: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());

struct Block(*mut u8, usize, u8);
// SAFETY: a block is owned by one thread at a time (moved through channels).
unsafe impl Send for Block {}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn size(r: u64) -> usize {
    match r % 100 {
        0..=79 => (r >> 8) as usize % 512,
        80..=97 => 512 + (r >> 8) as usize % 60_000,
        _ => (1 << 20) + (r >> 8) as usize % 100_000,
    }
}

#[test]
fn four_threads_free_each_others_blocks() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 20_000;
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel::<Block>()).unzip();
    let handles: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(t, rx)| {
            let to_next = txs[(t + 1) % THREADS].clone();
            thread::spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64 + 1);
                let mut own = Vec::new();
                for i in 0..ROUNDS {
                    let r = xorshift(&mut seed);
                    let n = size(r);
                    let p = HEAP.malloc(n);
                    assert!(!p.is_null());
                    let tag = (r >> 3) as u8;
                    unsafe { std::ptr::write_bytes(p, tag, n) };
                    if r % 3 == 0 {
                        own.push(Block(p, n, tag));
                    } else {
                        to_next.send(Block(p, n, tag)).unwrap();
                    }
                    if i % 4 == 0 {
                        while let Ok(b) = rx.try_recv() {
                            let Block(p, n, tag) = b;
                            assert!(
                                (0..n).all(|k| unsafe { *p.add(k) } == tag),
                                "contents changed"
                            );
                            unsafe { HEAP.free(p) }.unwrap();
                        }
                    }
                    if own.len() > 64 {
                        let Block(p, n, tag) = own.swap_remove((r as usize >> 5) % own.len());
                        let keep = (n / 2 + 1).min(n);
                        let q = unsafe { HEAP.realloc(p, n / 2 + 1) }.unwrap();
                        assert!(
                            (0..keep).all(|k| unsafe { *q.add(k) } == tag),
                            "realloc lost contents"
                        );
                        unsafe { HEAP.free(q) }.unwrap();
                    }
                }
                drop(to_next);
                (rx, own)
            })
        })
        .collect();
    drop(txs);
    // Join everyone before draining: a thread still running may send more.
    let leftovers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (rx, own) in leftovers {
        for Block(p, n, tag) in own.into_iter().chain(rx.try_iter()) {
            assert!((0..n).all(|k| unsafe { *p.add(k) } == tag));
            unsafe { HEAP.free(p) }.unwrap();
        }
    }
    assert_eq!(HEAP.check(), Ok(()));
    let s = HEAP.stats();
    assert_eq!(s.allocations, 0, "{s:?}");
    assert_eq!(s.in_use, 0);
}
