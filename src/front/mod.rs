//! The front end: every allocation call starts here, on the calling
//! thread's heap ([`local::LocalHeap`]), and only reaches the shared heap
//! (behind its lock) for what a thread heap cannot do alone.
//!
//! ```text
//!  malloc(n <= SMALL_MAX) ─► thread heap: pop the current span ──(empty)──► refill:
//!        remote frees, queued spans ──(none)──► LOCK: new span ─► pop
//!  free(p) ─► page map ─► span owned by this thread? push (no lock, no atomic)
//!                      ├─ another thread's span: lock-free push to its thread_free
//!                      ├─ a span nobody owns: LOCK: free into it
//!                      └─ medium / large: LOCK: free the block
//!  larger requests ─► LOCK: medium (whole pages) or large (own block)
//! ```
//! The functions here are generic over [`Shared`], which says how the
//! shared heap is reached: through the allocator's lock, or directly when
//! the caller already holds it (the allocator's own heap). They own the
//! dispatch and the misuse checks and nothing else: spans are `heap`'s,
//! per-thread state is `local`'s.

pub mod local;
#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod race_tests;

use crate::heap::classes::{self, CLASS_SIZE};
use crate::heap::config::{MIN_ALIGN, SMALL_MAX};
use crate::heap::pagemap::PageMap;
use crate::heap::span::{
    FLAGS, FULL, FreeObj, KIND_FREE, KIND_LARGE, KIND_MEDIUM, KIND_SMALL, NO_OWNER, NONE, Span,
};
use crate::heap::{Heap, Misuse, Stats};
use crate::source::BlockSource;
use crate::sync::model::Ordering;
use core::ptr;
use local::{Freed, LocalHeap};

/// How the front end reaches the shared heap.
pub trait Shared<S: BlockSource> {
    /// Runs `f` on the shared heap (locking it if needed). `f` must not
    /// call back into the front end.
    fn with<R>(&self, f: impl FnOnce(&mut Heap<S>) -> R) -> R;
    /// The page map, read without the lock.
    fn map(&self) -> &PageMap;
}

/// The shared heap of a caller that already holds its lock.
pub struct Locked<S: BlockSource>(pub *mut Heap<S>);

impl<S: BlockSource> Shared<S> for Locked<S> {
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Heap<S>) -> R) -> R {
        // SAFETY: the caller holds the heap's lock (or owns the heap).
        f(unsafe { &mut *self.0 })
    }
    #[inline(always)]
    fn map(&self) -> &PageMap {
        // SAFETY: as above; the map is only read here.
        unsafe { &*ptr::addr_of!((*self.0).map) }
    }
}

// ----- allocation --------------------------------------------------------------

/// `malloc(size)`: null when out of memory.
///
/// # Safety
/// `lh` is the calling thread's heap (or one the caller uses under the lock).
#[inline(always)]
pub unsafe fn malloc<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    size: usize,
) -> *mut u8 {
    if size <= SMALL_MAX {
        // SAFETY: per the caller.
        let p = unsafe { LocalHeap::alloc(lh, size) };
        if !p.is_null() {
            return p;
        }
        // SAFETY: per the caller.
        return unsafe { malloc_small_slow(lh, sh, size) };
    }
    malloc_block(sh, size, MIN_ALIGN)
}

#[cold]
#[inline(never)]
fn malloc_block<S: BlockSource>(sh: &impl Shared<S>, size: usize, align: usize) -> *mut u8 {
    sh.with(|h| h.alloc_block(size, align))
}

/// The current span of the request's class is out of objects.
#[cold]
#[inline(never)]
unsafe fn malloc_small_slow<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    size: usize,
) -> *mut u8 {
    let cls = classes::class_of(size);
    // SAFETY: per the caller of `malloc`.
    unsafe {
        if !LocalHeap::refill(lh, cls)
            && !sh.with(|h| {
                h.release_marked(lh);
                h.new_span(lh, cls)
            })
        {
            return ptr::null_mut();
        }
        let p = LocalHeap::alloc(lh, size);
        debug_assert!(!p.is_null());
        p
    }
}

/// `memalign(align, size)` (`align` a power of two).
///
/// # Safety
/// As for [`malloc`].
pub unsafe fn memalign<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    align: usize,
    size: usize,
) -> *mut u8 {
    if align <= MIN_ALIGN {
        // SAFETY: forwarded.
        return unsafe { malloc(lh, sh, size) };
    }
    if let Some(cls) = classes::aligned_class(size, align) {
        // SAFETY: forwarded; a request of the class's size is served by it.
        return unsafe { malloc(lh, sh, CLASS_SIZE[cls] as usize) };
    }
    malloc_block(sh, size, align)
}

// ----- free ----------------------------------------------------------------------

/// `free(p)` of a non-null pointer.
///
/// # Safety
/// As for [`malloc`]; `p` is any value (misuse is reported, never acted on).
#[inline(always)]
pub unsafe fn free<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    p: *mut u8,
) -> Result<(), Misuse> {
    let span = sh.map().get(p as usize);
    // SAFETY: per the caller; `span` is what the page map says of `p`.
    unsafe {
        match LocalHeap::free(lh, span, p) {
            Freed::Done => Ok(()),
            other => free_slow(lh, sh, span, p, other),
        }
    }
}

#[cold]
#[inline(never)]
unsafe fn free_slow<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    span: *mut Span,
    p: *mut u8,
    how: Freed,
) -> Result<(), Misuse> {
    // SAFETY: `span` is a live span (or NONE); objects are written only
    // once validated; spans of this heap are ours to change.
    unsafe {
        match how {
            Freed::Done => Ok(()),
            Freed::Emptied => {
                emptied(lh, sh, span);
                Ok(())
            }
            Freed::NotAnObject => Err(Misuse::InvalidPointer),
            // Confirmed by a walk: not on the free list, the program wrote
            // the mark's value itself and this is a real free.
            Freed::Suspect => free_own_slow(lh, sh, span, p.cast(), LocalHeap::id(lh)),
            Freed::NotHere => free_foreign(lh, sh, span, p),
        }
    }
}

/// A free whose span is not one of this heap's non-full spans.
unsafe fn free_foreign<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    span: *mut Span,
    p: *mut u8,
) -> Result<(), Misuse> {
    // SAFETY: as in `free_slow`.
    unsafe {
        match (*span).kind {
            KIND_SMALL => {}
            KIND_MEDIUM | KIND_LARGE => {
                return sh.with(|h| {
                    h.free_block(span, p)?;
                    h.release_marked(lh);
                    Ok(())
                });
            }
            // Free pages: a block freed before (small or medium).
            KIND_FREE => return Err(Misuse::in_free_run(p)),
            _ => return Err(sh.with(|h| h.misuse_outside(p))),
        }
        if !(*span).is_object(p) {
            return Err(Misuse::InvalidPointer);
        }
        let o = p.cast::<FreeObj>();
        let me = LocalHeap::id(lh);
        loop {
            // Relaxed: the word only routes the free (our own span, nobody's
            // under the lock, or another thread's through the remote list,
            // whose push orders what it publishes).
            let w = (*span).owner.load(Ordering::Relaxed);
            let owner = w & !FLAGS;
            if owner == me {
                // Our own span that the fast path cannot take: full (it has
                // a free object again), or on a remote stack.
                return free_own_slow(lh, sh, span, o, w);
            }
            if owner == NO_OWNER {
                // Abandoned: freed into under the lock, unless a thread
                // adopted it before we got the lock (then look again).
                match sh.with(|h| h.free_abandoned(span, p)) {
                    Some(r) => return r,
                    None => continue,
                }
            }
            break;
        }
        // Another thread's span: a lock-free push onto its remote list.
        if (*o).mark == span as usize {
            return Err(Misuse::DoubleFree);
        }
        // Read before the push: once pushed, the object may be collected and
        // the span emptied, released and its descriptor reused.
        let bytes = (*span).obj_size() as u64;
        Span::push_remote(span, o);
        let c = &mut (*lh).counters;
        c.remote_freed += 1;
        c.remote_freed_bytes += bytes;
        if let Some(heap) = Span::notify(span) {
            // The owner no longer looks at this span: tell it.
            LocalHeap::push_remote_span(heap as *mut LocalHeap, span);
        }
        Ok(())
    }
}

/// A free into one of our spans that the fast path could not make: its
/// owner word `w` has flags (FULL: it is in none of our lists; QUEUED: it
/// is on a remote stack, ours or an older holder's of this record), or the
/// object looked free already. Remote frees are collected first, so a
/// double free is told from a program that wrote the mark's value itself.
/// Inlined into the slow path: with spans of one to four objects (the
/// classes of 2–8 KiB) every other free lands here.
#[inline]
unsafe fn free_own_slow<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    span: *mut Span,
    o: *mut FreeObj,
    w: usize,
) -> Result<(), Misuse> {
    // SAFETY: the span is ours (only we change its lists).
    unsafe {
        LocalHeap::collect(lh, span);
        if (*o).mark == span as usize && Span::contains_free(span, o) {
            return Err(Misuse::DoubleFree);
        }
        if w & FULL != 0 {
            // It has a free object again: back into our lists.
            Span::untag_full(span);
            LocalHeap::push(span, o);
            (*span).used -= 1;
            LocalHeap::enqueue(lh, span);
        } else {
            LocalHeap::push(span, o);
            (*span).used -= 1;
        }
        if (*span).used == 0 {
            emptied(lh, sh, span);
        }
        Ok(())
    }
}

/// A span of this heap has no allocated object left: a current span stays
/// (the next allocation of its class reuses it) unless it is marked as
/// pinning its segment; any other goes back, unless it is on (or going
/// onto) the heap's remote stack: then it stays, and goes back when it
/// empties again once taken off.
///
/// # Safety
/// `span` is an empty SMALL span owned by `lh`, current or queued.
pub unsafe fn emptied<S: BlockSource>(lh: *mut LocalHeap, sh: &impl Shared<S>, span: *mut Span) {
    // SAFETY: per the caller.
    unsafe {
        let cls = (*span).class as usize;
        let me = LocalHeap::id(lh);
        let pins = (*span).pins.load(Ordering::Relaxed);
        if (*lh).current[cls] == span {
            if !pins || !(*span).claim_for_release(me) {
                return;
            }
            LocalHeap::set_current(lh, cls, NONE);
        } else {
            LocalHeap::dequeue(lh, span);
            if !pins && LocalHeap::keep_spare(lh, span) {
                return;
            }
            if !(*span).claim_for_release(me) {
                LocalHeap::enqueue(lh, span);
                return;
            }
        }
        sh.with(|h| {
            h.release_span(lh, span);
            h.release_marked(lh);
        });
    }
}

/// `malloc_trim`: the heap's kept empty spans go back, then the shared
/// heap gives back what it caches. Returns whether memory was released.
///
/// # Safety
/// As for [`malloc`].
pub unsafe fn trim<S: BlockSource>(lh: *mut LocalHeap, sh: &impl Shared<S>, pad: usize) -> bool {
    // SAFETY: per the caller: the heap's spans are ours.
    unsafe { LocalHeap::trim_spans(lh, |s| sh.with(|h| h.release_span(lh, s))) };
    sh.with(|h| h.trim(pad))
}

// ----- the rest of the API ----------------------------------------------------------

/// Usable bytes of the live allocation at `p` (0 for null).
///
/// # Safety
/// As for [`free`].
pub unsafe fn usable_size<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    p: *mut u8,
) -> Result<usize, Misuse> {
    if p.is_null() {
        return Ok(0);
    }
    let span = sh.map().get(p as usize);
    // SAFETY: page-map spans are live; a small span's size fields do not
    // change while it holds an allocated object.
    unsafe {
        match (*span).kind {
            KIND_SMALL => {
                if !(*span).is_object(p) {
                    return Err(Misuse::InvalidPointer);
                }
                check_not_free(lh, span, p)?;
                Ok((*span).obj_size())
            }
            KIND_MEDIUM | KIND_LARGE => sh.with(|h| h.block_usable(span, p)),
            KIND_FREE => Err(Misuse::in_free_run(p)),
            _ => Err(sh.with(|h| h.misuse_outside(p))),
        }
    }
}

/// Reports an object that is already free (as far as can be told without
/// touching other threads' lists).
unsafe fn check_not_free(lh: *mut LocalHeap, span: *mut Span, p: *mut u8) -> Result<(), Misuse> {
    // SAFETY: `p` is an object start of the live span `span`.
    unsafe {
        let o = p.cast::<FreeObj>();
        if (*o).mark != span as usize {
            return Ok(());
        }
        let owner = (*span).owner.load(Ordering::Relaxed);
        if owner & !FLAGS == LocalHeap::id(lh) {
            LocalHeap::collect(lh, span);
            if !Span::contains_free(span, o) {
                return Ok(());
            }
        }
        Err(Misuse::DoubleFree)
    }
}

/// `realloc(p, size)`: in place when it can, newlib's semantics for size 0
/// (a unique minimum allocation); null and `p` intact when out of memory.
///
/// # Safety
/// As for [`free`].
pub unsafe fn realloc<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
    p: *mut u8,
    size: usize,
) -> Result<*mut u8, Misuse> {
    // SAFETY: per the caller.
    unsafe {
        if p.is_null() {
            return Ok(malloc(lh, sh, size));
        }
        (*lh).counters.reallocs += 1;
        let span = sh.map().get(p as usize);
        let old = match (*span).kind {
            KIND_SMALL => {
                if !(*span).is_object(p) {
                    return Err(Misuse::InvalidPointer);
                }
                check_not_free(lh, span, p)?;
                let have = (*span).obj_size();
                if size <= have
                    && (size > have / 2 || classes::class_of(size) == (*span).class as usize)
                {
                    return Ok(p);
                }
                have
            }
            KIND_MEDIUM | KIND_LARGE => {
                let r = sh.with(|h| {
                    let have = h.block_usable(span, p)?;
                    Ok((have, h.resize_block_in_place(span, size)))
                });
                match r {
                    Ok((_, true)) => return Ok(p),
                    Ok((have, false)) => have,
                    Err(e) => return Err(e),
                }
            }
            KIND_FREE => return Err(Misuse::in_free_run(p)),
            _ => return Err(sh.with(|h| h.misuse_outside(p))),
        };
        let q = if size <= SMALL_MAX {
            let q = malloc(lh, sh, size);
            if !q.is_null() {
                (*lh).counters.inner_allocs += 1;
            }
            q
        } else {
            sh.with(|h| h.alloc_block_uncounted(size, MIN_ALIGN))
        };
        if q.is_null() {
            // The failure was counted as a failed allocating call (small)
            // or not at all (block): it is a failed realloc.
            let small = size <= SMALL_MAX;
            sh.with(|h| h.count_failed_realloc(small, size <= old));
            if size <= old {
                // A shrink that could not move keeps its block.
                return Ok(p);
            }
            return Ok(q);
        }
        ptr::copy_nonoverlapping(p, q, old.min(size));
        if (*span).kind == KIND_SMALL {
            (*lh).counters.inner_frees += 1;
            free(lh, sh, p)?;
        } else {
            sh.with(|h| h.free_block_uncounted(span, p))?;
        }
        Ok(q)
    }
}

/// Statistics.
pub fn stats<S: BlockSource>(sh: &impl Shared<S>) -> Stats {
    sh.with(|h| h.stats())
}

/// `Heap::check` with the caller's heap walked too.
///
/// # Safety
/// As for [`malloc`].
pub unsafe fn check<S: BlockSource>(
    lh: *mut LocalHeap,
    sh: &impl Shared<S>,
) -> Result<(), crate::heap::Broken> {
    // SAFETY: forwarded.
    sh.with(|h| unsafe { h.check(lh) })
}
