//! The thread-heap protocol model-checked with `loom` (`make test-loom`:
//! `RUSTFLAGS="--cfg loom"`, `LOOM_MAX_PREEMPTIONS` bounds the search).
//!
//! Each scenario runs the real front end and shared heap (over an arena,
//! behind a lock loom models) on two or three threads, with spans of two
//! objects (2 KiB objects in one-page spans) so that spans fill, empty, go
//! back and are reused within a few calls, and checks what every
//! interleaving must keep: no span stranded FULL with freed objects and
//! nobody told, remote stacks without cycles and without released spans,
//! `Heap::check` clean, and no two threads touching a span's lists without
//! ordering between them (loom reports that as a data race). Each is named
//! for the interleaving it covers; the thread slot of the platform stays
//! out of the model (thread heaps are passed explicitly).

use super::local::LocalHeap;
use super::{Shared, free, malloc};
use crate::heap::Heap;
use crate::heap::classes::{CLASS_PAGES, CLASS_SIZE, class_of};
use crate::heap::pagemap::PageMap;
use crate::heap::span::{FLAGS, FULL, KIND_SMALL, QUEUED, Span};
use crate::source::ArenaSource;
use crate::sync::model::{ModelLock, Ordering};
use core::cell::UnsafeCell;
use loom::sync::atomic::AtomicUsize;
use loom::thread;
use std::boxed::Box;
use std::sync::Arc;
use std::vec;

/// Objects of this size come two to a span (a one-page span).
const SIZE: usize = 2048;
/// Enough for the heap's metadata and first segment.
const ARENA: usize = 512 << 10;

/// A shared heap behind a lock loom models.
struct Model {
    heap: UnsafeCell<Heap<ArenaSource>>,
    lock: ModelLock,
    /// The arena's buffer (outlives the heap's use of it).
    _arena: Box<[u8]>,
}

// SAFETY: the heap is only touched with the lock held (`with`), or read
// through the page map's atomics.
unsafe impl Sync for Model {}
// SAFETY: as above.
unsafe impl Send for Model {}

impl Shared<ArenaSource> for Model {
    fn with<R>(&self, f: impl FnOnce(&mut Heap<ArenaSource>) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock gives exclusive access.
        let r = f(unsafe { &mut *self.heap.get() });
        self.lock.unlock();
        r
    }
    fn map(&self) -> &PageMap {
        // SAFETY: the page map is read through atomics only.
        unsafe { &*core::ptr::addr_of!((*self.heap.get()).map) }
    }
}

fn model() -> Arc<Model> {
    assert_eq!(CLASS_SIZE[class_of(SIZE)] as usize, SIZE);
    assert_eq!(CLASS_PAGES[class_of(SIZE)], 1);
    let mut arena = vec![0u8; ARENA].into_boxed_slice();
    // SAFETY: the buffer lives in the model as long as the heap.
    let src = unsafe { ArenaSource::new(arena.as_mut_ptr(), ARENA) };
    Arc::new(Model {
        heap: UnsafeCell::new(Heap::new(src)),
        lock: ModelLock::new(),
        _arena: arena,
    })
}

/// A thread heap or an object, handed between model threads.
struct Ptr<T>(*mut T);
impl<T> Clone for Ptr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Ptr<T> {}
// SAFETY: the scenarios hand each heap and object to one thread at a time,
// as a program would.
unsafe impl<T> Send for Ptr<T> {}

type H = Ptr<LocalHeap>;
type P = Ptr<u8>;

fn register(m: &Model) -> H {
    let lh = m.with(|h| h.register_local(1, 0, |_| {}));
    assert!(!lh.is_null());
    Ptr(lh)
}

fn alloc(m: &Model, h: H) -> P {
    // SAFETY: `h` is used by one thread at a time.
    let p = unsafe { malloc(h.0, m, SIZE) };
    assert!(!p.is_null());
    // The object is the caller's: write it all, as a program would.
    // SAFETY: SIZE writable bytes.
    unsafe { core::ptr::write_bytes(p, 0xA5, SIZE) };
    Ptr(p)
}

fn release(m: &Model, h: H, p: P) {
    // SAFETY: as in `alloc`; `p` is a live object handed to this thread.
    assert_eq!(unsafe { free(h.0, m, p.0) }, Ok(()));
}

/// The thread `h` exited: its heap is reclaimed (as the liveness scan or
/// the host's thread destructor would).
fn exit(m: &Model, h: H) {
    // SAFETY: the heap's thread uses it no more.
    m.with(|heap| unsafe { heap.reclaim_local(h.0) });
}

/// What must hold once every thread is joined: `check` on each heap (its
/// lists, its remote stack); no SMALL span stranded (FULL, freed objects
/// waiting, and not queued for anyone); every span flagged QUEUED on
/// exactly one record's remote stack (registered or recycled: a push is
/// never lost), and nothing else on any stack.
fn quiescent(m: &Model, heaps: &[H]) {
    for &h in heaps {
        // SAFETY: every model thread is joined; `h` is a live heap or null.
        assert_eq!(m.with(|heap| unsafe { heap.check(h.0) }), Ok(()));
    }
    m.with(|heap| {
        let mut stacked = vec![];
        heap.for_each_record(|r| stacked.extend(remote_stack(Ptr(r))));
        heap.for_each_small_span(|s| {
            // SAFETY: spans the heap walks are live.
            let (w, pending) = unsafe {
                (
                    (*s).owner.load(Ordering::Relaxed),
                    !(*s).thread_free.load(Ordering::Relaxed).is_null(),
                )
            };
            assert!(
                !(w & FULL != 0 && w & QUEUED == 0 && pending),
                "a FULL span holds freed objects and its owner was never told (owner word {w:#x})"
            );
            let on = stacked.iter().filter(|&&q| q == s).count();
            assert_eq!(
                on,
                usize::from(w & QUEUED != 0),
                "a span is on {on} remote stacks with owner word {w:#x}"
            );
        });
    });
}

/// The remote stack of `h`, checked: each span once, SMALL, flagged QUEUED.
fn remote_stack(h: H) -> std::vec::Vec<*mut Span> {
    let mut seen = vec![];
    // SAFETY: threads are joined; records and descriptors stay mapped.
    unsafe {
        let mut s = (*h.0).remote.load(Ordering::Acquire);
        while !s.is_null() {
            assert!(!seen.contains(&s), "the remote stack loops");
            assert_eq!(
                (*s).kind,
                KIND_SMALL,
                "a released span is on a remote stack"
            );
            assert_ne!((*s).owner.load(Ordering::Relaxed) & QUEUED, 0);
            seen.push(s);
            s = (*s).remote_next;
        }
    }
    seen
}

fn remote_stack_sound(h: H) {
    remote_stack(h);
}

/// Loom with the preemption bound of `LOOM_MAX_PREEMPTIONS` (default 2).
fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    let f = Arc::new(f);
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    // Loom's first thread has a 32 KiB stack, too small for the heap's
    // paths: the scenario runs on a thread of its own.
    b.check(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        let f = f.clone();
        spawn(move || f()).join().unwrap();
    });
    std::eprintln!(
        "{}: {} interleavings",
        std::thread::current().name().unwrap_or("?"),
        runs.load(Ordering::Relaxed)
    );
}

/// A model thread with room for the heap's paths.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new().stack_size(1 << 20).spawn(f).unwrap()
}

/// Thread `a`'s span of `o1` and `o2`, retired FULL (a third allocation
/// took a new span), and a second thread `b`.
fn retired_span(m: &Model) -> (H, H, P, P) {
    let a = register(m);
    let (o1, o2) = full_span(m, a);
    alloc(m, a);
    (a, register(m), o1, o2)
}

/// Runs `x` and `y` on two model threads of their own (so that either may
/// run first, and loom interleaves them anywhere) and waits for both.
/// Returns what `y` returns.
fn race<T: Send + 'static>(
    m: &Arc<Model>,
    x: impl FnOnce(&Model) + Send + 'static,
    y: impl FnOnce(&Model) -> T + Send + 'static,
) -> T {
    let (mx, my) = (m.clone(), m.clone());
    let tx = spawn(move || x(&mx));
    let ty = spawn(move || y(&my));
    tx.join().unwrap();
    ty.join().unwrap()
}

/// A full span: the owner allocates both objects of a fresh span and one
/// more (the span is retired and tagged FULL, or queued if a free raced).
fn full_span(m: &Model, a: H) -> (P, P) {
    let o1 = alloc(m, a);
    let o2 = alloc(m, a);
    (o1, o2)
}

#[test]
fn loom_remote_free_against_retire() {
    // A remote free of an object of a full span while its owner retires
    // the span (tags it FULL): one of the two must see the other.
    check(|| {
        let m = model();
        let a = register(&m);
        let (o1, _o2) = full_span(&m, a);
        let b = register(&m);
        race(
            &m,
            move |m| release(m, b, o1),
            move |m| {
                alloc(m, a); // retires the full span
            },
        );
        quiescent(&m, &[a]);
        remote_stack_sound(a);
    });
}

#[test]
fn loom_remote_free_against_empty_release_reuse() {
    // A remote free of a FULL span's object races its owner emptying the
    // span, releasing it and reusing the descriptor for new spans: the
    // freer's notification must never queue a span that moved on, so the
    // owner's stack stays acyclic and holds no released span.
    check(|| {
        let m = model();
        let (a, b, o1, o2) = retired_span(&m);
        let (o4, o5) = race(
            &m,
            move |m| release(m, b, o1),
            move |m| {
                release(m, a, o2);
                // The emptied span goes back (it is kept aside otherwise),
                // and new spans of the class take the descriptors.
                // SAFETY: `a` is this thread's heap.
                unsafe { super::trim(a.0, m, 0) };
                (alloc(m, a), alloc(m, a))
            },
        );
        remote_stack_sound(a);
        quiescent(&m, &[a, b]);
        release(&m, a, o4);
        release(&m, a, o5);
        quiescent(&m, &[a, b]);
    });
}

#[test]
fn loom_notify_against_exit_register_adopt() {
    // A remote free queues a FULL span for its owner while the owner's
    // thread exits, its record is recycled for a new thread and the span
    // is adopted: the push must land on a live record's stack and be
    // handed on, never lost or doubled.
    check(|| {
        let m = model();
        let (a, b, o1, o2) = retired_span(&m);
        let (c, o4) = race(
            &m,
            move |m| release(m, b, o1),
            move |m| {
                exit(m, a);
                let c = register(m); // a's record again
                (c, alloc(m, c))
            },
        );
        remote_stack_sound(c);
        quiescent(&m, &[c, b]);
        release(&m, c, o2);
        release(&m, c, o4);
        quiescent(&m, &[c, b]);
    });
}

#[test]
fn loom_free_abandoned_against_adopting_malloc() {
    // A free of an object of an abandoned span (its thread exited) races a
    // malloc on another thread that adopts the span: the free must not
    // change the span's lists once it has an owner again.
    check(|| {
        let m = model();
        let a = register(&m);
        let (o1, o2) = full_span(&m, a);
        release(&m, a, o2); // S: one free object, one live (o1)
        exit(&m, a); // S abandoned
        let b = register(&m);
        let e = register(&m);
        let (o3, o4) = race(
            &m,
            move |m| release(m, b, o1),
            move |m| (alloc(m, e), alloc(m, e)), // the first adopts S
        );
        quiescent(&m, &[b, e]);
        release(&m, e, o3);
        release(&m, e, o4);
        quiescent(&m, &[b, e]);
    });
}

/// A thread's slot, as the liveness scan reads it.
struct Slot(AtomicUsize);

fn registration_race(publish_under_lock: bool) {
    check(move || {
        let m = model();
        let slot = Arc::new(Slot(AtomicUsize::new(0)));
        let (m2, s2) = (m.clone(), slot.clone());
        let t = spawn(move || {
            if publish_under_lock {
                m2.with(|h| {
                    h.register_local(1, 0, |lh| s2.0.store(lh as usize, Ordering::Release))
                });
            } else {
                let lh = m2.with(|h| h.register_local(1, 0, |_| {}));
                s2.0.store(lh as usize, Ordering::Release);
            }
        });
        m.with(|h| h.scan_now(|lh| slot.0.load(Ordering::Acquire) == lh as *const _ as usize));
        t.join().unwrap();
        let lh = slot.0.load(Ordering::Acquire);
        assert_ne!(lh, 0);
        assert_eq!(
            m.with(|h| h.count_locals()),
            1,
            "a thread heap was reclaimed while its thread was registering it"
        );
    });
}

#[test]
fn loom_registration_against_liveness_scan() {
    registration_race(true);
}

#[test]
#[should_panic(expected = "reclaimed while its thread was registering")]
fn loom_registration_published_after_the_lock_is_caught() {
    // The ordering before the fix (the slot set after the lock): the model
    // finds the interleaving where a scan reclaims the new heap.
    registration_race(false);
}

#[test]
fn loom_queued_span_emptied_by_its_owner_stays_until_taken() {
    // The regression of the release-while-queued bug: a FULL span queued
    // on its owner's stack is emptied by the owner before it takes the
    // stack; it must stay live until taken off.
    check(|| {
        let m = model();
        let (a, b, o1, o2) = retired_span(&m);
        race(
            &m,
            move |m| release(m, b, o1),
            move |m| {
                release(m, a, o2);
                // An emptied span is kept aside; trim offers it back.
                // SAFETY: `a` is this thread's heap.
                unsafe { super::trim(a.0, m, 0) };
            },
        );
        remote_stack_sound(a);
        let _o4 = alloc(&m, a);
        let _o5 = alloc(&m, a);
        let _o6 = alloc(&m, a);
        remote_stack_sound(a);
        quiescent(&m, &[a, b]);
    });
}

#[test]
fn loom_flags_are_the_low_bits() {
    // Thread heaps are aligned so that the flags never touch an address.
    assert!(align_of::<LocalHeap>() > FLAGS);
}
