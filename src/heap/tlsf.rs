//! Medium blocks: a two-level segregated fit (TLSF) allocator with boundary
//! tags over the regions (segments) it is given.
//!
//! ```text
//!  fl_bitmap:  bit f set  <=>  sl_bitmap[f] != 0
//!  sl_bitmap[f]: bit s set <=> heads[f][s] is a non-empty list
//!
//!  fl 0      : sizes [0, 2^FL_SHIFT) in steps of MIN_ALIGN (linear)
//!  fl f >= 1 : sizes [2^(f+FL_SHIFT-1), 2^(f+FL_SHIFT)) cut into SL_COUNT lists
//!
//!  a region:  [block][block]...[block][sentinel: size HDR, used]
//!  a block:   | prev_phys | size | FLAGS |  user memory ...            |
//!             ^ BlockHdr (two words)      ^ pointer given to the user
//!  free:      | prev_phys | size | FREE  | next_free | prev_free | ...  |
//! ```
//! Every operation is O(1): finding a fit is two bit scans, and a block is
//! merged with its free neighbours when it is freed, so no two free blocks
//! are ever adjacent. This module knows nothing about segments, slabs or
//! sources; it never calls the source and never takes a lock.

use super::config::MIN_ALIGN;
use core::ptr;

/// Header in front of every block (medium, slab, and large blocks alike).
#[repr(C)]
pub struct BlockHdr {
    /// The physically previous block in the region, or null for the first.
    /// For a large block: its [`super::large::LargeHdr`].
    pub prev_phys: *mut BlockHdr,
    /// Size of the whole block in bytes (header included) | flags.
    size_flags: usize,
}

#[repr(C)]
struct FreeBlock {
    hdr: BlockHdr,
    next_free: *mut FreeBlock,
    prev_free: *mut FreeBlock,
}

/// Flag: the block is free (in a list).
pub const FREE: usize = 1;
/// Flag: the header belongs to a large block (not in any region).
pub const LARGE: usize = 2;
/// Flag: the block is a small-object slab.
pub const SLAB: usize = 4;
const FLAGS: usize = FREE | LARGE | SLAB;

/// Bytes of [`BlockHdr`]; user memory starts this far into a block.
pub const HDR: usize = size_of::<BlockHdr>();
/// Smallest block: room for the free-list links.
pub const MIN_BLOCK: usize = size_of::<FreeBlock>().next_multiple_of(MIN_ALIGN);
const _: () = assert!(
    HDR % MIN_ALIGN == 0,
    "user pointers must be MIN_ALIGN aligned"
);

const SL_BITS: u32 = 5;
const SL_COUNT: usize = 1 << SL_BITS;
const ALIGN_SHIFT: u32 = MIN_ALIGN.trailing_zeros();
const FL_SHIFT: u32 = SL_BITS + ALIGN_SHIFT;
const FL_COUNT: usize = (usize::BITS - FL_SHIFT + 1) as usize;
/// Blocks of a request's own list looked at before good fit (see
/// `Tlsf::take_from_own_list`).
const OWN_LIST_PROBES: usize = 4;

impl BlockHdr {
    #[inline(always)]
    pub fn size(&self) -> usize {
        self.size_flags & !FLAGS
    }
    #[inline(always)]
    pub fn flags(&self) -> usize {
        self.size_flags & FLAGS
    }
    #[inline(always)]
    pub fn is_free(&self) -> bool {
        self.size_flags & FREE != 0
    }
    #[inline(always)]
    pub fn set(&mut self, size: usize, flags: usize) {
        self.size_flags = size | flags;
    }
    /// A region's end marker.
    #[inline(always)]
    pub fn is_sentinel(&self) -> bool {
        self.size_flags == HDR
    }
    /// The block physically after this one.
    ///
    /// # Safety
    /// `this` is a live block of a region (not its sentinel).
    #[inline(always)]
    pub unsafe fn next(this: *mut BlockHdr) -> *mut BlockHdr {
        // SAFETY: a region block is followed by another block or the sentinel.
        unsafe { this.byte_add((*this).size()) }
    }
    /// The user pointer of a block.
    #[inline(always)]
    pub fn user(this: *mut BlockHdr) -> *mut u8 {
        this.cast::<u8>().wrapping_add(HDR)
    }
    /// The header of a user pointer.
    #[inline(always)]
    pub fn of_user(p: *mut u8) -> *mut BlockHdr {
        p.wrapping_sub(HDR).cast()
    }
}

/// Block size (header included, aligned) for a user request, or `None` if it
/// cannot be represented.
#[inline]
pub fn block_size(request: usize) -> Option<usize> {
    let s = request.checked_add(HDR + MIN_ALIGN - 1)? & !(MIN_ALIGN - 1);
    Some(s.max(MIN_BLOCK))
}

/// The size a free block must have to be found for a request of `size`
/// bytes: rounded up to the next list boundary, so every block in the list
/// searched is large enough (good fit without walking a list). A region made
/// for a request must offer this much.
#[inline]
pub fn search_size(size: usize) -> Option<usize> {
    if size >= 1 << FL_SHIFT {
        let f = usize::BITS - 1 - size.leading_zeros();
        size.checked_add((1 << (f - SL_BITS)) - 1)
    } else {
        Some(size)
    }
}

#[inline(always)]
fn mapping(size: usize) -> (usize, usize) {
    if size < (1 << FL_SHIFT) {
        (0, size >> ALIGN_SHIFT)
    } else {
        let f = usize::BITS - 1 - size.leading_zeros();
        (
            (f - FL_SHIFT + 1) as usize,
            (size >> (f - SL_BITS)) - SL_COUNT,
        )
    }
}

/// The free lists of all regions.
pub struct Tlsf {
    fl_bitmap: usize,
    sl_bitmap: [u32; FL_COUNT],
    heads: [[*mut FreeBlock; SL_COUNT]; FL_COUNT],
    /// Sum of the sizes of free blocks.
    pub free_bytes: usize,
    /// Number of free blocks.
    pub free_blocks: usize,
}

impl Tlsf {
    pub const fn new() -> Self {
        Tlsf {
            fl_bitmap: 0,
            sl_bitmap: [0; FL_COUNT],
            heads: [[ptr::null_mut(); SL_COUNT]; FL_COUNT],
            free_bytes: 0,
            free_blocks: 0,
        }
    }

    /// Turns `[start, start + len)` into one free block and a sentinel.
    /// Returns the block.
    ///
    /// # Safety
    /// The range is writable, unused, `MIN_ALIGN`-aligned, and
    /// `len >= MIN_BLOCK + HDR`, a multiple of `MIN_ALIGN`.
    pub unsafe fn add_region(&mut self, start: *mut u8, len: usize) -> *mut BlockHdr {
        let b = start.cast::<BlockHdr>();
        let size = len - HDR;
        // SAFETY: both headers lie inside the caller's range.
        unsafe {
            (*b).prev_phys = ptr::null_mut();
            (*b).set(size, FREE);
            let s = b.byte_add(size);
            (*s).prev_phys = b;
            (*s).size_flags = HDR;
            self.insert(b);
        }
        b
    }

    /// Takes a region's only block (free, spanning the whole region) out of
    /// the lists, so the region can be given back.
    ///
    /// # Safety
    /// `b` is a free block of this allocator.
    pub unsafe fn remove_region(&mut self, b: *mut BlockHdr) {
        // SAFETY: forwarded.
        unsafe { self.remove(b) }
    }

    unsafe fn insert(&mut self, b: *mut BlockHdr) {
        // SAFETY: `b` is a free block not in any list; heads are live.
        unsafe {
            let size = (*b).size();
            let (f, s) = mapping(size);
            let fb = b.cast::<FreeBlock>();
            let head = self.heads[f][s];
            (*fb).next_free = head;
            (*fb).prev_free = ptr::null_mut();
            if !head.is_null() {
                (*head).prev_free = fb;
            }
            self.heads[f][s] = fb;
            self.fl_bitmap |= 1 << f;
            self.sl_bitmap[f] |= 1 << s;
            self.free_bytes += size;
            self.free_blocks += 1;
        }
    }

    unsafe fn remove(&mut self, b: *mut BlockHdr) {
        // SAFETY: `b` is a free block in the list its size maps to.
        unsafe {
            let (f, s) = mapping((*b).size());
            self.unlink(b.cast(), f, s);
        }
    }

    /// Takes `fb` out of list `(f, s)`, clearing the bitmap bits of a list
    /// it leaves empty.
    ///
    /// # Safety
    /// `fb` is a free block in list `(f, s)`.
    #[inline(always)]
    unsafe fn unlink(&mut self, fb: *mut FreeBlock, f: usize, s: usize) {
        // SAFETY: list members and their neighbours are live free blocks.
        unsafe {
            let (next, prev) = ((*fb).next_free, (*fb).prev_free);
            if !next.is_null() {
                (*next).prev_free = prev;
            }
            if prev.is_null() {
                self.heads[f][s] = next;
                if next.is_null() {
                    self.sl_bitmap[f] &= !(1 << s);
                    if self.sl_bitmap[f] == 0 {
                        self.fl_bitmap &= !(1 << f);
                    }
                }
            } else {
                (*prev).next_free = next;
            }
            self.free_bytes -= (*fb).hdr.size();
        }
        self.free_blocks -= 1;
    }

    /// Takes the free block found by [`find`](Self::find) for `size` out of
    /// its list: it is the list's head, so no mapping is recomputed. O(1).
    #[inline(always)]
    fn take(&mut self, size: usize) -> Option<*mut BlockHdr> {
        if size >= 1 << FL_SHIFT {
            if let Some(b) = self.take_from_own_list(size) {
                return Some(b);
            }
        }
        let (f, s) = self.find(size)?;
        let fb = self.heads[f][s];
        // SAFETY: the head of a non-empty list is a live free block.
        unsafe { self.unlink(fb, f, s) };
        Some(fb.cast())
    }

    /// Looks at the first few blocks of the list `size` itself maps to: they
    /// may be large enough, and using one keeps the larger blocks of the
    /// next lists whole (good fit alone skips this list and splits a larger
    /// block). On a game-like workload this took the heap from 92.8 % to
    /// 96.4 % of the memory it obtained being live, for about 5 more
    /// instructions per medium call (bench/run.sh). Bounded: at most
    /// [`OWN_LIST_PROBES`] blocks.
    #[inline(never)]
    fn take_from_own_list(&mut self, size: usize) -> Option<*mut BlockHdr> {
        let (f, s) = mapping(size);
        if f >= FL_COUNT {
            return None;
        }
        let mut b = self.heads[f][s];
        for _ in 0..OWN_LIST_PROBES {
            if b.is_null() {
                return None;
            }
            // SAFETY: list members are live free blocks.
            unsafe {
                if (*b).hdr.size() >= size {
                    self.remove(b.cast());
                    return Some(b.cast());
                }
                b = (*b).next_free;
            }
        }
        None
    }

    /// The list (first, second level) whose head is a free block of at least
    /// `size` bytes. O(1).
    #[inline(always)]
    fn find(&self, size: usize) -> Option<(usize, usize)> {
        let (mut f, s) = mapping(search_size(size)?);
        if f >= FL_COUNT {
            return None;
        }
        let mut sl = self.sl_bitmap[f] & (!0u32).checked_shl(s as u32).unwrap_or(0);
        if sl == 0 {
            let fl = self.fl_bitmap & (!0usize).checked_shl(f as u32 + 1).unwrap_or(0);
            if fl == 0 {
                return None;
            }
            f = fl.trailing_zeros() as usize;
            sl = self.sl_bitmap[f];
        }
        let s = sl.trailing_zeros() as usize;
        debug_assert!(
            !self.heads[f][s].is_null(),
            "bitmap bit set for an empty list"
        );
        Some((f, s))
    }

    /// Splits the used block `b` after `size` bytes if the rest makes a
    /// block, and frees the rest. `next_may_be_free`: the block after `b`
    /// may be free, so the rest must be merged with it; otherwise (`b` was
    /// carved from a free block, whose neighbours are never free) the rest
    /// goes straight into its list.
    #[inline(always)]
    unsafe fn trim_tail(
        &mut self,
        b: *mut BlockHdr,
        size: usize,
        flags: usize,
        next_may_be_free: bool,
    ) {
        // SAFETY: `b` is a used region block of at least `size` bytes.
        unsafe {
            let total = (*b).size();
            if total - size >= MIN_BLOCK {
                (*b).set(size, flags);
                let rest = b.byte_add(size);
                (*rest).prev_phys = b;
                (*BlockHdr::next_raw(rest, total - size)).prev_phys = rest;
                if next_may_be_free {
                    (*rest).set(total - size, 0);
                    self.free(rest);
                } else {
                    (*rest).set(total - size, FREE);
                    self.insert(rest);
                }
            } else {
                (*b).set(total, flags);
            }
        }
    }

    /// Allocates a block of `size` bytes (a [`block_size`] value) marked with
    /// `flags`. O(1).
    ///
    /// # Safety
    /// The allocator's regions are live.
    pub unsafe fn alloc(&mut self, size: usize, flags: usize) -> Option<*mut BlockHdr> {
        let b = self.take(size)?;
        // SAFETY: `b` is a free block of at least `size` bytes, out of its list.
        unsafe { self.trim_tail(b, size, flags, false) };
        Some(b)
    }

    /// Allocates a block of `size` bytes whose address plus `offset` is a
    /// multiple of `align` (a power of two, at least `MIN_BLOCK`). The space
    /// skipped in front becomes a free block. O(1).
    ///
    /// # Safety
    /// As for [`alloc`](Self::alloc).
    pub unsafe fn alloc_aligned(
        &mut self,
        size: usize,
        align: usize,
        offset: usize,
        flags: usize,
    ) -> Option<*mut BlockHdr> {
        debug_assert!(align.is_power_of_two() && align >= MIN_BLOCK);
        let search = size.checked_add(align)?.checked_add(MIN_BLOCK)?;
        let f = self.take(search)?;
        // SAFETY: `f` is a free block of at least `search` bytes, which holds
        // an aligned block of `size` after a gap of 0 or >= MIN_BLOCK bytes.
        unsafe {
            let start = f as usize;
            let mut a = ((start + offset + align - 1) & !(align - 1)) - offset;
            if a != start && a - start < MIN_BLOCK {
                a += align;
            }
            let total = (*f).size();
            let b = a as *mut BlockHdr;
            if a != start {
                let gap = a - start;
                (*f).set(gap, FREE);
                (*b).prev_phys = f;
                (*BlockHdr::next_raw(b, total - gap)).prev_phys = b;
                self.insert(f);
            }
            (*b).set(total - (a - start), flags);
            self.trim_tail(b, size, flags, false);
            Some(b)
        }
    }

    /// Frees a used block, merging it with free neighbours. Returns the merged
    /// free block (the region is empty when it has no previous block and the
    /// next one is the sentinel). O(1).
    ///
    /// # Safety
    /// `b` is a used block of one of this allocator's regions.
    pub unsafe fn free(&mut self, b: *mut BlockHdr) -> *mut BlockHdr {
        // SAFETY: neighbours of a region block are region blocks or the
        // sentinel (never free), per the region layout.
        unsafe {
            let mut b = b;
            let mut size = (*b).size();
            // Left in place if `b` merges into its predecessor: a later
            // free of the same pointer then sees FREE (double free).
            (*b).set(size, FREE);
            let next = b.byte_add(size);
            if (*next).is_free() {
                self.remove(next);
                size += (*next).size();
            }
            let prev = (*b).prev_phys;
            if !prev.is_null() && (*prev).is_free() {
                self.remove(prev);
                size += (*prev).size();
                b = prev;
            }
            (*b).set(size, FREE);
            (*b.byte_add(size)).prev_phys = b;
            self.insert(b);
            b
        }
    }

    /// Grows the used block `b` to `size` bytes by taking from the free block
    /// after it. Returns false (and changes nothing) when that is not possible.
    ///
    /// # Safety
    /// `b` is a used block of a region.
    pub unsafe fn grow(&mut self, b: *mut BlockHdr, size: usize) -> bool {
        // SAFETY: as in `free`.
        unsafe {
            let cur = (*b).size();
            let next = b.byte_add(cur);
            if !(*next).is_free() || cur + (*next).size() < size {
                return false;
            }
            self.remove(next);
            let flags = (*b).flags();
            (*b).set(cur + (*next).size(), flags);
            (*BlockHdr::next(b)).prev_phys = b;
            self.trim_tail(b, size, flags, false);
            true
        }
    }

    /// Shrinks the used block `b` to `size` bytes (no-op when the rest would
    /// be too small to be a block).
    ///
    /// # Safety
    /// `b` is a used block of a region of at least `size` bytes.
    pub unsafe fn shrink(&mut self, b: *mut BlockHdr, size: usize) {
        // SAFETY: forwarded.
        unsafe {
            let flags = (*b).flags();
            self.trim_tail(b, size, flags, true)
        }
    }

    /// Checks the lists and bitmaps against each other and against the block
    /// headers. O(free blocks). Returns the number of free blocks listed.
    pub fn check(&self) -> Result<usize, &'static str> {
        let mut count = 0;
        let mut bytes = 0;
        for f in 0..FL_COUNT {
            if ((self.fl_bitmap >> f) & 1 != 0) != (self.sl_bitmap[f] != 0) {
                return Err("tlsf: first-level bitmap disagrees with second level");
            }
            for s in 0..SL_COUNT {
                let mut b = self.heads[f][s];
                if ((self.sl_bitmap[f] >> s) & 1 != 0) == b.is_null() {
                    return Err("tlsf: second-level bitmap disagrees with a list");
                }
                let mut prev: *mut FreeBlock = ptr::null_mut();
                while !b.is_null() {
                    // SAFETY: list nodes are free blocks (checked below).
                    let (hdr, next, back) = unsafe { (&(*b).hdr, (*b).next_free, (*b).prev_free) };
                    if !hdr.is_free() || back != prev {
                        return Err("tlsf: a listed block is not free or its links are broken");
                    }
                    if mapping(hdr.size()) != (f, s) {
                        return Err("tlsf: a free block is in the wrong list");
                    }
                    count += 1;
                    bytes += hdr.size();
                    prev = b;
                    b = next;
                }
            }
        }
        if count != self.free_blocks || bytes != self.free_bytes {
            return Err("tlsf: free-block counters disagree with the lists");
        }
        Ok(count)
    }
}

impl BlockHdr {
    #[inline(always)]
    unsafe fn next_raw(this: *mut BlockHdr, size: usize) -> *mut BlockHdr {
        this.wrapping_byte_add(size)
    }
}
