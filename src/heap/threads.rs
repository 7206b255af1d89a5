//! The registry of thread heaps, and what happens when a thread is gone:
//! its spans are collected, emptied ones go back to the page allocator and
//! the rest wait, owned by nobody, for the next heap that needs their class.
//!
//! Every thread heap is in the registry from its first allocation until
//! its thread is found dead (a liveness scan from the slow path, at most
//! every [`LIVENESS_SCAN_INTERVAL`] entries) or says it is exiting (the
//! host's thread destructor). A heap is only reclaimed when its thread can
//! no longer run, so its lists can be walked without racing the owner.

use super::Heap;
use super::config::LIVENESS_SCAN_INTERVAL;
use super::meta::Pool;
use super::span::{FLAGS, KIND_SMALL, NO_OWNER, NONE, QUEUED, Span};
use crate::front::local::LocalHeap;
use crate::source::BlockSource;
use crate::sync::model::Ordering;
use core::ptr;

impl<S: BlockSource> Heap<S> {
    /// A new thread heap for the thread `tid` whose slot is at `slot`, in
    /// the registry and handed to `publish` (which stores it in the
    /// thread's slot) before this returns, so under the same lock: a
    /// liveness scan, which also runs under it, never sees the heap
    /// registered while the slot does not point at it yet (and reclaims
    /// it under the new thread). Null when out of memory.
    pub fn register_local(
        &mut self,
        tid: i32,
        slot: usize,
        publish: impl FnOnce(*mut LocalHeap),
    ) -> *mut LocalHeap {
        let mut lh = self.meta.take_recycled(Pool::Local).cast::<LocalHeap>();
        // SAFETY: a recycled record is ours but for its remote stack; fresh
        // bump memory is ours entirely.
        unsafe {
            if !lh.is_null() {
                LocalHeap::reuse(lh);
            } else {
                if !self.ensure_meta(size_of::<LocalHeap>() + 64) {
                    return ptr::null_mut();
                }
                lh = self.meta.bump(size_of::<LocalHeap>()).cast::<LocalHeap>();
                if lh.is_null() {
                    return lh;
                }
                LocalHeap::init(lh);
            }
            (*lh).tid = tid;
            (*lh).slot = slot;
            self.link_local(lh);
        }
        crate::sys::thread::preempt_point(crate::sys::thread::Point::Register);
        publish(lh);
        lh
    }

    /// Puts a heap that lives elsewhere (an allocator's own) in the registry
    /// once, so statistics see it. It is never reclaimed.
    ///
    /// # Safety
    /// `lh` outlives this heap's use of it.
    pub unsafe fn register_home(&mut self, lh: *mut LocalHeap) {
        // SAFETY: per the caller.
        unsafe {
            if (*lh).tid == HOME {
                return;
            }
            (*lh).tid = HOME;
            self.link_local(lh);
        }
    }

    unsafe fn link_local(&mut self, lh: *mut LocalHeap) {
        // SAFETY: registry members are live heaps.
        unsafe {
            (*lh).next = self.locals;
            (*lh).prev = ptr::null_mut();
            if !self.locals.is_null() {
                (*self.locals).prev = lh;
            }
        }
        self.locals = lh;
    }

    /// Counts a slow-path entry; every so often looks for thread heaps
    /// whose thread is gone (`alive` says) and reclaims them.
    pub fn maybe_scan(&mut self, alive: impl Fn(&LocalHeap) -> bool) {
        self.since_scan += 1;
        if self.since_scan < LIVENESS_SCAN_INTERVAL {
            return;
        }
        self.since_scan = 0;
        self.scan_dead(alive);
    }

    /// Takes the remote stacks of the records waiting to be reused: a
    /// thread that queued a span for a record's last thread may have
    /// pushed it there after the record was reclaimed; each such span goes
    /// to its current owner (or, abandoned, becomes releasable again).
    /// O(recycled records + spans on their stacks).
    pub fn drain_recycled(&mut self) {
        // SAFETY: recycled records belong to no thread: under the lock they
        // are ours to drain, as their owner would.
        self.meta
            .for_each_recycled(Pool::Local, |r| unsafe { LocalHeap::take_remote(r.cast()) });
    }

    /// Reclaims every registered heap (except home heaps) whose thread
    /// `alive` says is gone. O(heaps), plus O(spans) per heap reclaimed.
    pub fn scan_dead(&mut self, alive: impl Fn(&LocalHeap) -> bool) {
        self.drain_recycled();
        let mut lh = self.locals;
        while !lh.is_null() {
            // SAFETY: registry members are live heaps.
            let next = unsafe { (*lh).next };
            // SAFETY: as above.
            if unsafe { (*lh).tid != HOME && !alive(&*lh) } {
                // SAFETY: its thread is gone: nobody else touches it.
                unsafe { self.reclaim_local(lh) };
            }
            lh = next;
        }
    }

    /// Takes everything a heap whose thread is gone owns: its spans are
    /// collected; empty ones are freed, others abandoned. The heap's counters
    /// go to the retired totals and its memory back to the metadata.
    ///
    /// # Safety
    /// `lh` is a registered heap (not a home heap) whose thread can no
    /// longer use it.
    pub unsafe fn reclaim_local(&mut self, lh: *mut LocalHeap) {
        // SAFETY: per the caller; spans are found by walking segments.
        unsafe {
            LocalHeap::take_remote(lh);
            let me = LocalHeap::id(lh);
            let mut owned: *mut Span = ptr::null_mut();
            self.for_each_small_span(|s| {
                if (*s).owner.load(Ordering::Relaxed) & !FLAGS == me {
                    // Chain through `next`: the queue and spare links of a
                    // dead heap are not needed any more, and only the owner
                    // ever writes them (other threads may still push these
                    // spans on a remote stack meanwhile, through
                    // `remote_next`).
                    (*s).next = owned;
                    owned = s;
                }
            });
            while !owned.is_null() {
                let s = owned;
                owned = (*s).next;
                // Nobody's now; a QUEUED flag stays (the span is still on, or
                // going onto, a record's stack: this one's, drained below).
                let _ = (*s)
                    .owner
                    .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                        Some(NO_OWNER | (w & QUEUED))
                    });
                (*s).next = ptr::null_mut();
                (*s).prev = ptr::null_mut();
                LocalHeap::collect(lh, s);
                if (*s).used == 0 && (*s).claim_for_release(NO_OWNER) {
                    (*lh).counters.allocs = (*lh).counters.allocs.wrapping_add((*s).allocs as u64);
                    self.free_run(s);
                } else {
                    self.push_abandoned(s);
                }
            }
            // Spans pushed here while the walk ran: abandoned now, they only
            // lose their flag (and become releasable by the next sweep).
            LocalHeap::take_remote(lh);
            for c in (*lh).current.iter_mut() {
                *c = NONE;
            }
            (*lh).spare = [ptr::null_mut(); super::classes::CLASS_COUNT];
            (*lh).spare_pages = 0;
            self.retired.add(&(*lh).counters);
            // Spans left abandoned still hold their `allocs`; they are
            // counted from the spans themselves.
            let (next, prev) = ((*lh).next, (*lh).prev);
            if !next.is_null() {
                (*next).prev = prev;
            }
            if prev.is_null() {
                self.locals = next;
            } else {
                (*prev).next = next;
            }
            self.meta.give(Pool::Local, lh.cast());
        }
    }

    /// Calls `f` with every SMALL span of the heap's segments. O(runs).
    pub(crate) fn for_each_small_span(&self, mut f: impl FnMut(*mut Span)) {
        self.for_each_span(|s| {
            // SAFETY: runs the heap walks are live descriptors.
            if unsafe { (*s).kind } == KIND_SMALL {
                f(s);
            }
        });
    }

    /// Calls `f` with every thread heap record: registered ones, then the
    /// recycled ones waiting for a thread. O(records).
    #[cfg(all(test, loom))]
    pub(crate) fn for_each_record(&self, mut f: impl FnMut(*mut LocalHeap)) {
        let mut lh = self.locals;
        while !lh.is_null() {
            f(lh);
            // SAFETY: registry members are live.
            lh = unsafe { (*lh).next };
        }
        self.meta.for_each_recycled(Pool::Local, |r| f(r.cast()));
    }

    /// Registered heaps. O(heaps).
    pub fn count_locals(&self) -> usize {
        let (mut n, mut lh) = (0, self.locals);
        while !lh.is_null() {
            n += 1;
            // SAFETY: registry members are live.
            lh = unsafe { (*lh).next };
        }
        n
    }

    /// Looks for dead threads now (tests and `malloc_trim`).
    pub fn scan_now(&mut self, alive: impl Fn(&LocalHeap) -> bool) {
        self.since_scan = 0;
        self.scan_dead(alive);
    }
}

/// `tid` of a heap that belongs to an allocator rather than a thread.
pub const HOME: i32 = i32::MIN;
