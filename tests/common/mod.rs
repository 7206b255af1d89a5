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
