//! Deterministic tests of the thread-heap protocol's windows: the steps of
//! another thread run at a preempt point of the calling thread
//! (`sys::thread::test_hook`), so each test lands exactly inside the window
//! it names, natively and every time. Thread heaps are passed explicitly;
//! one OS thread plays every thread.

use super::local::LocalHeap;
use super::{Shared, free, malloc, trim};
use crate::heap::span::{FULL, KIND_SMALL, QUEUED};
use crate::source::BlockSource;
use crate::sync::model::Ordering;
use crate::sys::thread::{Point, test_hook};
use crate::testing::{self, TestHeap};
use std::cell::Cell;
use std::rc::Rc;
use std::vec::Vec;

/// Objects of this size come two to a (one-page) span.
const SIZE: usize = 2048;

fn register<S: BlockSource>(heap: &TestHeap<S>) -> *mut LocalHeap {
    let lh = heap.with(|h| h.register_local(1, 0, |_| {}));
    assert!(!lh.is_null());
    lh
}

/// The spans on `lh`'s remote stack, each checked: SMALL, flagged QUEUED,
/// on it once.
fn remote_stack(lh: *mut LocalHeap) -> Vec<usize> {
    let mut seen = Vec::new();
    // SAFETY: no other thread runs; records and descriptors stay mapped.
    unsafe {
        let mut s = (*lh).remote.load(Ordering::Acquire);
        while !s.is_null() {
            assert!(!seen.contains(&(s as usize)), "the remote stack loops");
            assert_eq!(
                (*s).kind,
                KIND_SMALL,
                "a released span is on a remote stack"
            );
            assert_ne!((*s).owner.load(Ordering::Relaxed) & QUEUED, 0);
            seen.push(s as usize);
            s = (*s).remote_next;
        }
    }
    seen
}

/// Thread `a`'s span of `o1` and `o2`, retired FULL (a third allocation
/// took a new span), and a second thread `b`.
fn retired_span(
    heap: &TestHeap<testing::Src>,
) -> (*mut LocalHeap, *mut LocalHeap, *mut u8, *mut u8) {
    let (a, b) = (register(heap), register(heap));
    // SAFETY: `a` is used by this thread only.
    unsafe {
        let o1 = malloc(a, &**heap, SIZE);
        let o2 = malloc(a, &**heap, SIZE);
        assert!(!malloc(a, &**heap, SIZE).is_null());
        (a, b, o1, o2)
    }
}

#[test]
fn a_stalled_notifier_never_queues_a_span_released_meanwhile() {
    let heap = testing::heap(16 << 20);
    let sh: &crate::Allocator<testing::Src> = core::ops::Deref::deref(&heap);
    let (a, b, o1, o2) = retired_span(&heap);
    // SAFETY: each heap is used by one "thread" at a time; every object is
    // freed once.
    unsafe {
        let s = sh.map().get(o1 as usize);
        assert_eq!(s, sh.map().get(o2 as usize));
        assert_eq!((*s).owner.load(Ordering::Relaxed), a as usize | FULL);
        // Thread b frees o1: after its push and its look at the owner word
        // (FULL), it stalls; meanwhile the owner frees o2 (the span
        // empties), trims (the span goes back) and allocates anew (the
        // descriptors are reused).
        let reached = Rc::new(Cell::new(false));
        let r = reached.clone();
        // Raw pointers (no integers): the hook outlives no borrow of them.
        let shp = sh as *const crate::Allocator<testing::Src>;
        test_hook::once(move |p| {
            assert!(matches!(p, Point::Notify));
            r.set(true);
            let sh = &*shp;
            assert_eq!(free(a, sh, o2), Ok(()));
            trim(a, sh, 0);
            for _ in 0..8 {
                assert!(!malloc(a, sh, SIZE).is_null());
            }
        });
        assert_eq!(free(b, sh, o1), Ok(()));
        assert!(
            reached.get(),
            "the free never reached the notifier's window"
        );
        remote_stack(a);
        remote_stack(b);
        assert_eq!(heap.with(|h| h.check(a)), Ok(()));
        assert_eq!(heap.with(|h| h.check(b)), Ok(()));
    }
}

#[test]
fn a_notifier_stalled_over_the_owners_exit_hands_the_span_on() {
    let heap = testing::heap(16 << 20);
    let sh: &crate::Allocator<testing::Src> = core::ops::Deref::deref(&heap);
    let (a, b, o1, o2) = retired_span(&heap);
    // SAFETY: as above.
    unsafe {
        // Thread b frees o1 and stalls before queueing the span; the owner
        // exits (its heap is reclaimed), a new thread gets its record and
        // allocates (adopting the span).
        let c = Rc::new(Cell::new(core::ptr::null_mut::<LocalHeap>()));
        let c2 = c.clone();
        let shp = sh as *const crate::Allocator<testing::Src>;
        test_hook::once(move |_| {
            let sh = &*shp;
            sh.with(|h| h.reclaim_local(a));
            let c = sh.with(|h| h.register_local(2, 0, |_| {}));
            assert!(!malloc(c, sh, SIZE).is_null());
            c2.set(c);
        });
        assert_eq!(free(b, sh, o1), Ok(()));
        let c = c.get();
        assert!(!c.is_null(), "the free never reached the notifier's window");
        remote_stack(c);
        assert_eq!(heap.with(|h| h.check(c)), Ok(()));
        assert_eq!(free(c, sh, o2), Ok(()));
        assert_eq!(heap.with(|h| h.check(c)), Ok(()));
    }
}
