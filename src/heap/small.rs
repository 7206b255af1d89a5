//! Small-object spans as the shared heap sees them: handing a thread heap a
//! span of a class (an abandoned one first, else a fresh run), taking an
//! emptied one back, and the spans whose thread heap is gone (abandoned,
//! owned by nobody, adopted by the next heap needing their class, freed
//! into under the lock meanwhile). The objects inside a span and the fast
//! paths are `span.rs`'s and `front`'s; this module never runs without the
//! heap lock.

use super::classes::{self, CLASS_COUNT};
use super::config::*;
use super::span::{self, FLAGS, NO_OWNER, QUEUED, Span};
use super::{Heap, Misuse};
use crate::front::local::LocalHeap;
use crate::source::BlockSource;
use crate::sync::model::Ordering;

impl<S: BlockSource> Heap<S> {
    /// Gives `lh` a current span of class `cls` with a free object: an
    /// abandoned span of that class, or a fresh one. False when out of
    /// memory (counted as a failed call).
    ///
    /// # Safety
    /// `lh` is a registered thread heap whose owner is the caller (or
    /// which the caller uses under this lock); its `current[cls]` is `NONE`.
    pub unsafe fn new_span(&mut self, lh: *mut LocalHeap, cls: usize) -> bool {
        // SAFETY: abandoned spans are live, owned by nobody, and touched only
        // under this lock; a fresh run is ours.
        unsafe {
            let me = LocalHeap::id(lh);
            while !self.abandoned[cls].is_null() {
                let s = self.abandoned[cls];
                self.unlink_abandoned(s);
                // Ours now; a QUEUED flag stays with the span (it is still
                // on the stack of the record it was queued for).
                let _ = (*s)
                    .owner
                    .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                        Some(me | (w & QUEUED))
                    });
                LocalHeap::collect(lh, s);
                (*s).lists.read();
                if !(*s).free.is_null() || !Span::tag_full(s) {
                    LocalHeap::collect(lh, s);
                    LocalHeap::set_current(lh, cls, s);
                    return true;
                }
                // Full: it stays ours, tagged, and comes back through the
                // remote stack when other threads free into it.
            }
            let pages = (*lh).span_pages[cls] as usize;
            let s = self.alloc_run(pages, PAGE_SIZE);
            if s.is_null() {
                self.stats.small_failed += 1;
                self.stats.failed_calls += 1;
                return false;
            }
            Span::format_small(s, cls, LocalHeap::id(lh));
            (*(*s).seg).span_pages += pages;
            let next = pages * 2 * PAGE_SIZE;
            if next <= SPAN_GROW_MAX
                && next / classes::CLASS_SIZE[cls] as usize <= SPAN_GROW_OBJECTS
            {
                (*lh).span_pages[cls] = (pages * 2) as u8;
            }
            self.map.set((*s).base as usize, (*s).pages, s);
            LocalHeap::set_current(lh, cls, s);
            true
        }
    }

    /// An empty span of `lh` goes back to the page allocator.
    ///
    /// # Safety
    /// `span` is an empty SMALL span owned by `lh`, neither current nor
    /// queued, claimed for release (`Span::claim_for_release`), and its
    /// owner does not touch it any more.
    pub unsafe fn release_span(&mut self, lh: *mut LocalHeap, span: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            (*lh).counters.allocs = (*lh).counters.allocs.wrapping_add((*span).allocs as u64);
            // A span emptied with no room to keep it: the class's demand
            // fell, so its next span is half as large (down to the base).
            let cls = (*span).class as usize;
            let base = classes::CLASS_PAGES[cls];
            (*lh).span_pages[cls] = ((*lh).span_pages[cls] / 2).max(base);
            self.free_run(span);
        }
    }

    /// Releases `lh`'s current spans that are empty and marked as pinning
    /// their segment (marked after they emptied, so no free of theirs will
    /// notice). O(classes), and only when new spans were marked since `lh`
    /// last looked.
    ///
    /// # Safety
    /// `lh` is the caller's heap.
    pub unsafe fn release_marked(&mut self, lh: *mut LocalHeap) {
        // SAFETY: per the caller: the heap's spans are ours.
        unsafe {
            if (*lh).pins_seen == self.pins_epoch {
                return;
            }
            (*lh).pins_seen = self.pins_epoch;
            for cls in 0..CLASS_COUNT {
                let s = (*lh).current[cls];
                if s != span::NONE
                    && (*s).used == 0
                    && (*s).pins.load(Ordering::Relaxed)
                    && (*s).thread_free.load(Ordering::Relaxed).is_null()
                    && (*s).claim_for_release(LocalHeap::id(lh))
                {
                    LocalHeap::set_current(lh, cls, span::NONE);
                    self.release_span(lh, s);
                }
                // Marked spares go back (the others stay kept).
                LocalHeap::release_spares(lh, cls, |s| {
                    let release = (*s).pins.load(Ordering::Relaxed)
                        && (*s).claim_for_release(LocalHeap::id(lh));
                    if release {
                        self.release_span(lh, s);
                    }
                    release
                });
            }
        }
    }

    /// Frees `p` in a SMALL span that no live thread heap owns (abandoned),
    /// under the lock. None when the span is no longer abandoned: a thread
    /// adopted it between the caller's look at its owner and the lock (the
    /// caller looks again; the owner of a span cannot change from
    /// `NO_OWNER` without this lock).
    ///
    /// # Safety
    /// `span` is the page map's span of `p`, a SMALL span.
    pub unsafe fn free_abandoned(
        &mut self,
        span: *mut Span,
        p: *mut u8,
    ) -> Option<Result<(), Misuse>> {
        // SAFETY: abandoned spans are touched only under this lock.
        unsafe {
            if (*span).owner.load(Ordering::Acquire) & !FLAGS != NO_OWNER {
                return None;
            }
            if !(*span).is_object(p) {
                return Some(Err(Misuse::InvalidPointer));
            }
            let o = p.cast::<span::FreeObj>();
            self.collect_unowned(span);
            if (*o).mark == span as usize && Span::contains_free(span, o) {
                return Some(Err(Misuse::DoubleFree));
            }
            LocalHeap::push(span, o);
            (*span).used -= 1;
            if (*span).used == 0 && (*span).claim_for_release(NO_OWNER) {
                self.unlink_abandoned(span);
                self.retired.allocs = self.retired.allocs.wrapping_add((*span).allocs as u64);
                self.free_run(span);
            }
        }
        Some(Ok(()))
    }

    /// Collects the remote frees of a span nobody owns, counting them.
    ///
    /// # Safety
    /// `s` is a live SMALL span with `NO_OWNER` (touched only under the lock).
    pub(super) unsafe fn collect_unowned(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            let n = Span::collect(s) as u64;
            self.retired.collected += n;
            self.retired.collected_bytes += n * (*s).obj_size() as u64;
        }
    }

    /// Puts a span (owned by nobody now) on the abandoned list of its class.
    ///
    /// # Safety
    /// `s` is a live SMALL span in no list.
    pub(super) unsafe fn push_abandoned(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            span::list_push(&mut self.abandoned[(*s).class as usize], s);
        }
    }

    /// # Safety
    /// `s` is on its class's abandoned list.
    pub(super) unsafe fn unlink_abandoned(&mut self, s: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            span::list_unlink(&mut self.abandoned[(*s).class as usize], s);
        }
    }

    /// Collects remote frees into abandoned spans and frees the ones that
    /// emptied. O(abandoned spans).
    pub(super) fn sweep_abandoned(&mut self) {
        for cls in 0..CLASS_COUNT {
            let mut s = self.abandoned[cls];
            // SAFETY: abandoned spans are live and touched only under the lock.
            unsafe {
                while !s.is_null() {
                    let next = (*s).next;
                    self.collect_unowned(s);
                    if (*s).used == 0 && (*s).claim_for_release(NO_OWNER) {
                        self.unlink_abandoned(s);
                        self.retired.allocs = self.retired.allocs.wrapping_add((*s).allocs as u64);
                        self.free_run(s);
                    }
                    s = next;
                }
            }
        }
    }
}
