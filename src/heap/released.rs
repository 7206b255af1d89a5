//! The address ranges the heap gave back to its source most recently
//! (segments and large blocks), so that a pointer into one -- typically a
//! block freed twice after its memory went back -- is reported as a double
//! free rather than as a pointer vitalloc never returned.
//!
//! Invariant: no range overlaps a block the heap holds now (a range is
//! forgotten when the source hands its memory out again). Only the error
//! path reads it; it is written under the heap's lock when a block is
//! released or obtained, never on a fast path. A range the system gives to
//! someone else (a texture's memblock) stays until it is pushed out: a free
//! of a pointer into that is then called a double free -- still a misuse,
//! and still reported.

use super::config::RELEASED_KEPT;

/// The last [`RELEASED_KEPT`] released ranges, oldest overwritten first.
pub struct Released {
    ranges: [(usize, usize); RELEASED_KEPT],
    next: usize,
}

impl Released {
    /// No ranges.
    pub const fn new() -> Self {
        Released {
            ranges: [(0, 0); RELEASED_KEPT],
            next: 0,
        }
    }

    /// Remembers `[base, base + size)`, given back just now.
    pub fn note(&mut self, base: usize, size: usize) {
        self.ranges[self.next] = (base, base + size);
        self.next = (self.next + 1) % RELEASED_KEPT;
    }

    /// Forgets every range overlapping `[base, base + size)`, which the
    /// heap holds again.
    pub fn reused(&mut self, base: usize, size: usize) {
        for r in self.ranges.iter_mut() {
            if r.0 < base + size && base < r.1 {
                *r = (0, 0);
            }
        }
    }

    /// Whether `p` lies in a remembered range.
    pub fn contains(&self, p: usize) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= p && p < hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_ranges_and_forgets_reused_ones() {
        let mut r = Released::new();
        assert!(!r.contains(0));
        r.note(0x1000, 0x2000);
        assert!(r.contains(0x1000) && r.contains(0x2fff) && !r.contains(0x3000));
        r.reused(0x2000, 0x1000);
        assert!(!r.contains(0x1000));
        for i in 0..RELEASED_KEPT + 1 {
            r.note(0x10_0000 * (i + 1), 0x1000);
        }
        assert!(!r.contains(0x10_0000), "the oldest was overwritten");
        assert!(r.contains(0x20_0000) && r.contains(0x10_0000 * (RELEASED_KEPT + 1)));
    }
}
