//! The span: the out-of-band descriptor of a run of pages, and the object
//! operations on small-object spans.
//!
//! ```text
//!  page map ──► Span { owner, free, used, allocs, start, recip, ... }
//!                        │
//!  pages:  | tail | obj 0 | obj 1 | ... | obj cap-1 |     (kind SMALL)
//!          ^ base  ^ start (objects end exactly at the span's end)
//!  free object: | next | mark = address of its span |
//! ```
//! Every page the heap holds in a segment belongs to exactly one span: a
//! FREE run, a SMALL span of objects of one class, or a MEDIUM block; a
//! LARGE block is a source block of its own with a span describing it.
//! Nothing about a span lives in the memory it describes, so a program
//! writing past the end of a block cannot corrupt the heap's bookkeeping,
//! and a pointer the heap never handed out is recognised from the page map
//! alone.
//!
//! Invariants of a SMALL span (walked by `Heap::check`):
//! - `used` counts objects handed out and not yet freed to this span by
//!   its owner (objects freed by other threads and waiting in `thread_free`
//!   are still counted); `used + len(free) == cap`;
//! - every object on `free` and `thread_free` is an object start of this
//!   span and carries the span's address as its mark;
//! - `owner` is the owner word (below).
//!
//! The owner word of a SMALL span is one atomic, changed only by
//! read-modify-writes once other threads can see the span:
//!
//! ```text
//!   heap address | QUEUED | FULL        (a thread heap owns the span)
//!   NO_OWNER     | QUEUED               (abandoned, or released: owned by nobody)
//! ```
//! - [`FULL`]: the span has no free object and sits in none of its owner's
//!   lists; set and cleared only by the owner (or under the heap lock when
//!   the owner is gone). A thread freeing into a FULL span must tell the
//!   owner, who no longer looks at it.
//! - [`QUEUED`]: the span is on (or about to go onto) the remote-span stack
//!   of the thread heap record whose address was in the word when the bit
//!   was set. Set only by a compare-exchange from `heap | FULL` (so at most
//!   one thread ever queues a span, and never a span that moved on: a
//!   released or re-owned span no longer holds that value), cleared only
//!   by whoever takes the span off that stack. It survives a change of
//!   owner (a dead thread's span abandoned, then adopted), and a span with
//!   it is never released ([`Span::claim_for_release`]), so a span is on at
//!   most one stack, once, and is live while it is there.
//! - The handshake that keeps a FULL span from being forgotten with freed
//!   objects: the freer pushes onto `thread_free`, then (after a full
//!   fence) reads the word; the owner sets FULL, then (after a full fence)
//!   reads `thread_free`. With both fences one of them sees the other (on
//!   ARMv7 a release compare-exchange alone leaves the store and the later
//!   load unordered: `dmb` is needed on both sides).
//!
//! This module never takes a lock, never calls the source and never walks
//! more than one span's list (and that only in `contains_free`, on the
//! cold path of a suspected double free, and in `check`).

use super::check::{Broken, broken};
use super::classes::{self, CLASS_SIZE};
use super::config::PAGE_SIZE;
use super::segments::Segment;
use crate::sync::model::{Access, AtomicPtr, AtomicUsize, Fresh, Ordering, fence};
use core::ptr;
use core::sync::atomic::AtomicBool;

/// A free page run inside a segment.
pub const KIND_FREE: u8 = 1;
/// Objects of one size class.
pub const KIND_SMALL: u8 = 2;
/// One medium block: a page run handed out whole.
pub const KIND_MEDIUM: u8 = 3;
/// One large block: a source block of its own.
pub const KIND_LARGE: u8 = 4;
/// Blocks smaller than a page of a heap that keeps nothing in its memory:
/// slots tracked by a bitmap record (see `slots.rs`).
pub const KIND_SLOTS: u8 = 5;
/// The shared descriptor of every page that is not the heap's.
pub const KIND_NONE: u8 = 0;

/// `owner` of every span no thread heap owns: never a heap's address (heaps
/// are aligned to 8 and never at address 4), never 0 (the fast path compares
/// the word with the calling thread's heap, which is 0 for a thread that has
/// none).
pub const NO_OWNER: usize = 4;
/// Set in `owner` while the span is full and in no list of its owner's: a
/// free by the owner then takes the slow path, which queues the span again.
pub const FULL: usize = 1;
/// Set in `owner` while the span is on (or going onto) a remote-span stack.
pub const QUEUED: usize = 2;
/// The flag bits of the owner word.
pub const FLAGS: usize = FULL | QUEUED;

/// The first two words of a free object.
#[repr(C)]
pub struct FreeObj {
    /// Next free object of the same list, or null.
    pub next: *mut FreeObj,
    /// The address of the span while the object is free, 0 while it is
    /// allocated: a free of an object whose mark is already set is a
    /// suspected double free (confirmed by a walk before it is reported).
    pub mark: usize,
}

/// Descriptor of a run of pages. The first five fields are what the fast
/// paths touch; keep them first and together.
#[repr(C)]
pub struct Span {
    /// The owner word (see the module comment): the owning thread heap
    /// (small spans) with the FULL and QUEUED flags, else [`NO_OWNER`].
    pub owner: AtomicUsize,
    /// Free objects the owner allocates from (owner only; every access
    /// declared on `lists`). SLOTS: the address of the span's bitmap
    /// record (`slots.rs`).
    pub free: *mut FreeObj,
    /// Objects not on `free` (see the module invariants; owner only, like
    /// `free`).
    pub used: u32,
    /// Objects ever handed out from this span, modulo 2^32 (the thread
    /// heap folds it into its totals when it wraps or the span leaves it).
    pub allocs: u32,
    /// SMALL: the first object (after the tail). MEDIUM and LARGE: the
    /// pointer handed out. SLOTS: the first slot (`base`).
    pub start: *mut u8,
    /// SMALL: [`classes::recip`] of the object size.
    pub recip: u32,
    /// SMALL: objects in the span (its pages vary per thread heap: see
    /// `LocalHeap::span_pages`).
    pub cap: u32,
    /// SMALL: the size class. SLOTS: the slot class. Others: 0xFF.
    pub class: u8,
    /// One of the `KIND_*` values.
    pub kind: u8,
    /// Set (under the heap lock) while this span is all its segment holds
    /// besides free space: emptied, it goes back even if it is current, so
    /// the segment can too.
    pub pins: AtomicBool,
    /// Objects freed by other threads, pushed lock-free, collected by the
    /// owner (or under the heap lock once the owner is gone).
    pub thread_free: AtomicPtr<FreeObj>,
    /// First page.
    pub base: *mut u8,
    /// Pages in the run (LARGE: bytes of the source block / PAGE_SIZE).
    pub pages: usize,
    /// Queue links: a thread heap's class queue, a free-run bin, or the
    /// large-block list.
    pub next: *mut Span,
    /// See `next`.
    pub prev: *mut Span,
    /// Link on a remote-span stack: written by the thread that set QUEUED,
    /// read by the one that takes the stack (accesses declared on `link`).
    pub remote_next: *mut Span,
    /// Declared accesses to `free` and `used` (checked under loom).
    pub lists: Access,
    /// Declared accesses to `remote_next` (checked under loom).
    pub link: Access,
    /// FREE/SMALL/MEDIUM: the segment holding the run. LARGE: the source
    /// block's handle, as an address without provenance (never followed;
    /// see [`crate::heap::large`]).
    pub seg: *mut Segment,
}

impl Span {
    /// A blank descriptor of the given kind, for the heap's descriptors
    /// (made at run time: its protocol fields are modelled under loom).
    #[inline(always)]
    pub fn fresh(kind: u8) -> Span {
        Span {
            owner: AtomicUsize::fresh(NO_OWNER),
            thread_free: AtomicPtr::fresh(ptr::null_mut()),
            lists: Access::fresh(),
            link: Access::fresh(),
            ..Span::new(kind)
        }
    }

    /// Resets a recycled descriptor to `Span::fresh(kind)`, keeping its
    /// atomics (a thread that freed into the span when it was another may
    /// still read its owner word): they are stored atomically.
    ///
    /// # Safety
    /// `this` is a descriptor nobody uses (other threads may only read
    /// its atomics).
    pub unsafe fn reset(this: *mut Span, kind: u8) {
        let b = Span::new(kind);
        // SAFETY: per the caller: every plain field is ours.
        unsafe {
            (*this).free = b.free;
            (*this).used = b.used;
            (*this).allocs = b.allocs;
            (*this).start = b.start;
            (*this).recip = b.recip;
            (*this).cap = b.cap;
            (*this).class = b.class;
            (*this).kind = b.kind;
            (*this).pins.store(false, Ordering::Relaxed);
            (*this).base = b.base;
            (*this).pages = b.pages;
            (*this).next = b.next;
            (*this).prev = b.prev;
            (*this).remote_next = b.remote_next;
            (*this).seg = b.seg;
            (*this).owner.store(NO_OWNER, Ordering::Relaxed);
            (*this)
                .thread_free
                .store(ptr::null_mut(), Ordering::Relaxed);
        }
    }

    /// A blank descriptor of the given kind, usable in a `static`.
    pub const fn new(kind: u8) -> Span {
        Span {
            owner: AtomicUsize::new(NO_OWNER),
            free: ptr::null_mut(),
            used: 0,
            allocs: 0,
            start: ptr::null_mut(),
            recip: 0,
            cap: 0,
            class: 0xFF,
            kind,
            pins: AtomicBool::new(false),
            thread_free: AtomicPtr::new(ptr::null_mut()),
            base: ptr::null_mut(),
            pages: 0,
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
            remote_next: ptr::null_mut(),
            lists: Access::new(),
            link: Access::new(),
            seg: ptr::null_mut(),
        }
    }

    /// Bytes of the run.
    #[inline(always)]
    pub fn bytes(&self) -> usize {
        self.pages * PAGE_SIZE
    }

    /// First byte past the run.
    #[inline(always)]
    pub fn end(&self) -> usize {
        self.base as usize + self.bytes()
    }

    /// Object size of a SMALL span.
    #[inline(always)]
    pub fn obj_size(&self) -> usize {
        CLASS_SIZE[self.class as usize] as usize
    }

    /// Objects in a SMALL span.
    #[inline(always)]
    pub fn cap(&self) -> usize {
        self.cap as usize
    }

    /// Claims a SMALL span owned by `owner` (a thread heap, or
    /// [`NO_OWNER`] for an abandoned span) for its release (its run going
    /// back, its descriptor recycled): true when the owner word was exactly
    /// `owner` (not FULL, not QUEUED) and is now `NO_OWNER`, so no thread
    /// will ever queue it; false when it is on a remote stack, or going
    /// onto one, where it must stay live until taken off. Call it only
    /// right before releasing.
    ///
    /// A load and a store, not a read-modify-write: while the word is
    /// exactly `owner` nobody else may change it (a freer only sets QUEUED
    /// on a FULL word, only whoever takes a stack clears it), and the
    /// caller is the only one who changes it otherwise.
    #[inline]
    pub fn claim_for_release(&self, owner: usize) -> bool {
        if self.owner.load(Ordering::Relaxed) != owner {
            return false;
        }
        self.owner.store(NO_OWNER, Ordering::Relaxed);
        true
    }

    /// The owner tags its span FULL (it has no free object and leaves the
    /// owner's lists), unless another thread freed into it meanwhile:
    /// true when tagged; false when objects wait on `thread_free` (the
    /// span is then still the owner's, untagged, to collect and queue).
    ///
    /// # Safety
    /// The caller owns the span (or holds the heap lock for an adopted
    /// one), which is in none of its lists.
    #[inline]
    pub unsafe fn tag_full(this: *mut Span) -> bool {
        // SAFETY: per the caller, the span is live.
        unsafe {
            let w = (*this).owner.load(Ordering::Relaxed);
            if w & QUEUED == 0 {
                // Not FULL, not QUEUED: nobody else may change the word
                // (see `claim_for_release`).
                (*this).owner.store(w | FULL, Ordering::Relaxed);
            } else {
                // Whoever takes the stack it is on may clear QUEUED.
                (*this).owner.fetch_or(FULL, Ordering::Relaxed);
            }
            // Pairs with the fence in `notify`: between setting FULL and
            // reading `thread_free` (see the module comment). The objects
            // themselves are taken with `collect`'s acquire.
            fence(Ordering::SeqCst);
            if (*this).thread_free.load(Ordering::Relaxed).is_null() {
                return true;
            }
            Span::untag_full(this);
            false
        }
    }

    /// The owner takes its FULL span back into its lists (a
    /// read-modify-write: a freer may be setting QUEUED meanwhile).
    ///
    /// # Safety
    /// The caller owns the span (or holds the heap lock for an adopted
    /// one).
    #[inline]
    pub unsafe fn untag_full(this: *mut Span) {
        // SAFETY: per the caller, the span is live.
        unsafe { (*this).owner.fetch_and(!FULL, Ordering::Relaxed) };
    }

    /// Called after pushing onto the `thread_free` of a span this thread
    /// does not own: if the span's owner no longer looks at it (FULL) and
    /// nobody has queued it yet, claims the right to queue it (sets
    /// QUEUED) and returns the thread heap record whose remote stack it
    /// must go onto; the caller pushes it there. Lock-free: it retries
    /// only when the owner word changed, and gives up as soon as the word
    /// says the span needs nothing (not FULL, already queued, or owned by
    /// nobody). The span may have moved on since the push (collected,
    /// released, formatted anew for another heap): the compare-exchange
    /// only succeeds on the word as it is now, so a span is only ever
    /// queued for its current owner's record, at most once.
    ///
    /// # Safety
    /// `this` is a descriptor of the heap (descriptors are never unmapped).
    #[inline]
    pub unsafe fn notify(this: *mut Span) -> Option<usize> {
        // SAFETY: descriptors stay mapped; only atomics are touched.
        unsafe {
            // Pairs with the fence in `tag_full`: between the push onto
            // `thread_free` and reading the owner word.
            fence(Ordering::SeqCst);
            let mut w = (*this).owner.load(Ordering::Acquire);
            loop {
                if w & FULL == 0 || w & QUEUED != 0 || w & !FLAGS == NO_OWNER {
                    return None;
                }
                crate::sys::thread::preempt_point(crate::sys::thread::Point::Notify);
                match (*this).owner.compare_exchange(
                    w,
                    w | QUEUED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Some(w & !FLAGS),
                    Err(now) => w = now,
                }
            }
        }
    }

    /// Whether `p` is the start of one of this SMALL span's objects.
    #[inline(always)]
    pub fn is_object(&self, p: *mut u8) -> bool {
        classes::is_object_start((p as usize).wrapping_sub(self.start as usize), self.recip)
    }

    /// Formats the run `[base, base + pages)` as a SMALL span of class
    /// `cls` with every object free, owned by `owner`.
    ///
    /// # Safety
    /// `this` is a descriptor the caller owns; the run is writable, unused
    /// and at most 32 KiB long (objects are told apart by `classes::recip`).
    pub unsafe fn format_small(this: *mut Span, cls: usize, owner: usize) {
        // SAFETY: all writes stay inside the caller's run and descriptor.
        unsafe {
            let size = CLASS_SIZE[cls] as usize;
            let bytes = (*this).bytes();
            let recip = classes::CLASS_RECIP[cls];
            // bytes / size, exactly, by the reciprocal (bytes <= 32 KiB).
            let cap = ((bytes as u64 * recip as u64) >> 32) as usize;
            let base = (*this).base;
            let start = base.add(bytes - cap * size);
            let mut next: *mut FreeObj = ptr::null_mut();
            for i in (0..cap).rev() {
                let o = start.add(i * size).cast::<FreeObj>();
                o.write(FreeObj {
                    next,
                    mark: this as usize,
                });
                next = o;
            }
            (*this).free = next;
            (*this).used = 0;
            (*this).allocs = 0;
            (*this).start = start;
            (*this).recip = recip;
            (*this).cap = cap as u32;
            (*this).class = cls as u8;
            (*this).kind = KIND_SMALL;
            (*this).lists.write();
            (*this)
                .thread_free
                .store(ptr::null_mut(), Ordering::Relaxed);
            (*this).owner.store(owner, Ordering::Relaxed);
            (*this).next = ptr::null_mut();
            (*this).prev = ptr::null_mut();
        }
    }

    /// Whether `o` is on the span's own free list. O(cap): only run on a
    /// suspected double free.
    ///
    /// # Safety
    /// The caller may read the span's free list (it is the owner, or holds
    /// the heap lock for an unowned span).
    #[cold]
    pub unsafe fn contains_free(this: *mut Span, o: *mut FreeObj) -> bool {
        // SAFETY: the free list holds live free objects of this span.
        unsafe {
            (*this).lists.read();
            let mut f = (*this).free;
            let mut n = 0;
            while !f.is_null() && n <= (*this).cap() {
                if f == o {
                    return true;
                }
                f = (*f).next;
                n += 1;
            }
        }
        false
    }

    /// Takes the objects other threads freed (all at once) and puts them on
    /// `free`. Returns how many there were. O(objects taken).
    ///
    /// # Safety
    /// The caller is the span's owner (or holds the heap lock for an
    /// unowned span).
    pub unsafe fn collect(this: *mut Span) -> usize {
        // SAFETY: per the caller; objects on `thread_free` are free objects
        // of this span that no other thread touches once swapped out.
        unsafe {
            if (*this).thread_free.load(Ordering::Relaxed).is_null() {
                return 0;
            }
            (*this).lists.write();
            let mut o = (*this).thread_free.swap(ptr::null_mut(), Ordering::Acquire);
            let mut n = 0;
            while !o.is_null() {
                let next = (*o).next;
                (*o).next = (*this).free;
                (*this).free = o;
                o = next;
                n += 1;
            }
            (*this).used -= n as u32;
            n
        }
    }

    /// Pushes the object `o` onto `thread_free` (a free by a thread that
    /// does not own the span). Lock-free: the loop only repeats when another
    /// thread pushed or the owner collected in between.
    ///
    /// # Safety
    /// `o` is an allocated object of this live SMALL span.
    pub unsafe fn push_remote(this: *mut Span, o: *mut FreeObj) {
        // SAFETY: per the caller; the object is ours to write until pushed.
        unsafe {
            (*o).mark = this as usize;
            let mut head = (*this).thread_free.load(Ordering::Relaxed);
            loop {
                (*o).next = head;
                match (*this).thread_free.compare_exchange_weak(
                    head,
                    o,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(h) => head = h,
                }
            }
        }
    }

    /// Verifies a SMALL span's invariants. O(cap).
    ///
    /// # Safety
    /// Nothing else touches the span's lists meanwhile (the caller owns it,
    /// or no thread runs).
    pub unsafe fn check_small(this: *mut Span) -> Result<(), Broken> {
        // SAFETY: per the caller.
        unsafe {
            (*this).lists.read();
            let s = &*this;
            if (s.class as usize) >= classes::CLASS_COUNT
                || s.bytes() > super::config::SPAN_MAX_PAGES * PAGE_SIZE
                || s.cap() != s.bytes() / s.obj_size()
            {
                return broken("span: bad class or page count", this);
            }
            let mut lists = [0usize; 2];
            for (k, head) in [s.free, s.thread_free.load(Ordering::Acquire)]
                .into_iter()
                .enumerate()
            {
                let mut f = head;
                while !f.is_null() {
                    if (f as usize) < s.base as usize
                        || f as usize >= s.end()
                        || !s.is_object(f.cast())
                    {
                        return broken("span: a free list points outside the span's objects", f);
                    }
                    if (*f).mark != this as usize {
                        return broken("span: a free object was written to (write after free?)", f);
                    }
                    lists[k] += 1;
                    if lists[k] > s.cap() {
                        return broken("span: a free list loops", this);
                    }
                    f = (*f).next;
                }
            }
            if lists[0] + s.used as usize != s.cap() || lists[1] > s.used as usize {
                return broken("span: its used count disagrees with its free lists", this);
            }
        }
        Ok(())
    }
}

/// Puts `s` at the front of the span list headed by `*head` (lists link
/// spans through `next`/`prev`: a thread heap's class queue, the
/// abandoned spans of a class, a free-run bin, the large blocks).
///
/// # Safety
/// `s` is a live span in no list; the list holds live spans.
#[inline]
pub unsafe fn list_push(head: &mut *mut Span, s: *mut Span) {
    // SAFETY: per the caller.
    unsafe {
        (*s).next = *head;
        (*s).prev = ptr::null_mut();
        if !head.is_null() {
            (**head).prev = s;
        }
    }
    *head = s;
}

/// Takes `s` out of the span list headed by `*head`.
///
/// # Safety
/// `s` is in that list; the list holds live spans.
#[inline]
pub unsafe fn list_unlink(head: &mut *mut Span, s: *mut Span) {
    // SAFETY: per the caller.
    unsafe {
        let (next, prev) = ((*s).next, (*s).prev);
        if !next.is_null() {
            (*next).prev = prev;
        }
        if prev.is_null() {
            *head = next;
        } else {
            (*prev).next = next;
        }
        (*s).next = ptr::null_mut();
        (*s).prev = ptr::null_mut();
    }
}

/// The descriptor of every page that is not the heap's.
pub static NONE_SPAN: SharedSpan = SharedSpan(Span::new(KIND_NONE));

/// A span in a `static` (never written after start-up).
#[repr(transparent)]
pub struct SharedSpan(pub Span);
// SAFETY: the shared spans are never written (their owner is NO_OWNER, so
// no fast path writes them, and no slow path writes a NONE span).
unsafe impl Sync for SharedSpan {}

/// Address of [`NONE_SPAN`].
pub const NONE: *mut Span = (&raw const NONE_SPAN).cast::<Span>().cast_mut();
