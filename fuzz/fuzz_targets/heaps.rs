//! Fuzz target `heaps`: the operation sequences of `ops` (see
//! `tests/model/mod.rs`) on a heap object (`vitalloc_heap_*`'s
//! `BlockHeap`, every block a slot of a bitmap span, a page run or a
//! block of its own, described out of band) over `mmap`, shared by the fuzzing thread and the model's
//! worker thread under the heap's own lock. The model checks overlap,
//! alignment, usable size, contents kept across realloc, the allocation
//! count and `check()` after every step.
#![no_main]

#[path = "../../tests/model/mod.rs"]
mod model;

use libfuzzer_sys::fuzz_target;
use model::Model;
use std::cell::RefCell;
use vitalloc::{blocks::BlockHeap, source::MmapSource, sync::DefaultLock};

static HEAP: BlockHeap<MmapSource, DefaultLock> = BlockHeap::new(MmapSource::new());

thread_local! {
    /// One model for the whole run, as in `ops`.
    static MODEL: RefCell<Option<Model<BlockHeap<MmapSource, DefaultLock>>>> =
        const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| MODEL.with(|m| model::fuzz_input(m, &HEAP, data)));
