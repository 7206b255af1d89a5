//! Debug-layer tests: layout and patterns, each fault it must find (with
//! the block, size and caller it names), the quarantine, realloc, the live
//! list and the class table, over a real heap.
//!
//! SAFETY, for every `unsafe` block below: pointers come from the debug
//! layer under test and stay within the bytes it handed out, except where
//! a test writes past a block, before it or after freeing it on purpose —
//! always within the inner block the heap handed out (the canary, the
//! header, the poisoned bytes), which is what the layer must detect.
//!
//! Pointers are kept as pointers (never rebuilt from integers), so Miri
//! runs these tests with strict provenance.

use super::block::{CANARY, FRESH, Fault, HEADER, POISON};
use super::*;
use crate::sync::SpinLock;
use crate::testing::{TestHeap, miri_or};
use std::boxed::Box;
use std::vec::Vec;

/// The heap behind the debug layer: `mmap`, or under Miri an arena of
/// 32 MiB (the largest test peaks at a few MiB: 2 MiB blocks aligned to
/// 1 MiB, the 1 MiB quarantine).
fn heap() -> TestHeap {
    crate::testing::heap(32 << 20)
}

fn setup() -> (TestHeap, Box<Debug<SpinLock>>) {
    (heap(), Box::new(Debug::new()))
}

const CALLER: usize = 0x1234_5678;

#[test]
fn fresh_pattern_canary_and_size() {
    let (a, d) = setup();
    for size in [0, 1, 7, 8, 100, 1000, 5000, 40_000, 2 << 20] {
        let p = d.malloc(&*a, size, CALLER);
        assert!(!p.is_null());
        assert_eq!(p.addr() % MIN_ALIGN, 0);
        unsafe {
            assert!(block::holds(p, size, FRESH), "size {size}");
            assert!(block::holds(p.add(size), DEBUG_CANARY_MIN, CANARY));
            assert_eq!(d.usable_size(&*a, p), Ok(size));
        }
        assert_eq!(d.check(&*a), Ok(()));
        unsafe { d.free(&*a, p, CALLER).unwrap() };
    }
    assert_eq!(d.check(&*a), Ok(()));
}

#[test]
fn memalign_keeps_alignment() {
    let (a, d) = setup();
    for align in [8, 16, 32, 64, 256, 4096, 65536] {
        let p = d.memalign(&*a, align, 100, CALLER);
        assert_eq!(p.addr() % align, 0, "align {align}");
        unsafe {
            assert_eq!(d.usable_size(&*a, p), Ok(100));
            d.free(&*a, p, CALLER).unwrap();
        }
    }
    assert_eq!(d.check(&*a), Ok(()));
}

#[test]
fn large_blocks_aligned_beyond_a_page() {
    let (a, d) = setup();
    for align in [8192, 65536, 1 << 20] {
        let p = d.memalign(&*a, align, 2 << 20, CALLER);
        assert_eq!(p.addr() % align, 0);
        unsafe {
            assert_eq!(d.usable_size(&*a, p), Ok(2 << 20));
            *p.add(2 << 20) = 0;
            assert!(matches!(d.free(&*a, p, 1), Err(Fault::Overrun(_))));
            *p.add(2 << 20) = CANARY;
            d.free(&*a, p, 1).unwrap();
            assert!(d.free(&*a, p, 1).is_err());
        }
    }
    assert_eq!(d.check(&*a), Ok(()));
}

#[test]
fn overrun_found_on_free_check_and_realloc() {
    let (a, d) = setup();
    let p = d.malloc(&*a, 24, CALLER);
    unsafe { *p.add(24) = 0 };
    let want = Fault::Overrun(block::Facts {
        user: p.addr(),
        size: 24,
        caller: CALLER,
        freer: 0,
    });
    assert_eq!(d.check(&*a), Err(want));
    unsafe {
        assert_eq!(d.realloc(&*a, p, 100, 1).unwrap_err(), want);
        assert_eq!(d.free(&*a, p, 1), Err(want));
    }
    assert_eq!(
        std::format!("{want}"),
        std::format!(
            "buffer overrun after block {:#x} of 24 bytes, allocated by 0x12345678",
            p.addr()
        )
    );
}

#[test]
fn underrun_double_free_and_foreign_pointers() {
    let (a, d) = setup();
    let p = d.malloc(&*a, 40, CALLER);
    unsafe {
        *p.sub(1) ^= 1;
        assert!(matches!(d.free(&*a, p, 1), Err(Fault::Underrun(f)) if f.user == p.addr()));
        *p.sub(1) ^= 1;
        d.free(&*a, p, 1).unwrap();
        assert_eq!(d.free(&*a, p, 1), Err(Fault::Misuse(Misuse::DoubleFree)));
        let mut local = [0u64; 8];
        let q = local.as_mut_ptr().cast::<u8>().add(32);
        assert_eq!(
            d.free(&*a, q, 1),
            Err(Fault::Misuse(Misuse::InvalidPointer))
        );
        let r = d.malloc(&*a, 64, CALLER);
        assert_eq!(
            d.free(&*a, r.add(16), 1),
            Err(Fault::Misuse(Misuse::InvalidPointer))
        );
        d.free(&*a, r, 1).unwrap();
    }
}

#[test]
fn write_after_free_found_by_check_and_on_leaving_the_quarantine() {
    let (a, d) = setup();
    let p = d.malloc(&*a, 32, CALLER);
    unsafe {
        d.free(&*a, p, 0x99).unwrap();
        assert!(block::holds(p, 32, POISON));
        *p.add(5) = 1;
    }
    let want = Fault::WriteAfterFree(block::Facts {
        user: p.addr(),
        size: 32,
        caller: CALLER,
        freer: 0x99,
    });
    assert_eq!(d.check(&*a), Err(want));
    // Push it out of the quarantine with other frees (fewer and larger
    // under Miri).
    let size = miri_or(1000, 50_000);
    let mut got = Ok(());
    for _ in 0..=DEBUG_QUARANTINE_BYTES / size {
        let q = d.malloc(&*a, size, 1);
        got = unsafe { d.free(&*a, q, 1) };
        if got.is_err() {
            break;
        }
    }
    assert_eq!(got, Err(want));
}

#[test]
fn quarantine_is_bounded_and_flush_gives_everything_back() {
    let (a, d) = setup();
    let before = a.stats().in_use;
    // More than the quarantine holds: under Miri fewer, larger blocks.
    let (count, base) = (miri_or(3000, 120), miri_or(100, 12_000));
    let blocks: Vec<*mut u8> = (0..count)
        .map(|i| d.malloc(&*a, base + i % 900, CALLER))
        .collect();
    for &p in &blocks {
        unsafe { d.free(&*a, p, 2).unwrap() };
    }
    let (live, bytes, qblocks, qbytes) = d.totals();
    assert_eq!((live, bytes), (0, 0));
    assert!(qbytes <= DEBUG_QUARANTINE_BYTES && qblocks > 0);
    assert!(qbytes + base + 900 > DEBUG_QUARANTINE_BYTES);
    assert_eq!(d.check(&*a), Ok(()));
    d.flush(&*a).unwrap();
    assert_eq!(d.totals(), (0, 0, 0, 0));
    assert_eq!(a.stats().in_use, before);
    // A block larger than the quarantine's share goes straight back.
    let big = d.malloc(&*a, DEBUG_QUARANTINE_MAX_BLOCK + 1, 3);
    unsafe { d.free(&*a, big, 3).unwrap() };
    assert_eq!(d.totals(), (0, 0, 0, 0));
    assert_eq!(a.stats().in_use, before);
}

#[test]
fn realloc_moves_copies_and_shrinks() {
    let (a, d) = setup();
    unsafe {
        let p = d.malloc(&*a, 10, CALLER);
        p.copy_from(b"0123456789".as_ptr(), 10);
        let q = d.realloc(&*a, p, 5000, 7).unwrap();
        assert_ne!(p, q);
        assert_eq!(core::slice::from_raw_parts(q, 10), b"0123456789");
        assert!(block::holds(q.add(10), 4990, FRESH));
        let r = d.realloc(&*a, q, 3, 8).unwrap();
        assert_eq!(core::slice::from_raw_parts(r, 3), b"012");
        assert_eq!(d.usable_size(&*a, r), Ok(3));
        assert_eq!(
            d.realloc(&*a, core::ptr::null_mut(), 4, 9)
                .map(|x| x.is_null()),
            Ok(false)
        );
        assert_eq!(d.totals().0, 2);
        assert_eq!(d.check(&*a), Ok(()));
    }
}

#[test]
fn live_list_and_class_table() {
    let (a, d) = setup();
    let p1 = d.malloc(&*a, 16, 0x100);
    let p2 = d.malloc(&*a, 3000, 0x200);
    let p3 = d.malloc(&*a, 100_000, 0x300);
    let p4 = d.malloc(&*a, 2 << 20, 0x400);
    unsafe { d.free(&*a, p2, 1).unwrap() };
    let mut seen = Vec::new();
    let n = d.for_each_live(|user, size, caller, serial| seen.push((user, size, caller, serial)));
    assert_eq!(n, 3);
    assert_eq!(
        seen,
        [
            (p1.addr(), 16, 0x100, 1),
            (p3.addr(), 100_000, 0x300, 3),
            (p4.addr(), 2 << 20, 0x400, 4)
        ]
    );
    let mut t = [ClassStats::default(); BUCKETS];
    assert_eq!(d.class_stats(&mut t), BUCKETS);
    let c16 = t[classes::class_of(16)];
    assert_eq!(
        (
            c16.size,
            c16.allocations,
            c16.frees,
            c16.live,
            c16.live_bytes
        ),
        (16, 1, 0, 1, 16)
    );
    let c3000 = t[classes::class_of(3000)];
    assert_eq!(
        (c3000.allocations, c3000.frees, c3000.live, c3000.peak_live),
        (1, 1, 0, 1)
    );
    assert!(c3000.size >= 3000);
    assert_eq!(
        (t[CLASS_COUNT].live, t[CLASS_COUNT].live_bytes),
        (1, 100_000)
    );
    assert_eq!(
        (t[CLASS_COUNT + 1].live, t[CLASS_COUNT + 1].size),
        (1, usize::MAX)
    );
    let total: u64 = t.iter().map(|c| c.allocations).sum();
    assert_eq!(total, 4);
    // Many blocks, listed across batches, each once.
    let more: Vec<*mut u8> = (0..50).map(|i| d.malloc(&*a, i, 5)).collect();
    let mut users = Vec::new();
    assert_eq!(d.for_each_live(|u, _, _, _| users.push(u)), 53);
    for m in &more {
        assert_eq!(users.iter().filter(|&&u| u == m.addr()).count(), 1);
    }
}

#[test]
fn header_is_eight_words() {
    // Eight words: 32 bytes on the Vita, 64 on x86-64.
    assert_eq!(HEADER, usize::BITS as usize);
}

#[test]
fn threads_share_the_live_list_and_quarantine() {
    let a = heap();
    let d = Box::new(Debug::<crate::sync::DefaultLock>::new());
    let (a, d) = (&*a, &*d);
    std::thread::scope(|sc| {
        for t in 0..4usize {
            sc.spawn(move || {
                let mut live: Vec<*mut u8> = Vec::new();
                let mut x = t as u32 + 1;
                for i in 0..miri_or(20_000, 100) {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let size = (x % 2000) as usize;
                    if live.len() < 64 || x % 3 == 0 {
                        let p = d.malloc(a, size, t);
                        assert!(!p.is_null());
                        if size > 0 {
                            unsafe { *p = i as u8 };
                        }
                        live.push(p);
                    } else {
                        let p = live.swap_remove((x as usize / 7) % live.len());
                        if x % 5 == 0 {
                            let q = unsafe { d.realloc(a, p, size, t) }.unwrap();
                            live.push(q);
                        } else {
                            unsafe { d.free(a, p, t).unwrap() };
                        }
                    }
                }
                for p in live {
                    unsafe { d.free(a, p, t).unwrap() };
                }
            });
        }
        // Dumps and checks while the others run.
        sc.spawn(move || {
            for _ in 0..miri_or(20, 2) {
                let mut n = 0;
                d.for_each_live(|_, _, _, _| n += 1);
                assert_eq!(d.check(a), Ok(()));
            }
        });
    });
    assert_eq!(d.check(a), Ok(()));
    d.flush(a).unwrap();
    assert_eq!(d.totals(), (0, 0, 0, 0));
}
