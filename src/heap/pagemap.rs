//! The page map: for every 4 KiB page of the address space, the span that
//! describes it ([`span::NONE`] for pages that are not the heap's).
//!
//! ```text
//!  32-bit (the Vita):  | root: 10 bits | leaf: 10 bits | offset: 12 |
//!      root[1024] (in the heap) ──► leaf[1024] of *Span (4 KiB, covers 4 MiB)
//!  64-bit hosts:       | root: 12 | mid: 12 | leaf: 12 | offset: 12 |   (48-bit user space)
//! ```
//! On the Vita a lookup is two dependent loads (root entry, then leaf
//! entry) and no branch: absent leaves are a shared leaf whose every entry
//! is `NONE`. Nodes come from the heap's metadata and are never given back
//! (one 4 KiB leaf per 4 MiB of address space the heap ever used).
//!
//! Invariant: every root (and mid) entry is the shared empty node or a node
//! of this map; every entry of a real leaf is `NONE` or a live span whose
//! pages include that page; the shared nodes are never written.
//!
//! Entries are atomics read with relaxed loads (plain loads): the fast path
//! reads them without the heap lock. A thread only relies on the entry of a
//! page holding a block it owns, which was written before that block was
//! handed out; other entries may be read while being rewritten and are
//! then merely stale (the slow path validates under the lock).

use super::config::PAGE_SHIFT;
use super::span::{NONE, Span};
use core::sync::atomic::{AtomicPtr, Ordering};

/// Address bits the map covers: all of them on 32-bit targets, the 48 bits
/// of user space on 64-bit ones (higher addresses are simply "not ours").
const ADDR_BITS: u32 = if usize::BITS == 64 { 48 } else { 32 };
const LEAF_BITS: u32 = if usize::BITS == 64 { 12 } else { 10 };
const MID_BITS: u32 = if usize::BITS == 64 { 12 } else { 0 };
const ROOT_BITS: u32 = ADDR_BITS - PAGE_SHIFT - LEAF_BITS - MID_BITS;
const LEAF_LEN: usize = 1 << LEAF_BITS;
#[cfg(target_pointer_width = "64")]
const MID_LEN: usize = 1 << MID_BITS;
const ROOT_LEN: usize = 1 << ROOT_BITS;

/// A leaf: the spans of `LEAF_LEN` consecutive pages.
pub type Leaf = [AtomicPtr<Span>; LEAF_LEN];
#[cfg(target_pointer_width = "64")]
type Mid = [AtomicPtr<Leaf>; MID_LEN];

/// Bytes of one leaf (what the metadata must provide per new leaf).
pub const LEAF_BYTES: usize = size_of::<Leaf>();
/// Bytes of one mid node (64-bit hosts only).
#[cfg(target_pointer_width = "64")]
pub const MID_BYTES: usize = size_of::<Mid>();

#[repr(transparent)]
struct Shared<T>(T);
// SAFETY: the shared empty nodes are never written.
unsafe impl<T> Sync for Shared<T> {}

#[allow(clippy::declare_interior_mutable_const)]
const NONE_ENTRY: AtomicPtr<Span> = AtomicPtr::new(NONE);
/// Stands for every absent leaf; never written.
static EMPTY_LEAF: Shared<Leaf> = Shared([NONE_ENTRY; LEAF_LEN]);
const EMPTY_LEAF_PTR: *mut Leaf = (&raw const EMPTY_LEAF).cast::<Leaf>().cast_mut();
#[cfg(target_pointer_width = "64")]
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_LEAF_ENTRY: AtomicPtr<Leaf> = AtomicPtr::new(EMPTY_LEAF_PTR);
/// Stands for every absent mid node (64-bit); never written.
#[cfg(target_pointer_width = "64")]
static EMPTY_MID: Shared<Mid> = Shared([EMPTY_LEAF_ENTRY; MID_LEN]);
#[cfg(target_pointer_width = "64")]
const EMPTY_MID_PTR: *mut Mid = (&raw const EMPTY_MID).cast::<Mid>().cast_mut();

#[cfg(target_pointer_width = "64")]
type RootEntry = AtomicPtr<Mid>;
#[cfg(not(target_pointer_width = "64"))]
type RootEntry = AtomicPtr<Leaf>;

#[cfg(target_pointer_width = "64")]
#[allow(clippy::declare_interior_mutable_const)]
const ROOT_INIT: RootEntry = AtomicPtr::new(EMPTY_MID_PTR);
#[cfg(not(target_pointer_width = "64"))]
#[allow(clippy::declare_interior_mutable_const)]
const ROOT_INIT: RootEntry = AtomicPtr::new(EMPTY_LEAF_PTR);

/// The map itself.
pub struct PageMap {
    root: [RootEntry; ROOT_LEN],
}

/// Where new nodes come from (the heap's metadata). Returns zeroed-or-not
/// memory of `bytes` bytes aligned to a pointer, or null.
pub trait NodeSource {
    /// A node of `bytes` bytes, or null when memory is out.
    fn node(&mut self, bytes: usize) -> *mut u8;
}

impl PageMap {
    /// A map in which no page is the heap's.
    pub const fn new() -> Self {
        PageMap {
            root: [ROOT_INIT; ROOT_LEN],
        }
    }

    #[inline(always)]
    fn in_range(addr: usize) -> bool {
        ADDR_BITS >= usize::BITS || (addr >> (ADDR_BITS % usize::BITS)) == 0
    }

    /// The leaf holding the page of `addr` (possibly the shared empty one).
    #[inline(always)]
    fn leaf(&self, addr: usize) -> *mut Leaf {
        #[cfg(target_pointer_width = "64")]
        {
            if !Self::in_range(addr) {
                return EMPTY_LEAF_PTR;
            }
            let r = addr >> (PAGE_SHIFT + LEAF_BITS + MID_BITS);
            let m = (addr >> (PAGE_SHIFT + LEAF_BITS)) & (MID_LEN - 1);
            let mid = self.root[r].load(Ordering::Relaxed);
            // SAFETY: root entries point at mid nodes, real or shared.
            unsafe { (*mid)[m].load(Ordering::Relaxed) }
        }
        #[cfg(not(target_pointer_width = "64"))]
        {
            self.root[addr >> (PAGE_SHIFT + LEAF_BITS)].load(Ordering::Relaxed)
        }
    }

    /// The span of the page holding `addr`: two loads on 32-bit targets.
    #[inline(always)]
    pub fn get(&self, addr: usize) -> *mut Span {
        let leaf = self.leaf(addr);
        // SAFETY: leaves (real or shared) have LEAF_LEN entries.
        unsafe { (*leaf)[(addr >> PAGE_SHIFT) & (LEAF_LEN - 1)].load(Ordering::Relaxed) }
    }

    /// Bytes of nodes still missing to map `[addr, addr + len)` (an upper
    /// bound: a mid node may be counted for each of its missing leaves).
    /// O(len / 4 MiB).
    pub fn missing_bytes(&self, addr: usize, len: usize) -> usize {
        if len == 0 || !Self::in_range(addr) || !Self::in_range(addr + len - 1) {
            return 0;
        }
        let step = 1usize << (PAGE_SHIFT + LEAF_BITS);
        let (mut a, last, mut bytes) = (addr & !(step - 1), addr + len - 1, 0);
        loop {
            if self.leaf(a) == EMPTY_LEAF_PTR {
                bytes += LEAF_BYTES + 16;
                #[cfg(target_pointer_width = "64")]
                if self.root[a >> (PAGE_SHIFT + LEAF_BITS + MID_BITS)].load(Ordering::Relaxed)
                    == EMPTY_MID_PTR
                {
                    bytes += MID_BYTES + 16;
                }
            }
            match a.checked_add(step) {
                Some(n) if n <= last => a = n,
                _ => return bytes,
            }
        }
    }

    /// Makes sure nodes exist for every page of `[addr, addr + len)`, so a
    /// later [`set`](Self::set) cannot fail. Returns false if a node could
    /// not be obtained (nodes already made stay). O(len / 4 MiB).
    pub fn reserve(&mut self, nodes: &mut impl NodeSource, addr: usize, len: usize) -> bool {
        if len == 0 {
            return true;
        }
        let last = addr + len - 1;
        if !Self::in_range(addr) || !Self::in_range(last) {
            return false;
        }
        let step = 1usize << (PAGE_SHIFT + LEAF_BITS);
        let mut a = addr & !(step - 1);
        loop {
            if !self.make_leaf(nodes, a) {
                return false;
            }
            match a.checked_add(step) {
                Some(n) if n <= last => a = n,
                _ => return true,
            }
        }
    }

    fn make_leaf(&mut self, nodes: &mut impl NodeSource, addr: usize) -> bool {
        #[cfg(target_pointer_width = "64")]
        let slot: &AtomicPtr<Leaf> = {
            let r = addr >> (PAGE_SHIFT + LEAF_BITS + MID_BITS);
            let m = (addr >> (PAGE_SHIFT + LEAF_BITS)) & (MID_LEN - 1);
            if self.root[r].load(Ordering::Relaxed) == EMPTY_MID_PTR {
                let mid = nodes.node(MID_BYTES).cast::<Mid>();
                if mid.is_null() {
                    return false;
                }
                // SAFETY: a fresh node, sized and aligned for a Mid.
                unsafe { mid.write([EMPTY_LEAF_ENTRY; MID_LEN]) };
                self.root[r].store(mid, Ordering::Release);
            }
            // SAFETY: the root entry is a real mid node of this map.
            unsafe { &(*self.root[r].load(Ordering::Relaxed))[m] }
        };
        #[cfg(not(target_pointer_width = "64"))]
        let slot: &AtomicPtr<Leaf> = &self.root[addr >> (PAGE_SHIFT + LEAF_BITS)];
        if slot.load(Ordering::Relaxed) == EMPTY_LEAF_PTR {
            let leaf = nodes.node(LEAF_BYTES).cast::<Leaf>();
            if leaf.is_null() {
                return false;
            }
            // SAFETY: a fresh node, sized and aligned for a Leaf.
            unsafe { leaf.write([NONE_ENTRY; LEAF_LEN]) };
            slot.store(leaf, Ordering::Release);
        }
        true
    }

    /// Sets the span of `pages` pages from the page of `addr`. The nodes
    /// must have been [`reserve`](Self::reserve)d. O(pages).
    pub fn set(&self, addr: usize, pages: usize, span: *mut Span) {
        for i in 0..pages {
            let a = addr + (i << PAGE_SHIFT);
            let leaf = self.leaf(a);
            debug_assert!(leaf != EMPTY_LEAF_PTR, "page map set on an unreserved page");
            // SAFETY: reserved, so a real leaf of this map.
            unsafe { (*leaf)[(a >> PAGE_SHIFT) & (LEAF_LEN - 1)].store(span, Ordering::Relaxed) };
        }
    }

    /// Sets only the first and last page of a run (free runs: their inner
    /// pages are `NONE`, see `pages.rs`).
    pub fn set_ends(&self, addr: usize, pages: usize, span: *mut Span) {
        self.set(addr, 1, span);
        if pages > 1 {
            self.set(addr + ((pages - 1) << PAGE_SHIFT), 1, span);
        }
    }
}
