//! Size classes: which object size serves a request, and how many pages a
//! span of each class takes.
//!
//! ```text
//!  sizes:  MIN_ALIGN, 2*MIN_ALIGN, ... 64 | 80 96 112 128 | 160 ... 256 | ... | ... SMALL_MAX
//!          (one step of MIN_ALIGN)        (four classes per doubling: at most 25 % rounding)
//!  class_of(size <= DIRECT_MAX) = CLASS_OF[(size + 7) / 8]      one load
//!  class_of(larger)             = from the position of the top bit  a few ALU ops
//! ```
//! A span of a class up to 1 KiB is one page; above, it is the fewest pages (at most [`SPAN_MAX_PAGES`]) whose
//! tail left over after the last object is at most 1/16 of the span, or the
//! page count with the smallest tail if none is that good. Nothing here
//! touches memory: the tables are computed at compile time.

use super::config::{DIRECT_MAX, MIN_ALIGN, PAGE_SIZE, SMALL_MAX, SPAN_MAX_PAGES};

const fn build_sizes() -> ([u32; 64], usize) {
    let mut sizes = [0u32; 64];
    let mut n = 0;
    // Two words minimum: a free object holds its link and the double-free mark.
    let mut s = 2 * size_of::<usize>();
    s = if s < MIN_ALIGN { MIN_ALIGN } else { s };
    while s <= 64 {
        sizes[n] = s as u32;
        n += 1;
        s += MIN_ALIGN;
    }
    let mut base = 64;
    while base < SMALL_MAX {
        let step = base / 4;
        let mut k = 1;
        while k <= 4 {
            sizes[n] = (base + k * step) as u32;
            n += 1;
            k += 1;
        }
        base *= 2;
    }
    (sizes, n)
}

const SIZES: ([u32; 64], usize) = build_sizes();
/// Number of size classes.
pub const CLASS_COUNT: usize = SIZES.1;
/// Classes of the one-step part (up to 64 bytes).
const LINEAR_CLASSES: usize = 64 / MIN_ALIGN - FIRST_SKIP;
/// Linear classes below the two-word minimum that do not exist.
const FIRST_SKIP: usize = (2 * size_of::<usize>()).div_ceil(MIN_ALIGN) - 1;

/// Object size of each class.
pub static CLASS_SIZE: [u32; CLASS_COUNT] = {
    let mut t = [0u32; CLASS_COUNT];
    let mut i = 0;
    while i < CLASS_COUNT {
        t[i] = SIZES.0[i];
        i += 1;
    }
    t
};

/// [`recip`] of each class's object size: a table, since the A9 has no
/// divide instruction and `recip` at run time is a 64-bit division in
/// libgcc (measured: 12 % of the ARM `frag` workload's instructions).
pub static CLASS_RECIP: [u32; CLASS_COUNT] = {
    let mut t = [0u32; CLASS_COUNT];
    let mut i = 0;
    while i < CLASS_COUNT {
        t[i] = recip(SIZES.0[i] as usize);
        i += 1;
    }
    t
};

/// Pages of a span of each class.
pub static CLASS_PAGES: [u8; CLASS_COUNT] = {
    let mut t = [0u8; CLASS_COUNT];
    let mut i = 0;
    while i < CLASS_COUNT {
        t[i] = span_pages(SIZES.0[i] as usize) as u8;
        i += 1;
    }
    t
};

const fn span_pages(size: usize) -> usize {
    // Up to 1 KiB a span is one page, whatever its tail (at most 1/8): a
    // thread touching a class costs one page, not up to eight.
    if size <= 1024 {
        return 1;
    }
    let (mut best, mut best_tail_frac) = (SPAN_MAX_PAGES, usize::MAX);
    let mut n = 1;
    while n <= SPAN_MAX_PAGES {
        let bytes = n * PAGE_SIZE;
        if bytes >= size {
            let tail = bytes % size;
            if tail * 16 <= bytes {
                return n;
            }
            // Compare tail/bytes as fractions scaled to 2^20.
            let frac = (tail << 20) / bytes;
            if frac < best_tail_frac {
                best = n;
                best_tail_frac = frac;
            }
        }
        n += 1;
    }
    best
}

/// Class of a request, indexed by `(size + 7) / 8` for sizes up to DIRECT_MAX.
static CLASS_OF: [u8; DIRECT_MAX / 8 + 1] = {
    let mut t = [0u8; DIRECT_MAX / 8 + 1];
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

/// Index of the first class of the four-per-doubling part (size 80 or 64+16).
const GEOMETRIC_BASE: usize = LINEAR_CLASSES;

/// The class serving a request of `size` bytes (`size <= SMALL_MAX`).
#[inline(always)]
pub fn class_of(size: usize) -> usize {
    if size <= DIRECT_MAX {
        CLASS_OF[(size + 7) >> 3] as usize
    } else {
        class_of_large(size)
    }
}

/// `class_of` above DIRECT_MAX: the top bit gives the doubling, the next
/// two bits the quarter.
#[inline(always)]
fn class_of_large(size: usize) -> usize {
    let s = size - 1;
    let top = (usize::BITS - 1 - s.leading_zeros()) as usize; // 2^top <= s
    let quarter = (s >> (top - 2)) & 3;
    // 64 = 2^6 is the base of the first geometric doubling.
    GEOMETRIC_BASE + (top - 6) * 4 + quarter
}

/// Bytes of a span of class `cls`.
#[inline(always)]
pub fn span_bytes(cls: usize) -> usize {
    CLASS_PAGES[cls] as usize * PAGE_SIZE
}

/// Objects in a span of class `cls` of its base size (tests; a span
/// records its own capacity, since spans grow).
#[cfg(test)]
pub fn capacity(cls: usize) -> usize {
    span_bytes(cls) / CLASS_SIZE[cls] as usize
}

/// The multiplier that tells object starts from other offsets: an offset
/// `off` into a span's objects (see `Span::start`) is the start of an
/// object iff the low 32 bits of `off * recip(size)` are below 2^16. Exact
/// for spans of at most 32 KiB (every offset is below 2^15) and sizes of at
/// most 32 KiB, and also rejects offsets that wrapped below the first
/// object (the checks are in the tests).
pub const fn recip(size: usize) -> u32 {
    (1u64 << 32).div_ceil(size as u64) as u32
}

/// Whether `off` (wrapping, 32 bits) is an object start for `recip`.
#[inline(always)]
pub fn is_object_start(off: usize, recip: u32) -> bool {
    (off as u32).wrapping_mul(recip) < 1 << 16
}

/// The smallest class at or above `class_of(size)` whose objects are all
/// aligned to `align` (given that spans start on a page boundary), or None.
pub fn aligned_class(size: usize, align: usize) -> Option<usize> {
    if align > PAGE_SIZE || size > SMALL_MAX {
        return None;
    }
    // Objects sit at `span end - k * size`; a span's end is a page boundary,
    // so a size that is a multiple of `align` (<= PAGE_SIZE) aligns them all,
    // whatever the span's length.
    (class_of(size)..CLASS_COUNT).find(|&c| CLASS_SIZE[c] as usize % align == 0)
}

const _: () = assert!(CLASS_COUNT <= 64 && SPAN_MAX_PAGES * PAGE_SIZE <= 1 << 15);
const _: () = assert!(SIZES.0[GEOMETRIC_BASE] as usize == 80);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size; under Miri (a thousand times slower, and checking
    /// memory safety, not arithmetic) every 13th size and each class edge.
    fn small_sizes() -> impl Iterator<Item = usize> {
        let step = if cfg!(miri) { 13 } else { 1 };
        let edges = CLASS_SIZE
            .iter()
            .filter(|_| cfg!(miri))
            .flat_map(|&s| [s as usize, s as usize + 1]);
        (0..=SMALL_MAX)
            .step_by(step)
            .chain(edges.filter(|&s| s <= SMALL_MAX))
    }

    #[test]
    fn classes_cover_every_small_size() {
        for size in small_sizes() {
            let c = class_of(size);
            assert!(c < CLASS_COUNT, "size {size}");
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
    fn spans_are_sane() {
        for (c, &size) in CLASS_SIZE.iter().enumerate() {
            let pages = CLASS_PAGES[c] as usize;
            assert!((1..=SPAN_MAX_PAGES).contains(&pages));
            assert!(capacity(c) >= 1);
            let tail = span_bytes(c) - capacity(c) * size as usize;
            assert!(
                tail * 8 <= span_bytes(c),
                "class {c} ({size} B) wastes {tail} of {pages} pages"
            );
            if size as usize <= 1024 {
                assert_eq!(pages, 1, "class {c}");
            }
        }
    }

    #[test]
    fn object_start_test_is_exact() {
        for (c, &size) in CLASS_SIZE.iter().enumerate() {
            let size = size as usize;
            let r = recip(size);
            let bytes = span_bytes(c);
            let tail = bytes - capacity(c) * size;
            // Offsets from the first object (which sits after the tail),
            // including the tail before it (wrapped). Under Miri only the
            // tail and the bytes around each object's start.
            let near_starts = (0..capacity(c)).flat_map(|k| {
                let start = tail + k * size;
                [start.saturating_sub(1), start, start + 1]
            });
            let all: &mut dyn Iterator<Item = usize> = if cfg!(miri) {
                &mut (0..=tail).chain(near_starts).filter(|&p| p < bytes)
            } else {
                &mut (0..bytes)
            };
            for pos in all {
                let off = pos.wrapping_sub(tail);
                let want = pos >= tail && (pos - tail) % size == 0;
                assert_eq!(is_object_start(off, r), want, "class {c} pos {pos}");
            }
        }
    }

    #[test]
    fn aligned_classes_align() {
        for align in [16, 32, 64, 128, 256, 512, 1024, 2048, 4096] {
            for size in [1, 17, 100, 1000, 5000] {
                if let Some(c) = aligned_class(size, align) {
                    let d = CLASS_SIZE[c] as usize;
                    assert!(d >= size && d % align == 0);
                }
            }
        }
        assert!(aligned_class(10, 4096).is_some());
    }
}
