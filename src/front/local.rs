//! The thread heap: the spans one thread allocates small objects from, and
//! the fast paths that use them without a lock, an atomic read-modify-write
//! or a barrier.
//!
//! ```text
//!  direct[(size+7)/8] ─┐  (sizes up to DIRECT_MAX)
//!  current[class] ─────┴─► span: free ─► obj ─► obj ─► ...   pop on malloc,
//!  queue[class]  ─► span ⇄ span ...  (owned, not current, free objects)
//!  remote ─► span ─► span ...         (full spans other threads freed into)
//! ```
//! Invariants (walked by `Heap::check` for the heaps it may read):
//! - `direct[i] == current[CLASS_OF[i]]` for every i;
//! - `current[c]` is `NONE` or a SMALL span of class `c` owned by this heap
//!   (its owner word is this heap, not FULL; QUEUED may be set), in no
//!   queue;
//! - spans in `queue[c]` are SMALL spans of class `c` owned by this heap
//!   (not FULL) with at least one free object;
//! - `spare[c]` is null or an empty SMALL span of class `c` owned by this
//!   heap, neither current nor queued;
//! - a span owned by this heap that is neither current, queued nor spare is
//!   full and tagged FULL in its owner word;
//! - `remote` holds, each once, spans whose owner word has QUEUED set:
//!   this heap's, or (queued for an earlier holder of the record) another
//!   heap's or nobody's.
//!
//! Only the owning thread touches a thread heap, except `remote` (pushed by
//! other threads) and, under the heap lock, the counters (read by
//! statistics) and the whole heap once its thread is gone.
//!
//! A heap's memory is a record that outlives its thread: when the thread
//! is gone the record is recycled for a new thread, but `remote` is never
//! reset. A thread that queued a span for the old owner may still be
//! pushing it there; whoever holds the record next (a new thread, or the
//! shared heap while the record waits unused) takes those spans off and
//! hands each to its current owner ([`LocalHeap::take_remote`]), so no push
//! is ever lost and none lands on memory that became something else.

use crate::heap::classes::{self, CLASS_COUNT, CLASS_SIZE};
use crate::heap::config::{DIRECT_MAX, SMALL_MAX, SPARE_PAGES};
use crate::heap::span::{self, FLAGS, FULL, FreeObj, NO_OWNER, NONE, QUEUED, Span};
use crate::sync::model::{AtomicPtr, Fresh, Ordering};
use core::ptr;

/// Entries of `direct`.
pub const DIRECT_LEN: usize = DIRECT_MAX / 8 + 1;

/// What a thread heap's counters say, folded in when spans leave it.
#[derive(Clone, Copy, Default, Debug)]
#[repr(C)]
pub struct Counters {
    /// Small allocations counted in spans that left this heap, plus 2^32
    /// for every wrap of a span's `allocs`.
    pub allocs: u64,
    /// Allocations made inside `realloc` (not calls of their own).
    pub inner_allocs: u64,
    /// Frees made inside `realloc`.
    pub inner_frees: u64,
    /// `realloc` calls with a non-null pointer.
    pub reallocs: u64,
    /// Objects this thread freed into other heaps' spans.
    pub remote_freed: u64,
    /// Their bytes.
    pub remote_freed_bytes: u64,
    /// Objects other threads freed into this heap's spans, collected here.
    pub collected: u64,
    /// Their bytes.
    pub collected_bytes: u64,
}

impl Counters {
    /// All zero (usable in a `const` initialiser, unlike `Default`).
    pub const ZERO: Counters = Counters {
        allocs: 0,
        inner_allocs: 0,
        inner_frees: 0,
        reallocs: 0,
        remote_freed: 0,
        remote_freed_bytes: 0,
        collected: 0,
        collected_bytes: 0,
    };

    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Counters) {
        self.allocs = self.allocs.wrapping_add(o.allocs);
        self.inner_allocs += o.inner_allocs;
        self.inner_frees += o.inner_frees;
        self.reallocs += o.reallocs;
        self.remote_freed += o.remote_freed;
        self.remote_freed_bytes += o.remote_freed_bytes;
        self.collected += o.collected;
        self.collected_bytes += o.collected_bytes;
    }
}

/// The outcome of a free by the owner's fast path.
pub enum Freed {
    /// Done.
    Done,
    /// Done, and the span has no allocated object left.
    Emptied,
    /// The span is not this heap's (or is its full span): slow path.
    NotHere,
    /// `p` is inside the span but not the start of an object.
    NotAnObject,
    /// The object looks free already (to be confirmed).
    Suspect,
}

/// One thread's small-object state.
#[repr(C)]
pub struct LocalHeap {
    /// The current span of each 8-byte size step up to DIRECT_MAX.
    pub direct: [*mut Span; DIRECT_LEN],
    /// The span each class allocates from (`NONE`: none yet).
    pub current: [*mut Span; CLASS_COUNT],
    /// Other owned spans with free objects, per class.
    pub queue: [*mut Span; CLASS_COUNT],
    /// Empty spans kept aside per class (owned, in no queue, linked by
    /// `next`), at most [`SPARE_PAGES`] pages in all, so a class whose use
    /// oscillates around a span boundary does not take a span from the
    /// shared heap and give it back over and over.
    pub spare: [*mut Span; CLASS_COUNT],
    /// Pages in `spare` lists.
    pub spare_pages: usize,
    /// Pages of this heap's next new span of each class: the class's base
    /// size at first (one page up to 1 KiB), doubled with every new span
    /// up to `SPAN_GROW_MAX` bytes, so a class a thread uses a lot takes
    /// the shared heap's lock less often while a thread that makes a few
    /// allocations pays one small span per class.
    pub span_pages: [u8; CLASS_COUNT],
    /// Full spans other threads freed objects into (a lock-free stack
    /// through `Span::remote_next`, pushed by them, taken whole by us).
    /// Never reset once the record exists (see the module comment).
    pub remote: AtomicPtr<Span>,
    /// Counters, read under the heap lock by statistics.
    pub counters: Counters,
    /// The shared heap's `pins_epoch` when this heap last looked for empty
    /// spans marked as pinning their segment.
    pub pins_seen: u32,
    /// The thread's identity where the platform has one (Vita: thread id).
    pub tid: i32,
    /// The address of the thread's slot that points at this heap (the
    /// liveness check compares it).
    pub slot: usize,
    /// Registry links (under the heap lock).
    pub next: *mut LocalHeap,
    /// See `next`.
    pub prev: *mut LocalHeap,
}

impl Default for LocalHeap {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalHeap {
    /// A heap with no spans.
    pub const fn new() -> Self {
        LocalHeap {
            direct: [NONE; DIRECT_LEN],
            current: [NONE; CLASS_COUNT],
            queue: [ptr::null_mut(); CLASS_COUNT],
            spare: [ptr::null_mut(); CLASS_COUNT],
            spare_pages: 0,
            span_pages: crate::heap::classes::CLASS_PAGES,
            remote: AtomicPtr::new(ptr::null_mut()),
            counters: Counters::ZERO,
            pins_seen: 0,
            tid: 0,
            slot: 0,
            next: ptr::null_mut(),
            prev: ptr::null_mut(),
        }
    }

    /// Makes a heap in fresh metadata memory that nothing points at.
    ///
    /// # Safety
    /// `this` is writable memory for a LocalHeap that no thread has seen.
    pub unsafe fn init(this: *mut LocalHeap) {
        // SAFETY: per the caller.
        unsafe {
            this.write(LocalHeap {
                remote: AtomicPtr::fresh(ptr::null_mut()),
                ..LocalHeap::new()
            })
        };
    }

    /// Resets a recycled heap record to `new()` except its remote stack,
    /// which other threads may be pushing onto (it is written only by
    /// atomics, and its spans are taken off by the record's next owner).
    ///
    /// # Safety
    /// `this` is a recycled record nobody uses (other threads may only
    /// push onto its `remote`).
    pub unsafe fn reuse(this: *mut LocalHeap) {
        let n = LocalHeap::new();
        // SAFETY: per the caller: every field but `remote` is ours.
        unsafe {
            (*this).direct = n.direct;
            (*this).current = n.current;
            (*this).queue = n.queue;
            (*this).spare = n.spare;
            (*this).spare_pages = n.spare_pages;
            (*this).span_pages = n.span_pages;
            (*this).counters = n.counters;
            (*this).pins_seen = n.pins_seen;
            (*this).tid = n.tid;
            (*this).slot = n.slot;
            (*this).next = n.next;
            (*this).prev = n.prev;
        }
    }

    /// The address other code compares span owners with.
    #[inline(always)]
    pub fn id(this: *const LocalHeap) -> usize {
        this as usize
    }

    // ----- fast paths -------------------------------------------------------

    /// Takes an object for a request of `size <= SMALL_MAX` bytes from the
    /// current span of its class, or returns null when that span has no
    /// free object (the caller then takes the slow path). No lock, no
    /// atomic, no barrier.
    ///
    /// # Safety
    /// The caller is this heap's owner.
    #[inline(always)]
    pub unsafe fn alloc(this: *mut LocalHeap, size: usize) -> *mut u8 {
        debug_assert!(size <= SMALL_MAX);
        // SAFETY: current spans are live spans of this heap (or NONE, whose
        // free list is empty and which is never written).
        unsafe {
            let span = if size <= DIRECT_MAX {
                *(*this).direct.get_unchecked((size + 7) >> 3)
            } else {
                *(*this).current.get_unchecked(classes::class_of(size))
            };
            (*span).lists.write();
            let o = (*span).free;
            if o.is_null() {
                return ptr::null_mut();
            }
            (*span).free = (*o).next;
            (*o).mark = 0;
            (*span).used += 1;
            let a = (*span).allocs.wrapping_add(1);
            (*span).allocs = a;
            if a == 0 {
                // A tail call: the fast path needs no stack frame.
                return Self::allocs_wrapped(this, o.cast());
            }
            o.cast()
        }
    }

    /// A span's `allocs` wrapped: 2^32 more allocations go to the heap's
    /// count. Returns `p` (so the fast path can tail-call it).
    #[cold]
    #[inline(never)]
    fn allocs_wrapped(this: *mut LocalHeap, p: *mut u8) -> *mut u8 {
        // SAFETY: the caller is the owner.
        unsafe { (*this).counters.allocs = (*this).counters.allocs.wrapping_add(1 << 32) };
        p
    }

    /// Frees `p`, whose page belongs to `span`, if `span` is one of this
    /// heap's non-full spans. No lock, no atomic read-modify-write.
    ///
    /// # Safety
    /// The caller is this heap's owner; `span` is what the page map says
    /// of `p`'s page.
    #[inline(always)]
    pub unsafe fn free(this: *mut LocalHeap, span: *mut Span, p: *mut u8) -> Freed {
        // SAFETY: a span whose owner is this heap is live and ours; `p` is
        // written only once it is known to start one of its objects.
        unsafe {
            if (*span).owner.load(Ordering::Relaxed) != Self::id(this) {
                return Freed::NotHere;
            }
            if !(*span).is_object(p) {
                return Freed::NotAnObject;
            }
            let o = p.cast::<FreeObj>();
            if (*o).mark == span as usize {
                return Freed::Suspect;
            }
            (*span).lists.write();
            Self::push(span, o);
            (*span).used -= 1;
            // An emptied current span stays current (the next allocation of
            // its class reuses it) unless it pins its segment; any other
            // emptied span goes back.
            if (*span).used == 0
                && (*(*this).current.get_unchecked((*span).class as usize) != span
                    || (*span).pins.load(Ordering::Relaxed))
            {
                return Freed::Emptied;
            }
            Freed::Done
        }
    }

    /// Puts the object `o` on the span's free list.
    ///
    /// # Safety
    /// The caller owns the span; `o` is an allocated object of it.
    #[inline(always)]
    pub unsafe fn push(span: *mut Span, o: *mut FreeObj) {
        // SAFETY: per the caller.
        unsafe {
            (*span).lists.write();
            (*o).next = (*span).free;
            (*o).mark = span as usize;
            (*span).free = o;
        }
    }

    // ----- owner-side slow paths (still no lock) -----------------------------

    /// Makes `current[cls]` a span with a free object using only what this
    /// heap already owns: objects other threads freed, full spans they
    /// freed into, queued spans. Returns false when the heap lock is needed
    /// (a new span). `current[cls]` is then `NONE`.
    ///
    /// # Safety
    /// The caller is this heap's owner.
    pub unsafe fn refill(this: *mut LocalHeap, cls: usize) -> bool {
        // SAFETY: spans reached from this heap are live and owned by it.
        unsafe {
            let cur = (*this).current[cls];
            if cur != NONE && Self::collect(this, cur) > 0 && !(*cur).free.is_null() {
                return true;
            }
            Self::take_remote(this);
            let q = (*this).queue[cls];
            if !q.is_null() {
                Self::dequeue(this, q);
                Self::retire_current(this, cls);
                Self::set_current(this, cls, q);
                return true;
            }
            Self::retire_current(this, cls);
            let s = Self::take_spare(this, cls);
            if !s.is_null() {
                Self::set_current(this, cls, s);
                return true;
            }
            false
        }
    }

    /// Keeps an empty span aside if the spare budget allows; false if not.
    ///
    /// # Safety
    /// The caller owns `span`, empty and in no list.
    pub unsafe fn keep_spare(this: *mut LocalHeap, span: *mut Span) -> bool {
        // SAFETY: per the caller.
        unsafe {
            if (*this).spare_pages + (*span).pages > SPARE_PAGES {
                return false;
            }
            let cls = (*span).class as usize;
            (*span).next = (*this).spare[cls];
            (*span).prev = ptr::null_mut();
            (*this).spare[cls] = span;
            (*this).spare_pages += (*span).pages;
            true
        }
    }

    /// Offers each kept spare of `cls` to `release`; the ones it does not
    /// take (it returns false) stay kept. O(spares of `cls`).
    ///
    /// # Safety
    /// The caller is the owner; `release` takes a span it accepts (its
    /// owner no longer touches it).
    pub unsafe fn release_spares(
        this: *mut LocalHeap,
        cls: usize,
        mut release: impl FnMut(*mut Span) -> bool,
    ) {
        // SAFETY: per the caller: spares are this heap's, in no other list.
        unsafe {
            let mut keep: *mut Span = ptr::null_mut();
            loop {
                let s = Self::take_spare(this, cls);
                if s.is_null() {
                    break;
                }
                if !release(s) {
                    (*s).next = keep;
                    keep = s;
                }
            }
            while !keep.is_null() {
                let next = (*keep).next;
                Self::keep_spare(this, keep);
                keep = next;
            }
        }
    }

    /// `malloc_trim` of this heap: takes the remote stack, collects every
    /// current and queued span and gives each empty one (and every kept
    /// spare) to `release` once it is claimed for release; spans on a
    /// remote stack stay (see `Span::claim_for_release`). O(spans of the
    /// heap).
    ///
    /// # Safety
    /// The caller is the owner (or holds the heap lock for a heap only
    /// used under it); `release` takes a claimed span (its owner no longer
    /// touches it).
    pub unsafe fn trim_spans(this: *mut LocalHeap, mut release: impl FnMut(*mut Span)) {
        // SAFETY: per the caller: the heap's spans are ours.
        unsafe {
            let me = Self::id(this);
            Self::take_remote(this);
            for cls in 0..CLASS_COUNT {
                let s = (*this).current[cls];
                if s != NONE {
                    Self::collect(this, s);
                    if (*s).used == 0 && (*s).claim_for_release(me) {
                        Self::set_current(this, cls, NONE);
                        release(s);
                    }
                }
                let mut q = (*this).queue[cls];
                while !q.is_null() {
                    let next = (*q).next;
                    Self::collect(this, q);
                    if (*q).used == 0 && (*q).claim_for_release(me) {
                        Self::dequeue(this, q);
                        release(q);
                    }
                    q = next;
                }
                Self::release_spares(this, cls, |s| {
                    let claimed = (*s).claim_for_release(me);
                    if claimed {
                        release(s);
                    }
                    claimed
                });
            }
        }
    }

    /// Takes a kept empty span of `cls`, or null.
    ///
    /// # Safety
    /// The caller is the owner.
    pub unsafe fn take_spare(this: *mut LocalHeap, cls: usize) -> *mut Span {
        // SAFETY: spare spans are owned by this heap.
        unsafe {
            let s = (*this).spare[cls];
            if !s.is_null() {
                (*this).spare[cls] = (*s).next;
                (*s).next = ptr::null_mut();
                (*this).spare_pages -= (*s).pages;
                Self::collect(this, s);
            }
            s
        }
    }

    /// Collects the span's remote frees, counting them. Returns how many.
    ///
    /// # Safety
    /// The caller owns the span.
    pub unsafe fn collect(this: *mut LocalHeap, span: *mut Span) -> usize {
        // SAFETY: per the caller.
        unsafe {
            let n = Span::collect(span);
            if n > 0 {
                let c = &mut (*this).counters;
                c.collected += n as u64;
                c.collected_bytes += (n * (*span).obj_size()) as u64;
            }
            n
        }
    }

    /// The current span of `cls` is out of objects: it stops being current
    /// and is tagged FULL, unless a remote free raced in (then it is queued).
    unsafe fn retire_current(this: *mut LocalHeap, cls: usize) {
        // SAFETY: the current span is owned by this heap.
        unsafe {
            let cur = (*this).current[cls];
            if cur == NONE {
                return;
            }
            Self::set_current(this, cls, NONE);
            Self::queue_or_tag(this, cur);
        }
    }

    /// An owned span that is neither current nor queued: queued if it has
    /// free objects, else tagged FULL (and so left to the remote stack).
    ///
    /// # Safety
    /// The caller owns `span`, which is in no list and not current.
    unsafe fn queue_or_tag(this: *mut LocalHeap, span: *mut Span) {
        // SAFETY: per the caller.
        unsafe {
            (*span).lists.read();
            if !(*span).free.is_null() || !Span::tag_full(span) {
                Self::collect(this, span);
                Self::enqueue(this, span);
            }
        }
    }

    /// Pushes `span`, whose QUEUED flag the caller set
    /// ([`Span::notify`]), onto the remote stack of the record `heap`.
    /// Lock-free: the loop only repeats when another thread pushed or the
    /// record's holder took the stack in between.
    ///
    /// # Safety
    /// `heap` is a thread heap record (records are never unmapped) and the
    /// caller set QUEUED in `span`'s owner word for it.
    pub unsafe fn push_remote_span(heap: *mut LocalHeap, span: *mut Span) {
        // SAFETY: per the caller: `remote_next` is ours until the push.
        unsafe {
            let mut head = (*heap).remote.load(Ordering::Relaxed);
            loop {
                (*span).link.write();
                (*span).remote_next = head;
                match (*heap).remote.compare_exchange_weak(
                    head,
                    span,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(h) => head = h,
                }
            }
        }
    }

    /// Takes the stack of full spans other threads freed into: each span's
    /// QUEUED flag is cleared; this heap's own FULL spans are collected and
    /// queued (or tagged FULL again); a span the record's previous thread
    /// owned (the record was recycled) goes to its current owner if it
    /// needs telling. O(spans on the stack).
    ///
    /// # Safety
    /// The caller is the owner, or holds the heap lock for a record whose
    /// thread is gone.
    pub unsafe fn take_remote(this: *mut LocalHeap) {
        // SAFETY: spans on the stack are live (QUEUED keeps them from being
        // released); only this heap's are changed beyond their flags.
        unsafe {
            if (*this).remote.load(Ordering::Relaxed).is_null() {
                return;
            }
            let mut s = (*this).remote.swap(ptr::null_mut(), Ordering::Acquire);
            while !s.is_null() {
                (*s).link.read();
                let next = (*s).remote_next;
                let w = (*s).owner.fetch_and(!QUEUED, Ordering::AcqRel);
                if w & QUEUED == 0 {
                    // Each span is pushed once per QUEUED: a span without it
                    // was pushed twice, and the stack may loop.
                    crate::report::fatal(c"vitalloc: a thread heap's remote-span stack is corrupt (a span was queued twice)");
                }
                let owner = w & !FLAGS;
                if owner == Self::id(this) {
                    if w & FULL != 0 {
                        Span::untag_full(s);
                        Self::collect(this, s);
                        Self::queue_or_tag(this, s);
                    }
                } else if owner != NO_OWNER {
                    // Queued for this record's previous thread, adopted by
                    // another heap since: it may need telling, now that the
                    // flag that stood for the telling is gone.
                    if let Some(h) = Span::notify(s) {
                        Self::push_remote_span(h as *mut LocalHeap, s);
                    }
                }
                s = next;
            }
        }
    }

    /// Makes `span` (or `NONE`) the current span of `cls`.
    ///
    /// # Safety
    /// `span` is owned by this heap, of class `cls`, in no queue.
    pub unsafe fn set_current(this: *mut LocalHeap, cls: usize, span: *mut Span) {
        // SAFETY: per the caller; direct entries of `cls` are consecutive.
        unsafe {
            (*this).current[cls] = span;
            let size = CLASS_SIZE[cls] as usize;
            if size <= DIRECT_MAX {
                let lo = if cls == 0 {
                    0
                } else {
                    CLASS_SIZE[cls - 1] as usize / 8 + 1
                };
                for i in lo..=size / 8 {
                    (*this).direct[i] = span;
                }
            }
        }
    }

    /// Puts an owned, non-full span at the head of its class queue.
    ///
    /// # Safety
    /// `span` is owned by this heap and in no queue and not current.
    pub unsafe fn enqueue(this: *mut LocalHeap, span: *mut Span) {
        // SAFETY: queued spans are live and owned by this heap.
        unsafe { span::list_push(&mut (*this).queue[(*span).class as usize], span) }
    }

    /// Takes a span out of its class queue.
    ///
    /// # Safety
    /// `span` is in this heap's queue.
    pub unsafe fn dequeue(this: *mut LocalHeap, span: *mut Span) {
        // SAFETY: per the caller.
        unsafe { span::list_unlink(&mut (*this).queue[(*span).class as usize], span) }
    }
}
