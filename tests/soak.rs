//! Soak, part 1: a long run of random operations on the per-thread heap
//! against the shadow model (`tests/model/mod.rs`, shared with the fuzz
//! target), `check()` and the statistics compared every `SOAK_CHECK_EVERY`
//! operations. `SOAK_OPS` sets the length: a few hundred thousand in the
//! ordinary test run (so the model and this driver keep working), 10^8 in
//! `make soak`. Prints operations, time, operations per second and checks.

mod common;
mod model;

use common::{env, next};
use model::{Mix, Model, Op};
use std::time::Instant;
use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};

static HEAP: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());

#[test]
fn random_operations_against_the_model() {
    let ops = env("SOAK_OPS", 300_000);
    let every = env("SOAK_CHECK_EVERY", 65_536).max(1);
    let mut seed = env("SOAK_SEED", 0x00C0_FFEE).max(1);
    let mix = Mix::SOAK;
    let mut model = Model::new(&HEAP, mix.threads);
    let start = Instant::now();
    for i in 1..=ops {
        let op = Op::decode(&mix, || next(&mut seed));
        model.apply(op, mix.max_live, i % every == 0);
    }
    model.finish();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(model.ops, ops);
    assert!(model.checks >= ops / every);
    println!(
        "soak: {ops} operations in {secs:.1} s ({:.0} ops/s), {} checks, all passed",
        ops as f64 / secs,
        model.checks
    );
    HEAP.trim(0);
    assert_eq!(HEAP.check(), Ok(()));
    assert_eq!(HEAP.stats().allocations, 0);
}
