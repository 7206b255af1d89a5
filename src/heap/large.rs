//! Large objects: one source block each, given back on free.
//!
//! ```text
//!  source block:  | LargeHdr | pad | BlockHdr | user memory ...        |
//!                 ^ base (page-aligned)       ^ user (aligned as asked)
//! ```
//! The `BlockHdr` in front of the user pointer is flagged `LARGE` and its
//! `prev_phys` points at the `LargeHdr`, so `free` finds the block from the
//! pointer alone. Pages from `base` to the user pointer's page are `LARGE` in
//! the page map. This module only lays blocks out and validates them; the
//! heap acquires and releases them.

use super::config::{MIN_ALIGN, PAGE_SIZE};
use super::tlsf::{BlockHdr, HDR, LARGE};
use crate::source::Block;

const MAGIC: usize = 0x7a11_0c1a_usize.wrapping_mul(0x9e37_79b9);

/// Bookkeeping at the start of a large block.
#[repr(C)]
pub struct LargeHdr {
    pub block: Block,
    pub next: *mut LargeHdr,
    pub prev: *mut LargeHdr,
    /// The user pointer this block serves.
    pub user: *mut u8,
    magic: usize,
}

/// Bytes from a block's (page-aligned) base to the first MIN_ALIGN-aligned
/// user pointer: the header, padding, and the BlockHdr.
const FRONT: usize = (size_of::<LargeHdr>() + HDR).next_multiple_of(MIN_ALIGN);

/// Bytes to ask the source for to serve `size` bytes aligned to `align`
/// (before rounding to granularity), or `None` on overflow.
pub fn block_bytes(size: usize, align: usize) -> Option<usize> {
    let front = FRONT;
    let slack = if align > MIN_ALIGN { align } else { 0 };
    size.checked_add(front)?.checked_add(slack)
}

impl LargeHdr {
    /// Lays out a large block in `block` for a user pointer aligned to
    /// `align`. Returns the header; `user` is set.
    ///
    /// # Safety
    /// `block` is a fresh, writable source block of at least
    /// `block_bytes(_, align)` bytes.
    pub unsafe fn init(block: Block, align: usize) -> *mut LargeHdr {
        let base = block.base.as_ptr();
        let align = align.max(MIN_ALIGN);
        let first = base as usize + FRONT;
        let user = ((first + align - 1) & !(align - 1)) as *mut u8;
        let l = base.cast::<LargeHdr>();
        // SAFETY: the header and the BlockHdr lie in the block, before `user`.
        unsafe {
            l.write(LargeHdr {
                block,
                next: core::ptr::null_mut(),
                prev: core::ptr::null_mut(),
                user,
                magic: MAGIC,
            });
            let h = BlockHdr::of_user(user);
            (*h).prev_phys = l.cast();
            (*h).set(base as usize + block.size - h as usize, LARGE);
        }
        l
    }

    /// Usable bytes at the user pointer.
    pub fn usable(&self) -> usize {
        self.block.base.as_ptr() as usize + self.block.size - self.user as usize
    }

    /// Pages from the block start through the user pointer's page: the ones
    /// marked `LARGE` in the page map.
    pub fn marked_pages(&self) -> usize {
        (self.user as usize - self.block.base.as_ptr() as usize) / PAGE_SIZE + 1
    }

    /// Whether `l` is an intact large header serving `user`.
    ///
    /// # Safety
    /// `l` is readable for `size_of::<LargeHdr>()` bytes.
    pub unsafe fn is_valid(l: *const LargeHdr, user: *mut u8) -> bool {
        // SAFETY: forwarded.
        unsafe { (*l).magic == MAGIC && (*l).user == user }
    }
}
