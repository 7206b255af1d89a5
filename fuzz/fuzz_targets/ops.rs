//! Fuzz target `ops`: the input is a sequence of allocator operations
//! (malloc, memalign up to 4 MiB alignment, realloc, free, usable_size,
//! frees and reallocs on another thread, short-lived threads that exit with
//! blocks live, trim; sizes from 0 to 6 MiB) run against the shadow model
//! of `tests/model/mod.rs`, with `check()` and the statistics compared
//! after every step. The heap is the per-thread allocator over `mmap`, as
//! the host C library uses it; it lives for the whole fuzzing run, so state
//! left by one input (cached spans, spare segments, dead threads' spans)
//! meets the next.
#![no_main]

#[path = "../../tests/model/mod.rs"]
mod model;

use libfuzzer_sys::fuzz_target;
use model::Model;
use std::cell::RefCell;
use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};

static HEAP: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());

thread_local! {
    /// One model (and one worker thread) for the whole run: every input
    /// ends with all its blocks freed, so the next starts from an empty
    /// model on a used heap.
    static MODEL: RefCell<Option<Model<Allocator<MmapSource, DefaultLock, true>>>> =
        const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| MODEL.with(|m| model::fuzz_input(m, &HEAP, data)));
