//! `Heap::check`: walks every structure of the heap and verifies every
//! invariant the other modules state. The one operation allowed to be slow
//! (O(heap size)); nothing else may call it on a hot path.

use super::config::{MIN_ALIGN, PAGE_SIZE};
use super::large::LargeHdr;
use super::small::{CLASS_COUNT, Slab};
use super::tlsf::{self, BlockHdr, HDR, MIN_BLOCK};
use super::{Heap, SEG_HDR, Segment, pagemap};
use crate::source::BlockSource;

impl<S: BlockSource> Heap<S> {
    /// Verifies every heap invariant: block chains, free lists and bitmaps,
    /// slabs and their free lists, the page map, the partial lists, the
    /// large-block list and the statistics. Returns a description of the
    /// first violation found. O(size of the heap).
    pub fn check(&self) -> Result<(), &'static str> {
        let free_listed = self.tlsf.check()?;
        let mut in_use = 0usize;
        let mut allocations = 0usize;
        let mut free_seen = 0usize;
        let mut slabs = 0usize;
        let mut seg_bytes = 0usize;
        let mut segments = 0usize;
        let mut seg = self.segments;
        let mut prev_seg: *mut Segment = core::ptr::null_mut();
        // SAFETY: the walk follows the lists and block chains the heap keeps;
        // each step is validated before the next pointer is followed.
        unsafe {
            while !seg.is_null() {
                if (*seg).prev != prev_seg {
                    return Err("segment list links are broken");
                }
                let base = (*seg).block.base.as_ptr() as usize;
                let end = base + (*seg).block.size;
                for page in (base..end).step_by(PAGE_SIZE) {
                    let e = self.pagemap.get(page);
                    if e != pagemap::SEGMENT && e & pagemap::SLAB == 0 {
                        return Err("page map: a segment page is not marked as one");
                    }
                }
                let mut b = Segment::first_block(seg);
                let mut prev: *mut BlockHdr = core::ptr::null_mut();
                let mut prev_free = false;
                loop {
                    let at = b as usize;
                    if at % MIN_ALIGN != 0 || at + HDR > end {
                        return Err("block chain leaves its segment");
                    }
                    if (*b).prev_phys != prev {
                        return Err("block's prev_phys does not point at its predecessor");
                    }
                    if (*b).is_sentinel() {
                        if at + HDR != end {
                            return Err("sentinel is not at the end of its segment");
                        }
                        break;
                    }
                    let size = (*b).size();
                    if size < MIN_BLOCK || size % MIN_ALIGN != 0 || at + size + HDR > end {
                        return Err("block size is out of range");
                    }
                    let flags = (*b).flags();
                    if flags == tlsf::FREE {
                        if prev_free {
                            return Err("two adjacent free blocks were not merged");
                        }
                        free_seen += 1;
                    } else if flags == tlsf::SLAB {
                        let slab = Slab::of_block(b.cast());
                        Slab::check(slab, self.cookie)?;
                        let pages = (*slab).pages as usize;
                        if at % PAGE_SIZE != 0 || size < pages * PAGE_SIZE {
                            return Err("slab block is misaligned or too small");
                        }
                        for i in 0..pages {
                            if self.pagemap.get(at + i * PAGE_SIZE) != pagemap::SLAB | i as u8 {
                                return Err("page map: slab page marked wrongly");
                            }
                        }
                        if (*slab).in_list && !self.in_partial(slab) {
                            return Err("slab with free objects missing from its partial list");
                        }
                        in_use += (*slab).used as usize * (*slab).obj_size();
                        allocations += (*slab).used as usize;
                        slabs += 1;
                    } else if flags == 0 {
                        if self.pagemap.get(at) != pagemap::SEGMENT {
                            return Err(
                                "page map: a medium block's header page is not a segment page",
                            );
                        }
                        in_use += size - HDR;
                        allocations += 1;
                    } else {
                        return Err("block has impossible flags");
                    }
                    prev_free = flags == tlsf::FREE;
                    prev = b;
                    b = BlockHdr::next(b);
                }
                if base + SEG_HDR != Segment::first_block(seg) as usize {
                    return Err("segment layout is wrong");
                }
                seg_bytes += (*seg).block.size;
                segments += 1;
                prev_seg = seg;
                seg = (*seg).next;
            }
            if free_seen != free_listed {
                return Err("free blocks in segments and in the free lists differ");
            }
            for cls in 0..CLASS_COUNT {
                let mut s = self.partial[cls];
                let mut prev: *mut Slab = core::ptr::null_mut();
                while !s.is_null() {
                    if (*s).prev != prev
                        || (*s).class as usize != cls
                        || !(*s).in_list
                        || (*s).is_full()
                    {
                        return Err("partial list holds a wrong slab or its links are broken");
                    }
                    prev = s;
                    s = (*s).next;
                }
            }
            let mut large = 0usize;
            let mut large_bytes = 0usize;
            let mut l = self.large;
            let mut prev: *mut LargeHdr = core::ptr::null_mut();
            while !l.is_null() {
                let user = (*l).user;
                if (*l).prev != prev || !LargeHdr::is_valid(l, user) {
                    return Err("large-block list is broken");
                }
                let h = BlockHdr::of_user(user);
                if (*h).flags() != tlsf::LARGE || (*h).prev_phys != l.cast() {
                    return Err("large block header is damaged");
                }
                let base = (*l).block.base.as_ptr() as usize;
                for i in 0..(*l).marked_pages() {
                    if self.pagemap.get(base + i * PAGE_SIZE) != pagemap::LARGE {
                        return Err("page map: large block page not marked");
                    }
                }
                in_use += (*l).usable();
                allocations += 1;
                large += 1;
                large_bytes += (*l).block.size;
                prev = l;
                l = (*l).next;
            }
            let spare = self.spare_large.map_or(0, |b| b.size);
            let st = &self.stats;
            if seg_bytes != self.segment_bytes || segments != st.segments {
                return Err("statistics: segment count or bytes are wrong");
            }
            if slabs != st.slabs || large != st.large_blocks {
                return Err("statistics: slab or large-block count is wrong");
            }
            if in_use != st.in_use || allocations != st.allocations {
                return Err("statistics: bytes or allocations in use are wrong");
            }
            if seg_bytes + large_bytes + spare + self.pagemap.meta_bytes != st.reserved {
                return Err("statistics: reserved bytes are wrong");
            }
            let blocks =
                segments + large + self.spare_large.is_some() as usize + self.pagemap.meta_blocks;
            if blocks != st.source_blocks {
                return Err("statistics: source block count is wrong");
            }
            if st.in_use > st.in_use_peak || st.reserved > st.reserved_peak {
                return Err("statistics: a peak is below the current value");
            }
        }
        Ok(())
    }

    fn in_partial(&self, slab: *mut Slab) -> bool {
        // SAFETY: the slab is live; its class's list holds live slabs.
        unsafe {
            let mut s = self.partial[(*slab).class as usize];
            while !s.is_null() {
                if s == slab {
                    return true;
                }
                s = (*s).next;
            }
        }
        false
    }
}
