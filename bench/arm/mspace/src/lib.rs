//! bench/arm/mspace: a C mspace API (`msp_create`, `msp_malloc`,
//! `msp_memalign`, `msp_free`) over the `dlmalloc` crate, for the ARM
//! benchmark only (see Cargo.toml). The caller hands `msp_create` one
//! block; the allocator's state is placed at its start, as
//! sceClibMspaceCreate does, and the rest is the only memory it ever gets:
//! the system allocator below returns it once and then reports
//! exhaustion, so dlmalloc never grows, maps or releases anything.
#![no_std]

use core::cell::Cell;
use core::mem::{align_of, size_of};
use core::ptr;
use dlmalloc::{Allocator, Dlmalloc};

/// The one block, given to dlmalloc on its first request.
pub struct FixedBlock {
    base: *mut u8,
    size: usize,
    given: Cell<bool>,
}

// The benchmark is single-threaded; dlmalloc only requires Send.
unsafe impl Send for FixedBlock {}

unsafe impl Allocator for FixedBlock {
    fn alloc(&self, _size: usize) -> (*mut u8, usize, u32) {
        if self.given.replace(true) {
            return (ptr::null_mut(), 0, 0);
        }
        // Flag bit 0 (EXTERN): dlmalloc must never try to free or merge it.
        (self.base, self.size, 1)
    }
    fn remap(&self, _ptr: *mut u8, _old: usize, _new: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }
    fn free_part(&self, _ptr: *mut u8, _old: usize, _new: usize) -> bool {
        false
    }
    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }
    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }
    // The Vita's memblocks (and the simulated ones) come zeroed.
    fn allocates_zeros(&self) -> bool {
        true
    }
    fn page_size(&self) -> usize {
        4096
    }
}

/// An mspace: dlmalloc's state over one fixed block.
pub type Mspace = Dlmalloc<FixedBlock>;

/// Makes an mspace in `[base, base + size)`; NULL if the block cannot even
/// hold the state. `base` must be 8-byte aligned.
///
/// # Safety
/// The block is writable and used by nothing else until the program ends.
#[no_mangle]
pub unsafe extern "C" fn msp_create(base: *mut u8, size: usize) -> *mut Mspace {
    // The state, then the managed memory from the next 64-byte boundary.
    let state = size_of::<Mspace>().next_multiple_of(64);
    if base.is_null() || (base as usize) % align_of::<Mspace>() != 0 || size < state + 4096 {
        return ptr::null_mut();
    }
    let msp = base.cast::<Mspace>();
    msp.write(Dlmalloc::new_with_allocator(FixedBlock {
        base: base.add(state),
        size: size - state,
        given: Cell::new(false),
    }));
    msp
}

/// `size` bytes (8-byte aligned), or NULL when the block is exhausted.
///
/// # Safety
/// `msp` came from `msp_create`.
#[no_mangle]
pub unsafe extern "C" fn msp_malloc(msp: *mut Mspace, size: usize) -> *mut u8 {
    (*msp).c_malloc(size)
}

/// `size` bytes aligned to `align` (a power of two), or NULL.
///
/// # Safety
/// `msp` came from `msp_create`.
#[no_mangle]
pub unsafe extern "C" fn msp_memalign(msp: *mut Mspace, align: usize, size: usize) -> *mut u8 {
    (*msp).c_memalign(align, size)
}

/// Frees a block of `msp` (NULL: nothing).
///
/// # Safety
/// `p` is NULL or a live block of `msp`.
#[no_mangle]
pub unsafe extern "C" fn msp_free(msp: *mut Mspace, p: *mut u8) {
    (*msp).c_free(p)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Only reachable through a dlmalloc bug: an undefined instruction ends
    // the run (SIGILL under qemu-arm) so that run.sh reports it.
    unsafe { core::arch::asm!("udf #254", options(noreturn)) }
}
