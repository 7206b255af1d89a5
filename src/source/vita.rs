//! The Vita source: memblocks from `sceKernelAllocMemBlock` (USER_RW by
//! default), given back with `sceKernelFreeMemBlock`.
//!
//! Sizes are multiples of the memory type's granularity; over-aligned
//! requests use the kernel's alignment option. Every negative return is a
//! failure value, never a panic. Nothing here allocates or keeps state
//! beyond the memory type and an optional observer.

use super::{Block, BlockKind, BlockSource, SourceError};
use crate::sys::vita::*;
use core::ffi::{CStr, c_void};
use core::ptr::{self, NonNull};

/// `SCE_KERNEL_ERROR_UID_MAX_OPEN`: the process holds too many kernel objects.
const UID_MAX_OPEN: i32 = 0x8002_450C_u32 as i32;

/// Memblocks of one memory type; the heap's metadata always in
/// `USER_RW` main memory (a heap of GPU memory never writes into it).
#[derive(Debug)]
pub struct VitaSource {
    mem_type: SceUInt32,
    /// NUL-terminated memblock names by [`BlockKind`]: `<prefix>_segment`,
    /// `<prefix>_large`, `<prefix>_meta`.
    names: [[u8; NAME_MAX]; 3],
}

/// Longest memblock name kept, with its NUL (the kernel's limit is 31
/// characters).
const NAME_MAX: usize = 32;

/// The three names for `prefix` (cut so that "_segment" and the NUL fit).
const fn names_for(prefix: &[u8]) -> [[u8; NAME_MAX]; 3] {
    const SUFFIXES: [&[u8]; 3] = [b"_segment", b"_large", b"_meta"];
    let keep = if prefix.len() < NAME_MAX - 9 {
        prefix.len()
    } else {
        NAME_MAX - 9
    };
    let mut out = [[0u8; NAME_MAX]; 3];
    let mut k = 0;
    while k < 3 {
        let mut i = 0;
        while i < keep && prefix[i] != 0 {
            out[k][i] = prefix[i];
            i += 1;
        }
        let mut j = 0;
        while j < SUFFIXES[k].len() {
            out[k][i + j] = SUFFIXES[k][j];
            j += 1;
        }
        k += 1;
    }
    out
}

impl VitaSource {
    /// Main memory, cached, read-write (`SCE_KERNEL_MEMBLOCK_TYPE_USER_RW`).
    pub const fn new() -> Self {
        Self::with_type(SCE_KERNEL_MEMBLOCK_TYPE_USER_RW)
    }

    /// Memblocks of another type (one of the `SCE_KERNEL_MEMBLOCK_TYPE_*`).
    pub const fn with_type(mem_type: u32) -> Self {
        Self::with_type_and_prefix(mem_type, b"vitalloc")
    }

    /// Memblocks of `mem_type` named `<prefix>_segment`, `<prefix>_large`
    /// and `<prefix>_meta` (the prefix cut to 22 bytes or at a NUL).
    pub const fn with_type_and_prefix(mem_type: u32, prefix: &[u8]) -> Self {
        VitaSource {
            mem_type,
            names: names_for(prefix),
        }
    }

    /// The memory type of `kind`'s blocks: metadata is main memory.
    fn type_of(&self, kind: BlockKind) -> SceUInt32 {
        match kind {
            BlockKind::Meta => SCE_KERNEL_MEMBLOCK_TYPE_USER_RW,
            _ => self.mem_type,
        }
    }

    fn name_of(&self, kind: BlockKind) -> &CStr {
        let i = match kind {
            BlockKind::Segment => 0,
            BlockKind::Large => 1,
            BlockKind::Meta => 2,
        };
        CStr::from_bytes_until_nul(&self.names[i]).unwrap_or(c"vitalloc")
    }
}

/// Granularity of a memory type's memblocks.
fn granularity_of_type(mem_type: SceUInt32) -> usize {
    match mem_type {
        SCE_KERNEL_MEMBLOCK_TYPE_USER_CDRAM_RW => 256 << 10,
        SCE_KERNEL_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_RW
        | SCE_KERNEL_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_NC_RW => 1 << 20,
        _ => 4 << 10,
    }
}

impl Default for VitaSource {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: the kernel returns fresh, mapped, non-overlapping blocks of the
// requested size and alignment that stay valid until freed.
unsafe impl BlockSource for VitaSource {
    fn granularity(&self) -> usize {
        granularity_of_type(self.mem_type)
    }

    fn granularity_of(&self, kind: BlockKind) -> usize {
        granularity_of_type(self.type_of(kind))
    }

    fn name(&self) -> &'static str {
        "vita memblock"
    }

    fn mem_type(&self) -> u32 {
        self.mem_type
    }

    fn mem_type_of(&self, kind: BlockKind) -> u32 {
        self.type_of(kind)
    }

    fn acquire(
        &mut self,
        size: usize,
        align: usize,
        kind: BlockKind,
    ) -> Result<Block, SourceError> {
        let gran = self.granularity_of(kind);
        super::valid_request(size, align, gran)?;
        if size > u32::MAX as usize {
            return Err(SourceError::Unsupported);
        }
        let mut opt = SceKernelAllocMemBlockOpt {
            size: size_of::<SceKernelAllocMemBlockOpt>() as SceSize,
            attr: SCE_KERNEL_ALLOC_MEMBLOCK_ATTR_HAS_ALIGNMENT,
            alignment: align as SceSize,
            uidBaseBlock: 0,
            strBaseBlockName: ptr::null(),
            flags: 0,
            reserved: [0; 10],
        };
        // Blocks are 4 KiB-aligned (the type's granularity for larger
        // types) without asking; only stronger alignment needs the option.
        let opt_ptr = if align > gran.min(4 << 10) {
            &mut opt as *mut _
        } else {
            ptr::null_mut()
        };
        // SAFETY: a valid NUL-terminated name, a valid type, a size that is a
        // multiple of the type's granularity, and a valid (or null) option.
        let uid = unsafe {
            sceKernelAllocMemBlock(
                self.name_of(kind).as_ptr(),
                self.type_of(kind),
                size as SceSize,
                opt_ptr,
            )
        };
        if uid < 0 {
            return Err(if uid == UID_MAX_OPEN {
                SourceError::TooManyBlocks(uid)
            } else {
                SourceError::Exhausted(uid)
            });
        }
        let mut base: *mut c_void = ptr::null_mut();
        // SAFETY: `uid` is the block just allocated; `base` is writable.
        let r = unsafe { sceKernelGetMemBlockBase(uid, &mut base) };
        match NonNull::new(base.cast::<u8>()) {
            Some(base) if r >= 0 => Ok(Block {
                base,
                size,
                handle: uid as usize,
            }),
            _ => {
                // SAFETY: the block is ours and unused.
                unsafe { sceKernelFreeMemBlock(uid) };
                Err(SourceError::Exhausted(r))
            }
        }
    }

    unsafe fn release(&mut self, block: Block) {
        // SAFETY: `handle` is the uid of a block this source allocated.
        unsafe { sceKernelFreeMemBlock(block.handle as SceUID) };
    }
}
