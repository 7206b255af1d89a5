//! Small objects: size classes served from slabs, with no per-object header.
//!
//! ```text
//!  slab (1..=4 pages, page-aligned, a TLSF block flagged SLAB):
//!  | BlockHdr | Slab | pad | obj 0 | obj 1 | ... | obj cap-1 | tail |
//!                           ^ start, MIN_ALIGN-aligned
//!  free object: | next free | address ^ cookie | ...
//!  partial[class] ──► slab ⇄ slab ⇄ ...   (slabs with at least one free object)
//! ```
//! The owning slab of a pointer comes from the page map (entry `SLAB | i`:
//! the pointer is in page `i` of its slab). This module owns the class table
//! and the slab's own bookkeeping; it never calls the source, never touches
//! the TLSF lists and never takes a lock (the heap does all three).

use super::config::{MIN_ALIGN, PAGE_SIZE, SLAB_MAX_PAGES, SLAB_TARGET_OBJECTS, SMALL_MAX};
use super::tlsf::HDR;
use core::ptr;

const fn build_sizes() -> ([u16; 64], usize) {
    let mut sizes = [0u16; 64];
    let mut n = 0;
    // Two words minimum: a free object holds its link and the double-free cookie.
    let mut s = 2 * size_of::<usize>();
    s = if s < MIN_ALIGN { MIN_ALIGN } else { s };
    while s <= 64 {
        sizes[n] = s as u16;
        n += 1;
        s += MIN_ALIGN;
    }
    // Four classes per doubling above 64 bytes: at most 25 % internal waste.
    let mut base = 64;
    while base < SMALL_MAX {
        let step = base / 4;
        let mut k = 1;
        while k <= 4 {
            sizes[n] = (base + k * step) as u16;
            n += 1;
            k += 1;
        }
        base *= 2;
    }
    (sizes, n)
}

const SIZES: ([u16; 64], usize) = build_sizes();
/// Number of size classes.
pub const CLASS_COUNT: usize = SIZES.1;

/// Object size of each class.
pub static CLASS_SIZE: [u16; CLASS_COUNT] = {
    let mut t = [0u16; CLASS_COUNT];
    let mut i = 0;
    while i < CLASS_COUNT {
        t[i] = SIZES.0[i];
        i += 1;
    }
    t
};

/// Class of a request, indexed by `(size + 7) / 8` for sizes up to SMALL_MAX.
static CLASS_OF: [u8; SMALL_MAX / 8 + 1] = {
    let mut t = [0u8; SMALL_MAX / 8 + 1];
    let mut i = 0;
    let mut c = 0;
    while i < t.len() {
        while (SIZES.0[c] as usize) < i * 8 {
            c += 1;
        }
        t[i] = c as u8;
        i += 1;
    }
    t
};

/// The class serving a request of `size` bytes (`size <= SMALL_MAX`).
#[inline(always)]
pub fn class_of(size: usize) -> usize {
    CLASS_OF[(size + 7) >> 3] as usize
}

/// Pages in a slab of class `cls`: enough for about
/// [`SLAB_TARGET_OBJECTS`] objects, at most [`SLAB_MAX_PAGES`].
pub const fn class_pages(cls: usize) -> usize {
    let want = (SIZES.0[cls] as usize * SLAB_TARGET_OBJECTS).div_ceil(PAGE_SIZE);
    if want > SLAB_MAX_PAGES {
        SLAB_MAX_PAGES
    } else {
        want
    }
}

/// Offset of the first object from the slab's block start.
const OBJ_OFFSET: usize = (HDR + size_of::<Slab>()).next_multiple_of(MIN_ALIGN);

/// A free object's first two words.
#[repr(C)]
pub struct FreeObj {
    next: *mut FreeObj,
    cookie: usize,
}

/// Bookkeeping of one slab; it sits right after the slab's block header.
///
/// Invariants: `used + (length of free list) == cap`; the slab is in
/// `partial[class]` (`in_list`) iff its free list is non-empty; every free
/// object carries `address ^ cookie` in its second word.
#[repr(C)]
pub struct Slab {
    free: *mut FreeObj,
    pub next: *mut Slab,
    pub prev: *mut Slab,
    start: *mut u8,
    pub used: u32,
    pub cap: u32,
    obj_size: u32,
    /// ceil(2^32 / obj_size): exact division of in-slab offsets by multiply.
    recip: u32,
    pub class: u8,
    pub in_list: bool,
    pub pages: u8,
    /// The heap's `free_calls` when the slab last became empty.
    pub emptied_at: u32,
}

/// What `free` found wrong with a small pointer.
#[derive(Debug, PartialEq, Eq)]
pub enum SmallMisuse {
    /// Not the start of an object of this slab.
    NotAnObject,
    /// The object is already free.
    DoubleFree,
}

impl Slab {
    /// The slab of a block flagged SLAB.
    #[inline(always)]
    pub fn of_block(block: *mut u8) -> *mut Slab {
        block.wrapping_add(HDR).cast()
    }

    /// The block a slab lives in.
    #[inline(always)]
    pub fn block(this: *mut Slab) -> *mut u8 {
        this.cast::<u8>().wrapping_sub(HDR)
    }

    /// Object size of this slab.
    #[inline(always)]
    pub fn obj_size(&self) -> usize {
        self.obj_size as usize
    }

    /// Formats a fresh slab of class `cls` in the block at `block` (of
    /// `class_pages(cls)` pages), every object free.
    ///
    /// # Safety
    /// `block` is a page-aligned, writable block of that many pages.
    pub unsafe fn init(block: *mut u8, cls: usize, cookie: usize) -> *mut Slab {
        let size = CLASS_SIZE[cls] as usize;
        let pages = class_pages(cls);
        let cap = (pages * PAGE_SIZE - OBJ_OFFSET) / size;
        let slab = Self::of_block(block);
        // SAFETY: all writes stay inside the caller's block.
        unsafe {
            let start = block.add(OBJ_OFFSET);
            let mut next: *mut FreeObj = ptr::null_mut();
            for i in (0..cap).rev() {
                let o = start.add(i * size).cast::<FreeObj>();
                o.write(FreeObj {
                    next,
                    cookie: o as usize ^ cookie,
                });
                next = o;
            }
            slab.write(Slab {
                free: next,
                next: ptr::null_mut(),
                prev: ptr::null_mut(),
                start,
                used: 0,
                cap: cap as u32,
                obj_size: size as u32,
                recip: ((1u64 << 32).div_ceil(size as u64)) as u32,
                class: cls as u8,
                in_list: false,
                pages: pages as u8,
                emptied_at: 0,
            });
        }
        slab
    }

    /// Takes a free object. The slab must have one.
    ///
    /// # Safety
    /// `this` is a live slab with a non-empty free list.
    #[inline(always)]
    pub unsafe fn pop(this: *mut Slab) -> *mut u8 {
        // SAFETY: the free list holds live free objects.
        unsafe {
            let o = (*this).free;
            (*this).free = (*o).next;
            (*o).cookie = 0;
            (*this).used += 1;
            o.cast()
        }
    }

    /// Whether the free list is empty.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.free.is_null()
    }

    /// Index of the object at `p`, if `p` is the start of one.
    #[inline(always)]
    pub fn index_of(&self, p: *mut u8) -> Option<usize> {
        let off = (p as usize).wrapping_sub(self.start as usize);
        let idx = ((off as u64 * self.recip as u64) >> 32) as usize;
        (idx < self.cap as usize && idx * self.obj_size as usize == off).then_some(idx)
    }

    /// Gives back the object at `p`.
    ///
    /// # Safety
    /// `this` is a live slab and `p` lies inside it.
    #[inline(always)]
    pub unsafe fn push(this: *mut Slab, p: *mut u8, cookie: usize) -> Result<(), SmallMisuse> {
        // SAFETY: `p` is checked to be an object start of this slab before
        // it is written; the free list holds live free objects.
        unsafe {
            if (*this).index_of(p).is_none() {
                return Err(SmallMisuse::NotAnObject);
            }
            let o = p.cast::<FreeObj>();
            if (*o).cookie == p as usize ^ cookie && Self::contains_free(this, o) {
                return Err(SmallMisuse::DoubleFree);
            }
            (*o).next = (*this).free;
            (*o).cookie = p as usize ^ cookie;
            (*this).free = o;
            (*this).used -= 1;
        }
        Ok(())
    }

    /// Whether `o` is on the free list. O(cap): only run when the cookie
    /// says the object looks free.
    #[cold]
    unsafe fn contains_free(this: *mut Slab, o: *mut FreeObj) -> bool {
        // SAFETY: the free list holds live free objects.
        unsafe {
            let mut f = (*this).free;
            while !f.is_null() {
                if f == o {
                    return true;
                }
                f = (*f).next;
            }
        }
        false
    }

    /// Verifies the slab's invariants. O(cap).
    ///
    /// # Safety
    /// `this` is a live slab.
    pub unsafe fn check(this: *mut Slab, cookie: usize) -> Result<(), &'static str> {
        // SAFETY: the slab and its free list are live.
        unsafe {
            let s = &*this;
            if (s.class as usize) >= CLASS_COUNT
                || CLASS_SIZE[s.class as usize] as u32 != s.obj_size
            {
                return Err("slab: bad class");
            }
            let mut n = 0u32;
            let mut f = s.free;
            while !f.is_null() {
                if s.index_of(f.cast()).is_none() {
                    return Err("slab: free list points outside the slab");
                }
                if (*f).cookie != f as usize ^ cookie {
                    return Err("slab: a free object was written to (use after free?)");
                }
                n += 1;
                if n > s.cap {
                    return Err("slab: free list loops");
                }
                f = (*f).next;
            }
            if n + s.used != s.cap {
                return Err("slab: used count disagrees with the free list");
            }
            if s.in_list == s.free.is_null() {
                return Err("slab: partial-list membership disagrees with free objects");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_small_size() {
        for size in 0..=SMALL_MAX {
            let c = class_of(size);
            assert!(CLASS_SIZE[c] as usize >= size, "size {size} class {c}");
            assert_eq!(CLASS_SIZE[c] as usize % MIN_ALIGN, 0);
            if c > 0 {
                assert!(
                    (CLASS_SIZE[c - 1] as usize) < size.max(1),
                    "size {size} not in smallest class"
                );
            }
        }
        assert_eq!(CLASS_SIZE[CLASS_COUNT - 1] as usize, SMALL_MAX);
    }

    #[test]
    fn slab_sizes_are_sane() {
        for (c, &size) in CLASS_SIZE.iter().enumerate() {
            let pages = class_pages(c);
            let cap = (pages * PAGE_SIZE - OBJ_OFFSET) / size as usize;
            assert!((1..=SLAB_MAX_PAGES).contains(&pages));
            assert!(cap >= 8, "class {c} holds only {cap}");
        }
    }

    #[test]
    fn division_by_reciprocal_is_exact() {
        for &size in CLASS_SIZE.iter() {
            let recip = (1u64 << 32).div_ceil(size as u64);
            for off in 0..(SLAB_MAX_PAGES * PAGE_SIZE) as u64 {
                assert_eq!(
                    (off * recip) >> 32,
                    off / size as u64,
                    "size {size} off {off}"
                );
            }
        }
    }
}
