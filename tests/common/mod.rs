//! What the soak tests (`tests/soak.rs`, `tests/soak_threads.rs`) share:
//! their settings from the environment and their PRNG.

/// The environment variable `name` as a number, or `default` when it is
/// unset or not a number.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: fast, and the sequence is fixed by the seed (never 0).
pub fn next(s: &mut u64) -> u64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A block handed between threads by the thread tests, with the tag its
/// contents were made from.
// (Not every test binary that includes this module uses the block helpers.)
#[allow(dead_code)]
pub struct Block {
    pub p: *mut u8,
    pub n: usize,
    pub tag: u64,
}
// SAFETY: a block is owned by one thread at a time (moved through channels
// or a locked pool).
unsafe impl Send for Block {}

/// Bytes at the start and at the end of a block that carry its pattern
/// (all of a block up to twice this size): enough to catch a block handed
/// out twice or overwritten by the heap's own links, without turning the
/// tests into memset benchmarks.
#[allow(dead_code)]
pub const PATTERN_BYTES: usize = 128;

/// The tag of a block at `p` with the caller's `id`: the pattern depends on
/// both, so a block given to two owners, or moved without its contents,
/// shows.
#[allow(dead_code)]
pub fn tag_of(p: *mut u8, id: u64) -> u64 {
    let mut s = (p as u64) ^ id.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15;
    next(&mut s)
}

/// The byte at offset `i` of a block tagged `tag`.
#[allow(dead_code)]
fn pattern(tag: u64, i: usize) -> u8 {
    (tag >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(31) ^ (i >> 8) as u8
}

/// The offsets that carry the pattern in a block of `n` bytes.
#[allow(dead_code)]
fn pattern_offsets(n: usize) -> impl Iterator<Item = usize> {
    (0..n.min(PATTERN_BYTES)).chain(n.saturating_sub(PATTERN_BYTES).max(PATTERN_BYTES)..n)
}

/// Writes the pattern of `tag` into the `n` bytes at `p`.
///
/// # Safety
/// `p` is valid for writes of `n` bytes.
#[allow(dead_code)]
pub unsafe fn fill(p: *mut u8, n: usize, tag: u64) {
    for i in pattern_offsets(n) {
        // SAFETY: i < n (the caller's guarantee).
        unsafe { p.add(i).write(pattern(tag, i)) };
    }
}

/// The first offset of the `n` bytes at `p` that does not hold the pattern
/// of `tag`, if any.
///
/// # Safety
/// `p` is valid for reads of `n` bytes.
#[allow(dead_code)]
pub unsafe fn first_bad(p: *const u8, n: usize, tag: u64) -> Option<usize> {
    // SAFETY: i < n (the caller's guarantee).
    pattern_offsets(n).find(|&i| unsafe { p.add(i).read() } != pattern(tag, i))
}
