//! The heap: small objects in slabs, medium ones in a TLSF over segments,
//! large ones in blocks of their own, all obtained from one [`BlockSource`].
//!
//! ```text
//!            request size
//!   0 ..= SMALL_MAX ─────► partial[class] slab ──(empty list)──► new slab ◄─┐
//!   .. large_threshold ──► TLSF over segments ──(no fit)──► new segment ────┤
//!   >= large_threshold ──► a source block of its own                         │
//!                          (slabs are page-aligned TLSF blocks) ─────────────┘
//!   free(p): page map entry of p ─► SLAB i | SEGMENT | LARGE | NONE (misuse)
//! ```
//! `Heap` is single-threaded (`&mut self`); [`crate::Allocator`] puts it
//! behind a lock. It never calls the platform except through its source and
//! never walks more than a bounded number of blocks on any path except
//! [`Heap::check`]. Errors in the caller's use (double free, foreign pointer)
//! come back as [`Misuse`]; running out of memory comes back as null.

/// cbindgen:ignore
mod check;
pub mod config;
/// cbindgen:ignore
mod large;
/// cbindgen:ignore
pub(crate) mod pagemap;
/// cbindgen:ignore
pub(crate) mod small;
mod stats;
/// cbindgen:ignore
pub(crate) mod tlsf;

#[cfg(test)]
mod tests;

pub use stats::{MallInfo, Stats};

use crate::source::{Block, BlockKind, BlockSource};
use config::*;
use core::ptr::{self, NonNull};
use large::LargeHdr;
use small::{CLASS_COUNT, Slab, SmallMisuse};
use tlsf::{BlockHdr, HDR, MIN_BLOCK, Tlsf};

/// A misuse of the allocator detected on a pointer the caller passed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misuse {
    /// The pointer was never returned by this heap (or points inside a block).
    InvalidPointer,
    /// The block is already free.
    DoubleFree,
}

impl Misuse {
    /// A few words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Misuse::InvalidPointer => {
                "invalid pointer (not returned by vitalloc, not the start of a block, or already freed)"
            }
            Misuse::DoubleFree => "double free (the block is already free)",
        }
    }
}

/// A block the heap obtained from or gives back to its source, as block
/// hooks see it (`vitalloc_block_info_t` in C).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BlockInfo {
    /// First byte of the block.
    pub base: *mut core::ffi::c_void,
    /// Bytes in the block.
    pub size: usize,
    /// The memory type (`SCE_KERNEL_MEMBLOCK_TYPE_*` on the Vita, 0 on hosts).
    pub mem_type: u32,
    /// The memblock's uid on the Vita (0 on hosts).
    pub uid: i32,
    /// 0: a segment (small and medium allocations), 1: one large
    /// allocation, 2: the heap's metadata.
    pub kind: u32,
}

/// Block hook event: the heap obtained the block (called after).
pub const BLOCK_ACQUIRED: core::ffi::c_int = 1;
/// Block hook event: the heap is about to give the block back (called before).
pub const BLOCK_RELEASED: core::ffi::c_int = 2;

/// Called with the heap locked whenever it obtains or releases a source
/// block (`vitalloc_block_hook_t` in C). It must not call the allocator.
pub type BlockHook = Option<
    unsafe extern "C" fn(
        event: core::ffi::c_int,
        block: *const BlockInfo,
        user: *mut core::ffi::c_void,
    ),
>;

/// Parameters `mallopt` can change.
#[derive(Clone, Copy, Debug)]
pub struct Tunables {
    /// Requests of at least this many bytes get a source block of their own.
    pub large_threshold: usize,
    /// A freed large block of at most this size is kept for reuse.
    pub trim_threshold: usize,
    /// Extra bytes added to every new segment.
    pub top_pad: usize,
    /// Upper bound on bytes held from the source (0: none).
    pub limit: usize,
}

/// Header at the start of every segment.
#[repr(C)]
struct Segment {
    block: Block,
    next: *mut Segment,
    prev: *mut Segment,
}

const SEG_HDR: usize = size_of::<Segment>().next_multiple_of(MIN_ALIGN);

impl Segment {
    fn first_block(this: *mut Segment) -> *mut BlockHdr {
        this.cast::<u8>().wrapping_add(SEG_HDR).cast()
    }
    /// The segment of a region's first block (whose `prev_phys` is null).
    fn of_first_block(b: *mut BlockHdr) -> *mut Segment {
        b.cast::<u8>().wrapping_sub(SEG_HDR).cast()
    }
    /// Whether the segment holds no allocation.
    ///
    /// # Safety
    /// `this` is a live segment.
    unsafe fn is_empty(this: *mut Segment) -> bool {
        let b = Self::first_block(this);
        // SAFETY: a live segment's first block and its successor are headers.
        unsafe { (*b).is_free() && (*BlockHdr::next(b)).is_sentinel() }
    }
}

/// What the page map says a live pointer is.
enum Owner {
    Small(*mut Slab),
    Medium(*mut BlockHdr),
    Large(*mut LargeHdr),
}

/// A heap over the source `S`.
pub struct Heap<S: BlockSource> {
    /// `partial[c]`: slabs of class `c` with at least one free object.
    partial: [*mut Slab; CLASS_COUNT],
    tlsf: Tlsf,
    pagemap: pagemap::PageMap,
    segments: *mut Segment,
    /// An empty segment kept instead of being given back (still in the TLSF
    /// lists, so it is used first); may have been used since.
    spare_segment: *mut Segment,
    /// Bytes in all segments.
    segment_bytes: usize,
    large: *mut LargeHdr,
    /// A freed large block kept for the next large request that fits it.
    spare_large: Option<Block>,
    /// Marks free small objects (with their address) to detect double frees.
    cookie: usize,
    tunables: Tunables,
    stats: Stats,
    block_hook: BlockHook,
    hook_user: *mut core::ffi::c_void,
    /// Single-block mode: the one block every allocation comes from (see
    /// [`Heap::set_single_block`]); `single_size` is its requested size.
    single: Option<Block>,
    single_size: usize,
    /// `free_calls` when each class last gave back its last slab.
    last_slab_lost: [u32; CLASS_COUNT],
    /// `free_calls` at which kept empty slabs are next looked at.
    next_expiry: u32,
    /// Set while `release_empty_slabs` runs (it can re-enter through a
    /// segment emptying).
    releasing_slabs: bool,
    source: S,
}

// SAFETY: the heap owns all memory its pointers reach; moving it to another
// thread moves that ownership (the lock in `Allocator` serialises access).
unsafe impl<S: BlockSource + Send> Send for Heap<S> {}

impl<S: BlockSource> Heap<S> {
    /// An empty heap; it obtains nothing from `source` until first used.
    pub const fn new(source: S) -> Self {
        Heap {
            partial: [ptr::null_mut(); CLASS_COUNT],
            tlsf: Tlsf::new(),
            pagemap: pagemap::PageMap::new(),
            segments: ptr::null_mut(),
            spare_segment: ptr::null_mut(),
            segment_bytes: 0,
            large: ptr::null_mut(),
            spare_large: None,
            cookie: 0x5157_a11c_0ffe_e1a5_u64 as usize,
            tunables: Tunables {
                large_threshold: LARGE_THRESHOLD,
                trim_threshold: TRIM_THRESHOLD,
                top_pad: 0,
                limit: 0,
            },
            stats: Stats {
                in_use: 0,
                in_use_peak: 0,
                reserved: 0,
                reserved_peak: 0,
                allocations: 0,
                segments: 0,
                large_blocks: 0,
                source_blocks: 0,
                slabs: 0,
                slab_bytes: 0,
                free_bytes: 0,
                limit: 0,
                malloc_calls: 0,
                free_calls: 0,
                realloc_calls: 0,
                failed_calls: 0,
            },
            block_hook: None,
            hook_user: ptr::null_mut(),
            single: None,
            single_size: 0,
            // "Long ago" on the wrapping clock.
            last_slab_lost: [1 << 31; CLASS_COUNT],
            next_expiry: 0,
            releasing_slabs: false,
            source,
        }
    }

    /// The block source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The block source, mutably (for configuring it).
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// Current tunables.
    pub fn tunables(&self) -> Tunables {
        self.tunables
    }

    /// Replaces the tunables (values are clamped to what the heap supports).
    pub fn set_tunables(&mut self, t: Tunables) {
        self.tunables = Tunables {
            large_threshold: t
                .large_threshold
                .clamp(LARGE_THRESHOLD_MIN, LARGE_THRESHOLD_MAX),
            ..t
        };
        self.stats.limit = t.limit;
    }

    /// A snapshot of the statistics. O(1).
    pub fn stats(&self) -> Stats {
        Stats {
            free_bytes: self.tlsf.free_bytes,
            ..self.stats
        }
    }

    // ----- fast paths -------------------------------------------------------

    /// Allocates `size` bytes aligned to [`MIN_ALIGN`]; null when out of
    /// memory. `malloc(0)` returns a unique pointer. O(1).
    #[inline]
    pub fn malloc(&mut self, size: usize) -> *mut u8 {
        self.stats.malloc_calls += 1;
        self.alloc(size)
    }

    /// `malloc` without counting the call.
    #[inline(always)]
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if size <= SMALL_MAX {
            let cls = small::class_of(size);
            let slab = self.partial[cls];
            if !slab.is_null() {
                // SAFETY: slabs in a partial list are live and have a free object.
                return unsafe { self.take_small(slab, cls) };
            }
        }
        self.malloc_slow(size, MIN_ALIGN)
    }

    /// # Safety
    /// `slab` is the head of `partial[cls]`.
    #[inline(always)]
    unsafe fn take_small(&mut self, slab: *mut Slab, cls: usize) -> *mut u8 {
        // SAFETY: per the caller; a slab leaving the list is its head.
        unsafe {
            let p = Slab::pop(slab);
            if (*slab).is_full() {
                let next = (*slab).next;
                self.partial[cls] = next;
                if !next.is_null() {
                    (*next).prev = ptr::null_mut();
                }
                (*slab).in_list = false;
            }
            self.note_alloc((*slab).obj_size());
            p
        }
    }

    #[inline(always)]
    fn note_alloc(&mut self, usable: usize) {
        let s = &mut self.stats;
        s.in_use += usable;
        s.allocations += 1;
        if s.in_use > s.in_use_peak {
            s.in_use_peak = s.in_use;
        }
    }

    #[inline(always)]
    fn note_free(&mut self, usable: usize) {
        self.stats.in_use -= usable;
        self.stats.allocations -= 1;
    }

    /// Frees `p` (null is ignored). O(1).
    ///
    /// # Safety
    /// `p` is null or a pointer this heap returned and that was not freed
    /// since — or any other value, which is reported as [`Misuse`] whenever
    /// the heap can tell (it cannot tell a pointer into memory it does not
    /// map from one it handed out if the memory was since reused).
    #[inline]
    pub unsafe fn free(&mut self, p: *mut u8) -> Result<(), Misuse> {
        if p.is_null() {
            return Ok(());
        }
        self.stats.free_calls += 1;
        // SAFETY: forwarded.
        unsafe { self.dealloc(p) }
    }

    /// `free` of a non-null pointer, without counting the call.
    #[inline(always)]
    unsafe fn dealloc(&mut self, p: *mut u8) -> Result<(), Misuse> {
        let entry = self.pagemap.get(p as usize);
        // SAFETY: the page map only names live slabs; the block paths
        // validate their headers before trusting them.
        unsafe {
            if entry & pagemap::SLAB != 0 {
                return self.free_small(Self::slab_of(p, entry), p);
            }
            self.dealloc_block(p, entry)
        }
    }

    /// The slab holding `p`, whose page-map entry is `entry` (`SLAB | i`).
    #[inline(always)]
    fn slab_of(p: *mut u8, entry: u8) -> *mut Slab {
        let page = p as usize & !(PAGE_SIZE - 1);
        Slab::of_block((page - (entry & !pagemap::SLAB) as usize * PAGE_SIZE) as *mut u8)
    }

    /// `free` of a medium or large block (or of a pointer that is neither).
    #[inline(never)]
    unsafe fn dealloc_block(&mut self, p: *mut u8, entry: u8) -> Result<(), Misuse> {
        // SAFETY: the validators return live, used blocks only.
        unsafe {
            match entry {
                pagemap::SEGMENT => {
                    let b = self.medium_owner(p)?;
                    self.note_free((*b).size() - HDR);
                    self.free_medium(b);
                }
                pagemap::LARGE => {
                    let l = self.large_owner(p)?;
                    self.note_free((*l).usable());
                    self.free_large(l);
                }
                _ => return Err(Misuse::InvalidPointer),
            }
            if self.stats.allocations == 0 {
                self.heap_emptied();
            }
            self.expire_kept_slabs();
        }
        Ok(())
    }

    #[inline(always)]
    unsafe fn free_small(&mut self, slab: *mut Slab, p: *mut u8) -> Result<(), Misuse> {
        // SAFETY: `slab` is live and `p` lies inside it (page map).
        unsafe {
            Slab::push(slab, p, self.cookie).map_err(|e| match e {
                SmallMisuse::NotAnObject => Misuse::InvalidPointer,
                SmallMisuse::DoubleFree => Misuse::DoubleFree,
            })?;
            self.note_free((*slab).obj_size());
            if !(*slab).in_list {
                let cls = (*slab).class as usize;
                let head = self.partial[cls];
                (*slab).next = head;
                (*slab).prev = ptr::null_mut();
                if !head.is_null() {
                    (*head).prev = slab;
                }
                self.partial[cls] = slab;
                (*slab).in_list = true;
            } else if (*slab).used == 0 {
                // The common case of a churning class keeps its last slab:
                // decided here, without a call. (Testing `segments` too,
                // to stay inline when the heap has just emptied, cost 9
                // instructions per malloc+free on ARM: bench/arm/run.sh.)
                let now = self.clock();
                let cls = ((*slab).class as usize).min(CLASS_COUNT - 1);
                let keep = (*slab).next.is_null()
                    && (*slab).prev.is_null()
                    && now.wrapping_sub(self.last_slab_lost[cls]) < SLAB_KEEP_FREES
                    && (now.wrapping_sub(self.next_expiry) as i32) < 0
                    && self.stats.allocations != 0;
                if keep {
                    (*slab).emptied_at = now;
                } else {
                    self.slab_emptied(slab);
                }
            }
        }
        Ok(())
    }

    /// Classifies a pointer through the page map and validates its header.
    #[inline(always)]
    unsafe fn owner(&self, p: *mut u8) -> Result<Owner, Misuse> {
        let addr = p as usize;
        let entry = self.pagemap.get(addr);
        if entry & pagemap::SLAB != 0 {
            return Ok(Owner::Small(Self::slab_of(p, entry)));
        }
        // SAFETY: the validators only read memory on pages the map marks as
        // the heap's.
        unsafe {
            match entry {
                pagemap::SEGMENT => self.medium_owner(p).map(Owner::Medium),
                pagemap::LARGE => self.large_owner(p).map(Owner::Large),
                _ => Err(Misuse::InvalidPointer),
            }
        }
    }

    /// Validates `p` as a medium block's user pointer (its page is a segment
    /// page) and returns the block. Reads only memory on pages the map marks
    /// as the heap's.
    #[inline]
    unsafe fn medium_owner(&self, p: *mut u8) -> Result<*mut BlockHdr, Misuse> {
        let b = BlockHdr::of_user(p);
        let addr = b as usize;
        let same_page = |a: usize, z: usize| (a ^ z) < PAGE_SIZE;
        if addr % MIN_ALIGN != 0
            || (!same_page(addr, p as usize) && self.pagemap.get(addr) != pagemap::SEGMENT)
        {
            return Err(Misuse::InvalidPointer);
        }
        // SAFETY: `b` is on a segment page (mapped); the successor is only
        // read once its page is known to be the heap's.
        unsafe {
            let size = (*b).size();
            if (*b).flags() & !tlsf::FREE != 0 || size < MIN_BLOCK {
                return Err(Misuse::InvalidPointer);
            }
            // A freed block keeps FREE in its header even after merging
            // into a neighbour, so a second free is recognised here.
            if (*b).is_free() {
                return Err(Misuse::DoubleFree);
            }
            let next = addr.wrapping_add(size);
            if next < addr {
                return Err(Misuse::InvalidPointer);
            }
            if !same_page(addr, next) {
                let e = self.pagemap.get(next);
                if e != pagemap::SEGMENT && e & pagemap::SLAB == 0 {
                    return Err(Misuse::InvalidPointer);
                }
            }
            if (*(next as *mut BlockHdr)).prev_phys != b {
                return Err(Misuse::InvalidPointer);
            }
        }
        Ok(b)
    }

    #[cold]
    unsafe fn large_owner(&self, p: *mut u8) -> Result<*mut LargeHdr, Misuse> {
        let h = BlockHdr::of_user(p);
        if (h as usize) % MIN_ALIGN != 0 || self.pagemap.get(h as usize) != pagemap::LARGE {
            return Err(Misuse::InvalidPointer);
        }
        // SAFETY: `h` and the large header are read only on pages the map
        // marks LARGE, which belong to live large blocks.
        unsafe {
            let l = (*h).prev_phys.cast::<LargeHdr>();
            if (*h).flags() != tlsf::LARGE
                || (l as usize) % PAGE_SIZE != 0
                || self.pagemap.get(l as usize) != pagemap::LARGE
                || !LargeHdr::is_valid(l, p)
            {
                return Err(Misuse::InvalidPointer);
            }
            Ok(l)
        }
    }

    // ----- slow paths -------------------------------------------------------

    /// Allocation that is not a small fast-path hit: a new slab, a medium
    /// block, or a large block, `align` a power of two.
    #[cold]
    #[inline(never)]
    fn malloc_slow(&mut self, size: usize, align: usize) -> *mut u8 {
        let p = if size <= SMALL_MAX && align <= MIN_ALIGN {
            let cls = small::class_of(size);
            match self.new_slab(cls) {
                // SAFETY: `new_slab` made `slab` the head of `partial[cls]`.
                Some(slab) => unsafe { self.take_small(slab, cls) },
                None => ptr::null_mut(),
            }
        } else {
            self.alloc_block(size, align)
        };
        if p.is_null() {
            self.stats.failed_calls += 1;
        }
        p
    }

    fn alloc_block(&mut self, size: usize, align: usize) -> *mut u8 {
        // In single-block mode everything comes from the one segment.
        let wants_large = self.single_size == 0
            && (size >= self.tunables.large_threshold
                || size.saturating_add(align) >= LARGE_THRESHOLD_MAX);
        if wants_large {
            return self.alloc_large(size, align);
        }
        let Some(bs) = tlsf::block_size(size) else {
            return ptr::null_mut();
        };
        let Some(b) = self.tlsf_alloc(bs, align, HDR, 0) else {
            return ptr::null_mut();
        };
        // SAFETY: `b` is a fresh used block of at least `bs` bytes.
        unsafe {
            self.note_alloc((*b).size() - HDR);
            BlockHdr::user(b)
        }
    }

    /// A TLSF block of `bs` bytes whose address plus `offset` is aligned to
    /// `align`, growing the heap by a segment if needed.
    fn tlsf_alloc(
        &mut self,
        bs: usize,
        align: usize,
        offset: usize,
        flags: usize,
    ) -> Option<*mut BlockHdr> {
        // SAFETY: the TLSF's regions are this heap's live segments.
        let attempt = |t: &mut Tlsf| unsafe {
            if align <= MIN_ALIGN {
                t.alloc(bs, flags)
            } else {
                t.alloc_aligned(bs, align, offset, flags)
            }
        };
        if let Some(b) = attempt(&mut self.tlsf) {
            return Some(b);
        }
        let need = if align <= MIN_ALIGN {
            bs
        } else {
            bs.checked_add(align)?.checked_add(MIN_BLOCK)?
        };
        self.add_segment(tlsf::search_size(need)?)?;
        attempt(&mut self.tlsf)
    }

    fn new_slab(&mut self, cls: usize) -> Option<*mut Slab> {
        let pages = small::class_pages(cls);
        let b = self.tlsf_alloc(pages * PAGE_SIZE, PAGE_SIZE, 0, tlsf::SLAB)?;
        self.pagemap
            .set(b as usize, pages, |i| pagemap::SLAB | i as u8);
        // SAFETY: `b` is a fresh, page-aligned block of `pages` pages.
        let slab = unsafe { Slab::init(b.cast(), cls, self.cookie) };
        // SAFETY: `slab` is live; the list head (if any) is a live slab.
        unsafe {
            let head = self.partial[cls];
            (*slab).next = head;
            if !head.is_null() {
                (*head).prev = slab;
            }
            (*slab).in_list = true;
        }
        self.partial[cls] = slab;
        self.stats.slabs += 1;
        self.stats.slab_bytes += pages * PAGE_SIZE;
        Some(slab)
    }

    /// A slab in its partial list became empty. It goes back to the TLSF at
    /// once, unless it is its class's last slab and the class already lost
    /// its last slab within [`SLAB_KEEP_FREES`] frees: a program allocating
    /// and freeing one object at a time would otherwise create and destroy a
    /// slab on every call. A slab kept so is given back after
    /// `SLAB_KEEP_FREES` more frees, when a segment empties, or when memory
    /// is short.
    #[cold]
    #[inline(never)]
    unsafe fn slab_emptied(&mut self, slab: *mut Slab) {
        // SAFETY: `slab` is live and in its partial list.
        unsafe {
            let now = self.clock();
            let cls = (*slab).class as usize;
            let alone = (*slab).next.is_null() && (*slab).prev.is_null();
            if alone && now.wrapping_sub(self.last_slab_lost[cls]) < SLAB_KEEP_FREES {
                (*slab).emptied_at = now;
            } else {
                if alone {
                    self.last_slab_lost[cls] = now;
                }
                self.release_slab(slab);
            }
        }
        if self.stats.allocations == 0 {
            self.heap_emptied();
        }
        self.expire_kept_slabs();
    }

    /// The clock kept slabs age by: `free` calls, wrapping (32 bits, cheap on
    /// the Vita; comparisons are by wrapping difference).
    #[inline(always)]
    fn clock(&self) -> u32 {
        self.stats.free_calls as u32
    }

    /// Releases kept empty slabs older than [`SLAB_KEEP_FREES`] frees.
    /// Runs at most every `SLAB_KEEP_FREES / 2` frees; O(classes).
    fn expire_kept_slabs(&mut self) {
        let now = self.clock();
        if (now.wrapping_sub(self.next_expiry) as i32) < 0 {
            return;
        }
        self.next_expiry = now.wrapping_add(SLAB_KEEP_FREES / 2);
        for cls in 0..CLASS_COUNT {
            let s = self.partial[cls];
            // SAFETY: list heads are live slabs.
            unsafe {
                if !s.is_null()
                    && (*s).used == 0
                    && now.wrapping_sub((*s).emptied_at) >= SLAB_KEEP_FREES
                {
                    self.release_slab(s);
                }
            }
        }
    }

    /// Gives back everything cached (kept empty slabs, the spare large
    /// block, an empty spare segment) when memory runs short. Returns
    /// whether anything was released.
    #[cold]
    fn reclaim(&mut self) -> bool {
        let before = self.stats.reserved;
        self.trim(0);
        self.stats.reserved < before
    }

    /// The last allocation is gone. Kept empty slabs must not pin segments
    /// that could go back to the source; with one segment left there is
    /// nothing to give back, and tearing the slabs down would only make a
    /// program that allocates and frees one object at a time rebuild them
    /// on every call.
    #[cold]
    fn heap_emptied(&mut self) {
        if self.stats.segments > 1 {
            self.release_empty_slabs();
        }
    }

    /// Releases the empty slabs kept as each class's last one. O(classes).
    #[cold]
    fn release_empty_slabs(&mut self) {
        if self.releasing_slabs {
            return;
        }
        self.releasing_slabs = true;
        for cls in 0..CLASS_COUNT {
            let s = self.partial[cls];
            // SAFETY: list heads are live slabs; an empty one is alone in its
            // list (others are released as soon as they empty).
            unsafe {
                if !s.is_null() && (*s).used == 0 {
                    self.release_slab(s);
                }
            }
        }
        self.releasing_slabs = false;
    }

    /// Gives an empty slab's pages back to the TLSF.
    unsafe fn release_slab(&mut self, slab: *mut Slab) {
        // SAFETY: `slab` is live, empty and in its partial list.
        unsafe {
            let cls = (*slab).class as usize;
            let (next, prev) = ((*slab).next, (*slab).prev);
            if !next.is_null() {
                (*next).prev = prev;
            }
            if prev.is_null() {
                self.partial[cls] = next;
            } else {
                (*prev).next = next;
            }
            let pages = (*slab).pages as usize;
            let block = Slab::block(slab);
            self.pagemap
                .set(block as usize, pages, |_| pagemap::SEGMENT);
            self.stats.slabs -= 1;
            self.stats.slab_bytes -= pages * PAGE_SIZE;
            self.free_medium(block.cast());
        }
    }

    /// Frees a used TLSF block and gives its segment back if it became empty
    /// (keeping one empty segment as a spare).
    unsafe fn free_medium(&mut self, b: *mut BlockHdr) {
        // SAFETY: `b` is a used block of a live segment.
        unsafe {
            let m = self.tlsf.free(b);
            if !(*m).prev_phys.is_null() || !(*BlockHdr::next(m)).is_sentinel() {
                return;
            }
            let seg = Segment::of_first_block(m);
            let spare = self.spare_segment;
            if spare.is_null() || spare == seg || !Segment::is_empty(spare) {
                self.spare_segment = seg;
            } else if (*seg).block.size > (*spare).block.size {
                self.spare_segment = seg;
                self.release_segment(spare);
            } else {
                self.release_segment(seg);
            }
            // The heap is shrinking: kept empty slabs may pin other segments.
            // Last, because releasing them can empty (and release) segments,
            // `seg` included.
            self.release_empty_slabs();
        }
    }

    fn add_segment(&mut self, need: usize) -> Option<()> {
        if self.single_size != 0 {
            return self.add_single_block();
        }
        let gran = self.source.granularity().max(PAGE_SIZE);
        let min = need
            .checked_add(SEG_HDR + HDR)?
            .checked_add(self.tunables.top_pad)?
            .checked_next_multiple_of(gran)?;
        let grown = self
            .segment_bytes
            .clamp(SEGMENT_MIN, SEGMENT_MAX)
            .next_multiple_of(gran);
        let mut size = min.max(grown);
        // Near the limit, or when the system refuses, try smaller segments
        // (halving down to the minimum) rather than falling straight to the
        // minimum, which would make one block per allocation.
        let limit = self.tunables.limit;
        if limit != 0 {
            let room = limit.saturating_sub(self.stats.reserved) / gran * gran;
            size = size.min(room.max(min));
        }
        let block = loop {
            if let Some(b) = self.acquire(size, BlockKind::Segment) {
                break b;
            }
            if size == min {
                return None;
            }
            size = (size / 2).next_multiple_of(gran).max(min);
        };
        self.install_segment(block);
        Some(())
    }

    /// Single-block mode: obtains the one block (its first pages hold the
    /// page map's nodes, the rest is the only segment). Fails once it exists.
    #[cold]
    fn add_single_block(&mut self) -> Option<()> {
        if self.single.is_some() {
            return None;
        }
        let gran = self.source.granularity().max(PAGE_SIZE);
        let size = self.single_size.checked_next_multiple_of(gran)?;
        let block = self
            .source
            .acquire(size, PAGE_SIZE, BlockKind::Segment)
            .ok()?;
        let base = block.base.as_ptr() as usize;
        let meta = pagemap::PageMap::nodes_bytes(base, size).next_multiple_of(PAGE_SIZE);
        if meta + SEGMENT_MIN > size {
            // SAFETY: the block was just acquired and is unused.
            unsafe { self.source.release(block) };
            return None;
        }
        self.pagemap.seed(base, meta);
        if self.pagemap.reserve(&mut self.source, base, size).is_err() {
            // SAFETY: as above.
            unsafe { self.source.release(block) };
            return None;
        }
        self.single = Some(block);
        self.note_acquired(block, BlockKind::Segment);
        // `reserved` counts the whole block; `check` finds it as the
        // segment plus the meta bytes `seed` recorded.
        // SAFETY: `meta < size`, so the rest of the block is non-empty.
        let rest = unsafe { NonNull::new_unchecked((base + meta) as *mut u8) };
        self.install_segment(Block {
            base: rest,
            size: size - meta,
            handle: block.handle,
        });
        Some(())
    }

    /// Makes `block` a segment: header, page-map entries, one free block.
    fn install_segment(&mut self, block: Block) {
        let base = block.base.as_ptr();
        let seg = base.cast::<Segment>();
        self.pagemap
            .set(base as usize, block.size / PAGE_SIZE, |_| pagemap::SEGMENT);
        // SAFETY: the block is fresh, writable and large enough for the
        // header, one minimum block and the sentinel.
        unsafe {
            seg.write(Segment {
                block,
                next: self.segments,
                prev: ptr::null_mut(),
            });
            if !self.segments.is_null() {
                (*self.segments).prev = seg;
            }
            self.tlsf
                .add_region(base.add(SEG_HDR), block.size - SEG_HDR);
        }
        self.segments = seg;
        self.segment_bytes += block.size;
        self.stats.segments += 1;
    }

    /// Puts the heap in single-block mode: on first use it obtains one block
    /// of `size` bytes and serves every allocation from it (large ones
    /// included); it never obtains another block nor gives that one back.
    /// For programs (vitaGL) that map the heap's memory for the GPU once.
    /// Returns false, changing nothing, if the heap already holds memory.
    pub fn set_single_block(&mut self, size: usize) -> bool {
        if self.stats.reserved != 0 || size == 0 {
            return false;
        }
        self.single_size = size;
        true
    }

    /// Installs `hook` (with `user`, passed back on every call) and calls it
    /// with [`BLOCK_ACQUIRED`] for every block the heap already holds, so a
    /// program installing it late still sees them all. O(blocks held).
    pub fn set_block_hook(&mut self, hook: BlockHook, user: *mut core::ffi::c_void) {
        self.block_hook = hook;
        self.hook_user = user;
        if hook.is_none() {
            return;
        }
        // SAFETY: every list walked holds live structures of this heap.
        unsafe {
            let mut c = self.pagemap.chunks;
            while !c.is_null() {
                self.notify(BLOCK_ACQUIRED, (*c).block, BlockKind::Meta);
                c = (*c).next;
            }
            if let Some(b) = self.single {
                self.notify(BLOCK_ACQUIRED, b, BlockKind::Segment);
            } else {
                let mut seg = self.segments;
                while !seg.is_null() {
                    self.notify(BLOCK_ACQUIRED, (*seg).block, BlockKind::Segment);
                    seg = (*seg).next;
                }
            }
            let mut l = self.large;
            while !l.is_null() {
                self.notify(BLOCK_ACQUIRED, (*l).block, BlockKind::Large);
                l = (*l).next;
            }
        }
        if let Some(b) = self.spare_large {
            self.notify(BLOCK_ACQUIRED, b, BlockKind::Large);
        }
    }

    fn notify(&self, event: core::ffi::c_int, block: Block, kind: BlockKind) {
        if let Some(hook) = self.block_hook {
            let info = BlockInfo {
                base: block.base.as_ptr().cast(),
                size: block.size,
                mem_type: self.source.mem_type(),
                uid: block.handle as i32,
                kind: match kind {
                    BlockKind::Segment => 0,
                    BlockKind::Large => 1,
                    BlockKind::Meta => 2,
                },
            };
            // SAFETY: the hook was installed by the program for this purpose.
            unsafe { hook(event, &info, self.hook_user) };
        }
    }

    /// Accounts for (and reports) a block just obtained from the source.
    fn note_acquired(&mut self, block: Block, kind: BlockKind) {
        self.stats.reserved += block.size;
        self.stats.source_blocks += 1;
        if self.stats.reserved > self.stats.reserved_peak {
            self.stats.reserved_peak = self.stats.reserved;
        }
        self.notify(BLOCK_ACQUIRED, block, kind);
    }

    unsafe fn release_segment(&mut self, seg: *mut Segment) {
        // SAFETY: `seg` is a live, empty segment in the list.
        unsafe {
            self.tlsf.remove_region(Segment::first_block(seg));
            let (next, prev, block) = ((*seg).next, (*seg).prev, (*seg).block);
            if !next.is_null() {
                (*next).prev = prev;
            }
            if prev.is_null() {
                self.segments = next;
            } else {
                (*prev).next = next;
            }
            if self.spare_segment == seg {
                self.spare_segment = ptr::null_mut();
            }
            self.segment_bytes -= block.size;
            self.stats.segments -= 1;
            self.pagemap
                .set(block.base.as_ptr() as usize, block.size / PAGE_SIZE, |_| {
                    pagemap::NONE
                });
            self.release(block, BlockKind::Segment);
        }
    }

    /// A block from the source within the limit, with page-map nodes for it.
    fn acquire(&mut self, size: usize, kind: BlockKind) -> Option<Block> {
        self.try_acquire(size, kind).or_else(|| {
            if self.reclaim() {
                self.try_acquire(size, kind)
            } else {
                None
            }
        })
    }

    fn try_acquire(&mut self, size: usize, kind: BlockKind) -> Option<Block> {
        let limit = self.tunables.limit;
        if limit != 0 && self.stats.reserved.checked_add(size)? > limit {
            return None;
        }
        let block = self.source.acquire(size, PAGE_SIZE, kind).ok()?;
        let meta_blocks = self.pagemap.meta_blocks;
        let mapped =
            self.pagemap
                .reserve(&mut self.source, block.base.as_ptr() as usize, block.size);
        if self.pagemap.meta_blocks != meta_blocks {
            // SAFETY: `reserve` obtains at most one meta block, the newest.
            let chunk = unsafe { (*self.pagemap.chunks).block };
            self.note_acquired(chunk, BlockKind::Meta);
        }
        if mapped.is_err() {
            // SAFETY: the block was just acquired and is unused.
            unsafe { self.source.release(block) };
            return None;
        }
        self.note_acquired(block, kind);
        Some(block)
    }

    unsafe fn release(&mut self, block: Block, kind: BlockKind) {
        self.notify(BLOCK_RELEASED, block, kind);
        self.stats.reserved -= block.size;
        self.stats.source_blocks -= 1;
        // SAFETY: the caller no longer uses the block.
        unsafe { self.source.release(block) };
    }

    fn alloc_large(&mut self, size: usize, align: usize) -> *mut u8 {
        let gran = self.source.granularity().max(PAGE_SIZE);
        let Some(bytes) =
            large::block_bytes(size, align).and_then(|b| b.checked_next_multiple_of(gran))
        else {
            return ptr::null_mut();
        };
        let block = match self.spare_large {
            Some(b) if b.size >= bytes && b.size / 2 <= bytes => {
                self.spare_large = None;
                b
            }
            _ => match self.acquire(bytes, BlockKind::Large) {
                Some(b) => b,
                None => {
                    // The cached spare may be what stands between us and
                    // the limit or the kernel's budget: drop it and retry.
                    let Some(spare) = self.spare_large.take() else {
                        return ptr::null_mut();
                    };
                    // SAFETY: the spare is an unused block from the source.
                    unsafe { self.release(spare, BlockKind::Large) };
                    match self.acquire(bytes, BlockKind::Large) {
                        Some(b) => b,
                        None => return ptr::null_mut(),
                    }
                }
            },
        };
        // SAFETY: `block` is unused and big enough for the layout.
        unsafe {
            let l = LargeHdr::init(block, align);
            self.pagemap
                .set(block.base.as_ptr() as usize, (*l).marked_pages(), |_| {
                    pagemap::LARGE
                });
            (*l).next = self.large;
            if !self.large.is_null() {
                (*self.large).prev = l;
            }
            self.large = l;
            self.stats.large_blocks += 1;
            self.note_alloc((*l).usable());
            (*l).user
        }
    }

    unsafe fn free_large(&mut self, l: *mut LargeHdr) {
        // SAFETY: `l` is a live large block in the list.
        unsafe {
            let (next, prev, block) = ((*l).next, (*l).prev, (*l).block);
            if !next.is_null() {
                (*next).prev = prev;
            }
            if prev.is_null() {
                self.large = next;
            } else {
                (*prev).next = next;
            }
            self.stats.large_blocks -= 1;
            self.pagemap
                .set(block.base.as_ptr() as usize, (*l).marked_pages(), |_| {
                    pagemap::NONE
                });
            if self.spare_large.is_none() && block.size <= self.tunables.trim_threshold {
                self.spare_large = Some(block);
            } else {
                self.release(block, BlockKind::Large);
            }
        }
    }

    // ----- the rest of the API ----------------------------------------------

    /// Allocates `size` bytes aligned to `align` (a power of two); null when
    /// out of memory. Wastes at most `align` bytes beyond the request. O(1).
    pub fn memalign(&mut self, align: usize, size: usize) -> *mut u8 {
        debug_assert!(align.is_power_of_two());
        if align <= MIN_ALIGN {
            return self.malloc(size);
        }
        self.stats.malloc_calls += 1;
        self.malloc_slow(size, align)
    }

    /// Usable bytes of the live allocation at `p` (0 for null). O(1).
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    pub unsafe fn usable_size(&self, p: *mut u8) -> Result<usize, Misuse> {
        if p.is_null() {
            return Ok(0);
        }
        // SAFETY: `owner` returns live structures.
        unsafe {
            Ok(match self.owner(p)? {
                Owner::Small(slab) => {
                    let size = (*slab).obj_size();
                    if (*slab).index_of(p).is_none() {
                        return Err(Misuse::InvalidPointer);
                    }
                    size
                }
                Owner::Medium(b) => (*b).size() - HDR,
                Owner::Large(l) => (*l).usable(),
            })
        }
    }

    /// Resizes the allocation at `p` to `size` bytes, in place when it can.
    /// Null `p` allocates; `size` 0 shrinks to the smallest allocation
    /// (newlib's behaviour: the result is a unique, non-null pointer). On
    /// failure returns null and leaves `p` intact.
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    pub unsafe fn realloc(&mut self, p: *mut u8, size: usize) -> Result<*mut u8, Misuse> {
        if p.is_null() {
            return Ok(self.malloc(size));
        }
        self.stats.realloc_calls += 1;
        // SAFETY: `owner` returns live structures; copies stay within the
        // smaller of the two allocations.
        unsafe {
            let old = match self.owner(p)? {
                Owner::Small(slab) => {
                    let have = (*slab).obj_size();
                    if (*slab).index_of(p).is_none() {
                        return Err(Misuse::InvalidPointer);
                    }
                    if size <= have
                        && (size > SMALL_MAX / 2 || small::class_of(size) == (*slab).class as usize)
                    {
                        return Ok(p);
                    }
                    have
                }
                Owner::Medium(b) => {
                    let have = (*b).size() - HDR;
                    if size < self.tunables.large_threshold {
                        let Some(bs) = tlsf::block_size(size) else {
                            return Ok(self.fail());
                        };
                        if bs <= (*b).size() {
                            self.tlsf.shrink(b, bs);
                            self.stats.in_use -= have - ((*b).size() - HDR);
                            return Ok(p);
                        }
                        if self.tlsf.grow(b, bs) {
                            self.note_resize(have, (*b).size() - HDR);
                            return Ok(p);
                        }
                    }
                    have
                }
                Owner::Large(l) => {
                    let have = (*l).usable();
                    if size <= have && size >= have / 2 {
                        return Ok(p);
                    }
                    have
                }
            };
            let q = self.alloc(size);
            if q.is_null() {
                if size <= old {
                    // A shrink that could not move to a tighter block keeps
                    // the one it has: shrinking never fails.
                    self.stats.failed_calls -= 1;
                    return Ok(p);
                }
                return Ok(q);
            }
            ptr::copy_nonoverlapping(p, q, old.min(size));
            self.dealloc(p)?;
            Ok(q)
        }
    }

    /// Counts a call that failed for lack of memory before reaching the
    /// heap (a size that overflows while the caller computes it).
    pub fn count_failure(&mut self) {
        self.stats.failed_calls += 1;
    }

    fn fail(&mut self) -> *mut u8 {
        self.stats.failed_calls += 1;
        ptr::null_mut()
    }

    fn note_resize(&mut self, old: usize, new: usize) {
        self.stats.in_use = self.stats.in_use - old + new;
        if self.stats.in_use > self.stats.in_use_peak {
            self.stats.in_use_peak = self.stats.in_use;
        }
    }

    /// Gives back to the source everything cached and empty: the spare
    /// segment, empty slabs kept per class, the spare large block. Returns
    /// whether anything was released. O(classes + segments).
    pub fn trim(&mut self, pad: usize) -> bool {
        let before = self.stats.reserved;
        self.release_empty_slabs();
        if let Some(b) = self.spare_large.take() {
            // SAFETY: the spare is unused.
            unsafe { self.release(b, BlockKind::Large) };
        }
        // Only the spare can be empty: every other segment is given back the
        // moment it empties.
        let spare = self.spare_segment;
        // SAFETY: a non-null spare is a live segment.
        unsafe {
            if self.single.is_none()
                && !spare.is_null()
                && Segment::is_empty(spare)
                && (*spare).block.size > pad
            {
                self.release_segment(spare);
            }
        }
        self.stats.reserved < before
    }

    /// The `mallinfo` view. O(1).
    pub fn mallinfo(&self) -> MallInfo {
        let s = &self.stats;
        let large_bytes = s.reserved - self.segment_bytes - self.pagemap.meta_bytes;
        let spare_seg = self.spare_segment;
        // SAFETY: a non-null spare is a live segment.
        let spare = unsafe {
            if !spare_seg.is_null() && Segment::is_empty(spare_seg) {
                (*spare_seg).block.size
            } else {
                0
            }
        };
        MallInfo {
            arena: self.segment_bytes,
            ordblks: self.tlsf.free_blocks,
            smblks: s.slabs,
            hblks: s.large_blocks,
            hblkhd: large_bytes,
            usmblks: s.reserved_peak,
            fsmblks: s.slab_bytes,
            uordblks: s.in_use,
            fordblks: self.tlsf.free_bytes,
            keepcost: spare + self.spare_large.map_or(0, |b| b.size),
        }
    }
}
