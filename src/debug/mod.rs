//! The debug heap (feature `debug-heap`): a layer in front of an
//! allocator that finds heap bugs. Every block gets a header (its size,
//! who allocated it) and a canary after it; fresh blocks are filled with a
//! pattern; freed blocks are poisoned and held in a quarantine (a FIFO
//! bounded by [`DEBUG_QUARANTINE_BYTES`]) whose poison is checked when they
//! leave it; live blocks are listed for leak reports; requests are counted
//! per size class. See [`block`] for the layout.
//!
//! ```text
//!  malloc(n) ─► inner malloc(header + n + canary) ─► fill ─► LOCK: append to live list
//!  free(p)   ─► LOCK: tag live? canary intact? ─► unlink, poison, quarantine
//!               ─► evicted blocks: poison intact? ─► inner free
//! ```
//! It owns the live list, the quarantine and the per-class counts, all
//! behind its own lock (taken before the heap's, never after: the inner
//! allocator never calls back here). It never touches the heap's
//! structures, never allocates for itself, never reports: faults come back
//! as [`Fault`] and the C layer reports them. The release build does not
//! compile it (`#[cfg(any(test, feature = "debug-heap"))]`).
//!
//! Invariants (walked by [`Debug::check`]): every block on the live list
//! has a live tag and an intact canary; every block in the quarantine has a
//! freed tag, poison over its bytes and an intact canary; `live`,
//! `live_bytes` and the class counts sum the live list; `q_bytes` sums the
//! quarantine's blocks.

pub mod block;
#[cfg(test)]
mod tests;
mod walk;

use crate::heap::ClassStats;
use crate::heap::Misuse;
use crate::heap::classes::{self, CLASS_COUNT, CLASS_SIZE};
use crate::heap::config::{
    DEBUG_CANARY_MIN, DEBUG_QUARANTINE_BYTES, DEBUG_QUARANTINE_MAX_BLOCK, LARGE_THRESHOLD,
    MIN_ALIGN, SMALL_MAX,
};
use crate::sync::RawLock;
use block::{CANARY, FRESH, Fault, HEADER, Header, POISON, State};
use core::cell::UnsafeCell;
use core::ptr;

/// What the debug layer needs of the allocator behind it.
pub trait Inner {
    /// `size` bytes aligned to `MIN_ALIGN`, or null.
    fn malloc(&self, size: usize) -> *mut u8;
    /// `size` bytes aligned to `align` (a power of two), or null.
    fn memalign(&self, align: usize, size: usize) -> *mut u8;
    /// Frees a block of its own.
    ///
    /// # Safety
    /// `p` is a live block of this allocator.
    unsafe fn free(&self, p: *mut u8) -> Result<(), Misuse>;
    /// Usable bytes of `p`, or why `p` is not a live block.
    ///
    /// # Safety
    /// `p` is any value (misuse is reported, never acted on).
    unsafe fn usable_size(&self, p: *mut u8) -> Result<usize, Misuse>;
    /// Whether `addr` lies in memory the allocator holds (readable).
    fn holds(&self, addr: usize) -> bool;
}

impl<S: crate::source::BlockSource, L: RawLock, const P: bool> Inner for crate::Allocator<S, L, P> {
    fn malloc(&self, size: usize) -> *mut u8 {
        crate::Allocator::malloc(self, size)
    }
    fn memalign(&self, align: usize, size: usize) -> *mut u8 {
        crate::Allocator::memalign(self, align, size)
    }
    unsafe fn free(&self, p: *mut u8) -> Result<(), Misuse> {
        // SAFETY: forwarded.
        unsafe { crate::Allocator::free(self, p) }
    }
    unsafe fn usable_size(&self, p: *mut u8) -> Result<usize, Misuse> {
        // SAFETY: forwarded.
        unsafe { crate::Allocator::usable_size(self, p) }
    }
    fn holds(&self, addr: usize) -> bool {
        // Under the heap's lock (taken after the debug layer's, never
        // before): a thread holding the heap has it as `&mut`, page map
        // included, so a lock-free read here would race with it.
        self.with(|h| h.map.get(addr) != crate::heap::span::NONE)
    }
}

/// Entries of the class table: the small classes, medium, large.
pub const BUCKETS: usize = CLASS_COUNT + 2;

/// The debug layer's state (behind [`Debug`]'s lock).
struct State_ {
    /// The live list, oldest first.
    head: *mut Header,
    tail: *mut Header,
    live: usize,
    live_bytes: usize,
    /// Serial of the last block allocated.
    serial: usize,
    /// The next block a running dump lists (moved on when it is unlinked).
    cursor: *mut Header,
    /// The quarantine FIFO (linked by `next`), oldest first.
    q_head: *mut Header,
    q_tail: *mut Header,
    q_bytes: usize,
    q_blocks: usize,
    classes: [ClassStats; BUCKETS],
}

/// The debug heap's state and its lock (one per process, in front of the
/// C API's heap).
pub struct Debug<L: RawLock> {
    lock: L,
    /// Serialises dumps (held while a dump calls its callback).
    dump_lock: L,
    state: UnsafeCell<State_>,
}

// SAFETY: `state` is only touched with `lock` held.
unsafe impl<L: RawLock + Sync> Sync for Debug<L> {}

/// The class-table entry of a request of `size` bytes.
fn bucket(size: usize) -> usize {
    if size <= SMALL_MAX {
        classes::class_of(size)
    } else if size < LARGE_THRESHOLD {
        CLASS_COUNT
    } else {
        CLASS_COUNT + 1
    }
}

const fn empty_classes() -> [ClassStats; BUCKETS] {
    let mut t = [ClassStats {
        size: 0,
        allocations: 0,
        frees: 0,
        live: 0,
        live_bytes: 0,
        peak_live: 0,
    }; BUCKETS];
    let mut i = 0;
    while i < CLASS_COUNT {
        t[i].size = CLASS_SIZE[i] as usize;
        i += 1;
    }
    t[CLASS_COUNT].size = LARGE_THRESHOLD - 1;
    t[CLASS_COUNT + 1].size = usize::MAX;
    t
}

/// Whether serial `s` was given out after serial `end` (wrapping).
fn newer(s: usize, end: usize) -> bool {
    (s.wrapping_sub(end) as isize) > 0
}

impl<L: RawLock> Default for Debug<L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: RawLock> Debug<L> {
    /// No blocks yet.
    pub const fn new() -> Self {
        Debug {
            lock: L::INIT,
            dump_lock: L::INIT,
            state: UnsafeCell::new(State_ {
                head: ptr::null_mut(),
                tail: ptr::null_mut(),
                live: 0,
                live_bytes: 0,
                serial: 0,
                cursor: ptr::null_mut(),
                q_head: ptr::null_mut(),
                q_tail: ptr::null_mut(),
                q_bytes: 0,
                q_blocks: 0,
                classes: empty_classes(),
            }),
        }
    }

    /// The lock itself (for fork handlers: taken before the heap's).
    pub fn raw_lock(&self) -> &L {
        &self.lock
    }

    /// Runs `f` on the state with the lock held.
    fn with<R>(&self, f: impl FnOnce(&mut State_) -> R) -> R {
        self.lock.lock();
        // SAFETY: the lock gives exclusive access.
        let r = f(unsafe { &mut *self.state.get() });
        // SAFETY: locked above.
        unsafe { self.lock.unlock() };
        r
    }

    // ----- allocation --------------------------------------------------------

    /// `malloc(size)` for a caller at return address `caller`.
    pub fn malloc(&self, a: &impl Inner, size: usize, caller: usize) -> *mut u8 {
        self.memalign(a, MIN_ALIGN, size, caller)
    }

    /// `memalign(align, size)` (`align` a power of two). The header goes in
    /// front of the user bytes, padded to `align` so that they keep it.
    pub fn memalign(&self, a: &impl Inner, align: usize, size: usize, caller: usize) -> *mut u8 {
        let offset = HEADER.next_multiple_of(align.max(MIN_ALIGN));
        let Some(total) = offset
            .checked_add(size)
            .and_then(|n| n.checked_add(DEBUG_CANARY_MIN))
        else {
            return ptr::null_mut();
        };
        let inner = if align <= MIN_ALIGN {
            a.malloc(total)
        } else {
            a.memalign(align, total)
        };
        if inner.is_null() {
            return inner;
        }
        // Derived from `inner`: the user bytes, the header and the canary
        // keep the inner block's provenance.
        let user = inner.wrapping_add(offset);
        // SAFETY: `inner` is a live block of the inner allocator.
        let usable = unsafe { a.usable_size(inner) }.unwrap_or(total);
        let h = Header::of(user);
        // SAFETY: the header, the user bytes and the canary all lie in the
        // block's `usable` bytes, which nobody else knows of yet.
        unsafe {
            block::fill(user, size, FRESH);
            block::fill(user.add(size), usable - offset - size, CANARY);
            h.write(Header {
                next: ptr::null_mut(),
                prev: ptr::null_mut(),
                serial: 0,
                caller,
                freer: 0,
                offset,
                size,
                tag: Header::live_tag(user, size),
            });
        }
        self.with(|s| {
            s.serial = s.serial.wrapping_add(1);
            // SAFETY: `h` is ours; the list holds live headers.
            unsafe {
                (*h).serial = s.serial;
                (*h).prev = s.tail;
                if s.tail.is_null() {
                    s.head = h;
                } else {
                    (*s.tail).next = h;
                }
                s.tail = h;
            }
            s.live += 1;
            s.live_bytes += size;
            let c = &mut s.classes[bucket(size)];
            c.allocations += 1;
            c.live += 1;
            c.live_bytes += size;
            c.peak_live = c.peak_live.max(c.live);
        });
        user
    }

    // ----- checks -------------------------------------------------------------

    /// Where the canary of the live block `h` ends (the inner block's usable
    /// end).
    ///
    /// # Safety
    /// `h` is the header of a block of `a` (live or quarantined).
    unsafe fn block_end(a: &impl Inner, h: *const Header) -> *mut u8 {
        // SAFETY: per the caller.
        unsafe {
            let inner = Header::user(h).wrapping_sub((*h).offset);
            let usable = a.usable_size(inner).unwrap_or(0);
            inner.wrapping_add(usable)
        }
    }

    /// The fault of the block `h` whose tag says `want`, if any: canary
    /// (and, for a freed block, poison) intact?
    ///
    /// # Safety
    /// `h` is a header on the live list or in the quarantine.
    unsafe fn examine(a: &impl Inner, h: *const Header, want: State) -> Option<Fault> {
        // SAFETY: per the caller; the bytes checked lie in the inner block.
        unsafe {
            let info = Header::info(h);
            let state = Header::state(h);
            if want == State::Freed {
                if state != State::Freed
                    || !block::holds(Header::user(h), info.size, POISON)
                    || !Self::canary_ok(a, h)
                {
                    return Some(Fault::WriteAfterFree(info));
                }
                return None;
            }
            if state != State::Live {
                return Some(Fault::Underrun(info));
            }
            if !Self::canary_ok(a, h) {
                return Some(Fault::Overrun(info));
            }
            None
        }
    }

    /// Whether the canary after the block `h` is intact.
    ///
    /// # Safety
    /// As for `examine`, and the tag is valid (so is `size`).
    unsafe fn canary_ok(a: &impl Inner, h: *const Header) -> bool {
        // SAFETY: per the caller.
        unsafe {
            let end = Self::block_end(a, h);
            let from = Header::user(h).wrapping_add((*h).size);
            from < end && block::holds(from, end.addr() - from.addr(), CANARY)
        }
    }

    /// The live block at `p`, checked; with the lock held. On a fault the
    /// lock is still held (the caller releases it).
    ///
    /// # Safety
    /// `p` is any value; the lock is held.
    unsafe fn live_block(a: &impl Inner, s: &State_, p: *mut u8) -> Result<*mut Header, Fault> {
        let heap_says = || {
            // SAFETY: `usable_size` validates `p` without acting on it.
            let m = unsafe { a.usable_size(p) }.err();
            Fault::Misuse(m.unwrap_or(Misuse::InvalidPointer))
        };
        if p.addr() % MIN_ALIGN != 0 || p.addr() < HEADER {
            return Err(heap_says());
        }
        let h = Header::of(p);
        // The page map knows every page of small and medium blocks but only
        // the first pages of a large one (up to the inner pointer): the
        // header of a large block aligned to more than a page lies past
        // them, and is looked for on the lists instead (O(blocks), only
        // for such blocks and for pointers that are not the heap's).
        if !a.holds(h.addr()) {
            if Self::listed(s.q_head, h) {
                return Err(Fault::Misuse(Misuse::DoubleFree));
            }
            if !Self::listed(s.head, h) {
                return Err(heap_says());
            }
        }
        // SAFETY: `h` lies in memory the heap holds (checked above).
        unsafe {
            match Header::state(h) {
                State::Live => match Self::examine(a, h, State::Live) {
                    Some(f) => Err(f),
                    None => Ok(h),
                },
                State::Freed => Err(Fault::Misuse(Misuse::DoubleFree)),
                // A live block whose tag is overwritten, or not a block.
                State::Unknown if Self::listed(s.head, h) => Err(Fault::Underrun(Header::info(h))),
                State::Unknown => Err(heap_says()),
            }
        }
    }

    /// Whether `h` is on the list starting at `x` (linked by `next`).
    fn listed(mut x: *mut Header, h: *mut Header) -> bool {
        while !x.is_null() {
            if x == h {
                return true;
            }
            // SAFETY: list headers are live or quarantined blocks (under
            // the lock).
            x = unsafe { (*x).next };
        }
        false
    }

    // ----- free and friends ---------------------------------------------------------

    /// `free(p)` (not null) for a caller at `caller`: checks the block,
    /// poisons it and puts it in the quarantine; blocks leaving the
    /// quarantine are checked and handed back to `a`.
    ///
    /// # Safety
    /// `p` is any value (misuse comes back as a fault, nothing is touched).
    pub unsafe fn free(&self, a: &impl Inner, p: *mut u8, caller: usize) -> Result<(), Fault> {
        // The block itself when it skips the quarantine, and the blocks
        // that leave the quarantine.
        let (direct, evicted) = self.with(|s| {
            // SAFETY: under the lock; a block found live is unlinked here
            // and is ours until it leaves the quarantine.
            unsafe {
                let h = Self::live_block(a, s, p)?;
                Self::unlink(s, h);
                let size = (*h).size;
                (*h).freer = caller;
                (*h).tag = Header::freed_tag(p, size);
                (*h).next = ptr::null_mut();
                if size > DEBUG_QUARANTINE_MAX_BLOCK {
                    return Ok((h, ptr::null_mut()));
                }
                block::fill(p, size, POISON);
                if s.q_tail.is_null() {
                    s.q_head = h;
                } else {
                    (*s.q_tail).next = h;
                }
                s.q_tail = h;
                s.q_bytes += size;
                s.q_blocks += 1;
                Ok((ptr::null_mut(), Self::evict(s, DEBUG_QUARANTINE_BYTES)))
            }
        })?;
        // SAFETY: `direct` and the evicted blocks are ours alone now.
        unsafe {
            if !direct.is_null() {
                let inner = p.wrapping_sub((*direct).offset);
                a.free(inner).map_err(Fault::Misuse)?;
            }
            Self::release(a, evicted)
        }
    }

    /// Takes blocks off the quarantine's old end until it holds at most
    /// `keep` bytes; returns them as a chain (linked by `next`).
    fn evict(s: &mut State_, keep: usize) -> *mut Header {
        let first = s.q_head;
        let mut last: *mut Header = ptr::null_mut();
        // SAFETY: quarantine headers are ours (under the lock).
        unsafe {
            while s.q_bytes > keep && !s.q_head.is_null() {
                last = s.q_head;
                s.q_head = (*last).next;
                s.q_bytes -= (*last).size;
                s.q_blocks -= 1;
            }
            if last.is_null() {
                return ptr::null_mut();
            }
            (*last).next = ptr::null_mut();
            if s.q_head.is_null() {
                s.q_tail = ptr::null_mut();
            }
        }
        first
    }

    /// Checks each block of the chain `h` (poison intact) and frees it.
    ///
    /// # Safety
    /// The chain's blocks are freed blocks nobody else reaches.
    unsafe fn release(a: &impl Inner, mut h: *mut Header) -> Result<(), Fault> {
        // SAFETY: per the caller.
        unsafe {
            while !h.is_null() {
                let next = (*h).next;
                if let Some(f) = Self::examine(a, h, State::Freed) {
                    return Err(f);
                }
                let inner = Header::user(h).wrapping_sub((*h).offset);
                a.free(inner).map_err(Fault::Misuse)?;
                h = next;
            }
        }
        Ok(())
    }

    /// Unlinks the live block `h` and uncounts it.
    ///
    /// # Safety
    /// `h` is on the live list; the lock is held.
    unsafe fn unlink(s: &mut State_, h: *mut Header) {
        // SAFETY: per the caller.
        unsafe {
            let (prev, next) = ((*h).prev, (*h).next);
            if prev.is_null() {
                s.head = next;
            } else {
                (*prev).next = next;
            }
            if next.is_null() {
                s.tail = prev;
            } else {
                (*next).prev = prev;
            }
            if s.cursor == h {
                s.cursor = next;
            }
            let size = (*h).size;
            s.live -= 1;
            s.live_bytes -= size;
            let c = &mut s.classes[bucket(size)];
            c.frees += 1;
            c.live -= 1;
            c.live_bytes -= size;
        }
    }

    /// The requested size of the live block `p` (0 for null).
    ///
    /// # Safety
    /// `p` is any value.
    pub unsafe fn usable_size(&self, a: &impl Inner, p: *mut u8) -> Result<usize, Fault> {
        if p.is_null() {
            return Ok(0);
        }
        // SAFETY: under the lock; only read.
        self.with(|s| unsafe { Self::live_block(a, s, p).map(|h| (*h).size) })
    }

    /// `realloc(p, size)`: always moves (so a stale pointer to the old block
    /// lands in the quarantine and is caught), except for a shrink that
    /// finds no memory, which shrinks in place. Null when out of memory
    /// (`p` intact).
    ///
    /// # Safety
    /// `p` is any value.
    pub unsafe fn realloc(
        &self,
        a: &impl Inner,
        p: *mut u8,
        size: usize,
        caller: usize,
    ) -> Result<*mut u8, Fault> {
        if p.is_null() {
            return Ok(self.malloc(a, size, caller));
        }
        // SAFETY: under the lock; only read.
        let old = self.with(|s| unsafe { Self::live_block(a, s, p).map(|h| (*h).size) })?;
        let q = self.malloc(a, size, caller);
        if q.is_null() {
            if size > old {
                return Ok(q);
            }
            self.with(|s| {
                // SAFETY: `p` was checked live; its bytes up to the inner
                // block's end are its own.
                unsafe {
                    let h = Header::of(p);
                    (*h).size = size;
                    (*h).tag = Header::live_tag(p, size);
                    block::fill(p.add(size), old - size, CANARY);
                    s.live_bytes -= old - size;
                    let c = &mut s.classes[bucket(old)];
                    c.live -= 1;
                    c.live_bytes -= old;
                    let c = &mut s.classes[bucket(size)];
                    c.live += 1;
                    c.live_bytes += size;
                }
            });
            return Ok(p);
        }
        // SAFETY: both blocks are live and hold at least the smaller size.
        unsafe {
            ptr::copy_nonoverlapping(p, q, old.min(size));
            self.free(a, p, caller)?;
        }
        Ok(q)
    }

    /// Hands every quarantined block back (checking it): for `trim`.
    pub fn flush(&self, a: &impl Inner) -> Result<(), Fault> {
        let chain = self.with(|s| Self::evict(s, 0));
        // SAFETY: evicted blocks are ours alone.
        unsafe { Self::release(a, chain) }
    }

    /// Checks every live block (tag and canary) and every quarantined one
    /// (tag, poison and canary): the first fault found. O(live blocks +
    /// quarantined bytes).
    pub fn check(&self, a: &impl Inner) -> Result<(), Fault> {
        self.with(|s| {
            // SAFETY: the lists hold headers of blocks of `a` (under the lock).
            unsafe {
                let mut h = s.head;
                while !h.is_null() {
                    if let Some(f) = Self::examine(a, h, State::Live) {
                        return Err(f);
                    }
                    h = (*h).next;
                }
                let mut h = s.q_head;
                while !h.is_null() {
                    if let Some(f) = Self::examine(a, h, State::Freed) {
                        return Err(f);
                    }
                    h = (*h).next;
                }
            }
            Ok(())
        })
    }
}
