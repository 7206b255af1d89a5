//! The page map: for every 4 KiB page of the address space, what the heap
//! keeps there. `free` and `realloc` start here to find out, from nothing but
//! the address, whether a pointer is a small object (and which slab owns it),
//! a medium block, a large block, or not the heap's at all.
//!
//! ```text
//!  address: | root index | mid index | leaf index | page offset |
//!  root[ROOT] ──► mid node [MID] ──► leaf [LEAF] of u8 entries
//! ```
//! Nodes come from the block source in [`META_CHUNK`] pieces and are never
//! given back (at most one leaf per 16 MiB of address space the heap ever
//! used). Absent nodes point at shared all-`NONE` nodes, so a lookup is three
//! loads and no branch. The map never allocates from the heap it describes.

use super::config::{META_CHUNK, PAGE_SHIFT};
use crate::source::{BlockKind, BlockSource, SourceError};
use core::ptr;

/// Address bits the map covers: all of them on 32-bit targets, the 48 bits
/// of user space on 64-bit ones (higher addresses are simply "not ours").
const ADDR_BITS: u32 = if usize::BITS == 64 { 48 } else { 32 };
const LEAF_BITS: u32 = 12;
const MID_BITS: u32 = if usize::BITS == 64 { 12 } else { 4 };
const ROOT_BITS: u32 = ADDR_BITS - PAGE_SHIFT - LEAF_BITS - MID_BITS;
const LEAF_LEN: usize = 1 << LEAF_BITS;
const MID_LEN: usize = 1 << MID_BITS;
const ROOT_LEN: usize = 1 << ROOT_BITS;

/// Entry: the page is not the heap's.
pub const NONE: u8 = 0;
/// Entry: the page belongs to a segment (medium blocks; header before the pointer).
pub const SEGMENT: u8 = 1;
/// Entry: the page holds the start of a large block's user memory.
pub const LARGE: u8 = 2;
/// Entry: page `entry & !SLAB` of a small-object slab.
pub const SLAB: u8 = 0x80;

type Leaf = [u8; LEAF_LEN];
type Mid = [*mut Leaf; MID_LEN];

/// Stands for every absent leaf; never written.
static EMPTY_LEAF: Leaf = [NONE; LEAF_LEN];
/// Stands for every absent mid node; never written.
static EMPTY_MID: SharedMid = SharedMid([(&raw const EMPTY_LEAF).cast_mut(); MID_LEN]);

#[repr(transparent)]
struct SharedMid(Mid);
// SAFETY: the shared empty nodes are never written.
unsafe impl Sync for SharedMid {}

const EMPTY_MID_PTR: *mut Mid = (&raw const EMPTY_MID).cast::<Mid>().cast_mut();
const EMPTY_LEAF_PTR: *mut Leaf = (&raw const EMPTY_LEAF).cast_mut();

/// Header of each meta block: the block and the next (older) one.
#[repr(C)]
pub struct MetaChunk {
    /// The source block this chunk is.
    pub block: crate::source::Block,
    /// The previously obtained chunk, or null.
    pub next: *mut MetaChunk,
}

/// The map itself.
///
/// Invariant: `root[r]` is `EMPTY_MID` or a mid node of this map; each mid
/// entry is `EMPTY_LEAF` or a leaf of this map; an entry is `NONE` unless the
/// heap set it for a page it holds. The shared empty nodes are never written.
pub struct PageMap {
    root: [*mut Mid; ROOT_LEN],
    /// Bump range for new nodes, inside the last meta block.
    meta_next: usize,
    meta_end: usize,
    /// Meta blocks obtained from the source, newest first (a [`MetaChunk`]
    /// at the start of each).
    pub chunks: *mut MetaChunk,
    /// Bytes and blocks obtained from the source for nodes.
    pub meta_bytes: usize,
    pub meta_blocks: usize,
}

impl PageMap {
    pub const fn new() -> Self {
        PageMap {
            root: [EMPTY_MID_PTR; ROOT_LEN],
            meta_next: 0,
            meta_end: 0,
            chunks: ptr::null_mut(),
            meta_bytes: 0,
            meta_blocks: 0,
        }
    }

    #[inline(always)]
    fn split(addr: usize) -> Option<(usize, usize, usize)> {
        if ADDR_BITS < usize::BITS && (addr >> ADDR_BITS) != 0 {
            return None;
        }
        let page = addr >> PAGE_SHIFT;
        Some((
            page >> (LEAF_BITS + MID_BITS),
            (page >> LEAF_BITS) & (MID_LEN - 1),
            page & (LEAF_LEN - 1),
        ))
    }

    /// The entry for the page holding `addr`. O(1): three loads.
    #[inline(always)]
    pub fn get(&self, addr: usize) -> u8 {
        let Some((r, m, l)) = Self::split(addr) else {
            return NONE;
        };
        // SAFETY: root entries point to mid nodes and mid entries to leaves,
        // real or the shared empty ones (invariant).
        unsafe { (*(*self.root[r])[m])[l] }
    }

    /// Bytes of nodes that mapping `[addr, addr + len)` may need at most.
    pub fn nodes_bytes(addr: usize, len: usize) -> usize {
        let last = addr + len - 1;
        let leaves = (last >> (PAGE_SHIFT + LEAF_BITS)) - (addr >> (PAGE_SHIFT + LEAF_BITS)) + 1;
        let mids = (last >> (PAGE_SHIFT + LEAF_BITS + MID_BITS))
            - (addr >> (PAGE_SHIFT + LEAF_BITS + MID_BITS))
            + 1;
        leaves * size_of::<Leaf>() + mids * size_of::<Mid>()
    }

    /// Bytes of nodes still missing to map `[addr, addr + len)`.
    /// O(len / 16 MiB).
    fn missing_bytes(&self, addr: usize, len: usize) -> usize {
        let (mut bytes, mut last_root) = (0, usize::MAX);
        let mut a = addr & !((1usize << (PAGE_SHIFT + LEAF_BITS)) - 1);
        while a < addr + len {
            let Some((r, m, _)) = Self::split(a) else {
                break;
            };
            if self.root[r] == EMPTY_MID_PTR {
                if r != last_root {
                    bytes += size_of::<Mid>();
                }
                bytes += size_of::<Leaf>();
            } else {
                // SAFETY: a non-empty root entry is a mid node of this map.
                if unsafe { (*self.root[r])[m] } == EMPTY_LEAF_PTR {
                    bytes += size_of::<Leaf>();
                }
            }
            last_root = r;
            a += 1 << (PAGE_SHIFT + LEAF_BITS);
        }
        bytes
    }

    /// Hands the map `[start, start + len)` (inside a block the heap owns) to
    /// take nodes from before asking the source (single-block mode).
    pub fn seed(&mut self, start: usize, len: usize) {
        self.meta_next = start;
        self.meta_end = start + len;
        self.meta_bytes += len;
    }

    /// Makes room for `bytes` of nodes: a new meta block from the source
    /// (one per call at most, so the heap can report it).
    fn ensure_room<S: BlockSource>(
        &mut self,
        src: &mut S,
        bytes: usize,
    ) -> Result<(), SourceError> {
        if self.meta_end - self.meta_next >= bytes {
            return Ok(());
        }
        let size =
            (META_CHUNK.max(bytes + size_of::<MetaChunk>())).next_multiple_of(src.granularity());
        let block = src.acquire(size, super::config::PAGE_SIZE, BlockKind::Meta)?;
        let chunk = block.base.as_ptr().cast::<MetaChunk>();
        // SAFETY: the block is fresh and large enough for its header.
        unsafe {
            chunk.write(MetaChunk {
                block,
                next: self.chunks,
            })
        };
        self.chunks = chunk;
        self.meta_next = block.base.as_ptr() as usize + size_of::<MetaChunk>();
        self.meta_end = block.base.as_ptr() as usize + block.size;
        self.meta_bytes += block.size;
        self.meta_blocks += 1;
        Ok(())
    }

    fn node(&mut self, bytes: usize) -> *mut u8 {
        debug_assert!(self.meta_end - self.meta_next >= bytes);
        let p = self.meta_next as *mut u8;
        self.meta_next += bytes;
        // SAFETY: [p, p + bytes) lies in meta memory nothing else uses.
        unsafe { ptr::write_bytes(p, 0, bytes) };
        p
    }

    /// Makes sure nodes exist for every page in `[addr, addr + len)`, so a
    /// later [`set`](Self::set) cannot fail. O(len / 16 MiB).
    pub fn reserve<S: BlockSource>(
        &mut self,
        src: &mut S,
        addr: usize,
        len: usize,
    ) -> Result<(), SourceError> {
        let last = addr + len - 1;
        let (Some(_), Some(_)) = (Self::split(addr), Self::split(last)) else {
            return Err(SourceError::Unsupported);
        };
        self.ensure_room(src, self.missing_bytes(addr, len))?;
        let mut a = addr & !((1usize << (PAGE_SHIFT + LEAF_BITS)) - 1);
        while a <= last {
            let (r, m, _) = Self::split(a).ok_or(SourceError::Unsupported)?;
            if self.root[r] == EMPTY_MID_PTR {
                let mid = self.node(size_of::<Mid>()) as *mut Mid;
                // SAFETY: a fresh node of this map, sized and aligned for a Mid.
                unsafe { mid.write([EMPTY_LEAF_PTR; MID_LEN]) };
                self.root[r] = mid;
            }
            // SAFETY: root[r] is a mid node of this map (not the shared one).
            let slot = unsafe { &mut (*self.root[r])[m] };
            if *slot == EMPTY_LEAF_PTR {
                *slot = self.node(size_of::<Leaf>()) as *mut Leaf;
            }
            a += 1 << (PAGE_SHIFT + LEAF_BITS);
        }
        Ok(())
    }

    /// Sets the entries of the `pages` pages starting at the page of `addr`.
    /// `value(i)` gives the entry of page `i`. The nodes must have been
    /// [`reserve`](Self::reserve)d. O(pages).
    pub fn set(&mut self, addr: usize, pages: usize, value: impl Fn(usize) -> u8) {
        for i in 0..pages {
            let (r, m, l) = Self::split(addr + (i << PAGE_SHIFT)).expect("reserved address");
            // SAFETY: `reserve` created both nodes for this page, so neither
            // is a shared empty node.
            unsafe {
                let leaf = (*self.root[r])[m];
                debug_assert!(leaf != EMPTY_LEAF_PTR, "page map set on an unreserved page");
                (*leaf)[l] = value(i);
            }
        }
    }
}
