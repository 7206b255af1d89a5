//! What the unit tests of the heap (`heap/tests.rs`) and of the debug layer
//! (`debug/tests.rs`) share: a locked heap over `mmap`, or under Miri
//! (which has no `mmap` with partial `munmap`) over an arena buffer the test
//! owns, and the Miri-sized case counts.

#[cfg(not(miri))]
use crate::source::MmapSource;
use crate::source::{ArenaSource, BlockSource};
use std::boxed::Box;

/// The source of the tests' heaps: `mmap`, or an arena under Miri.
#[cfg(not(miri))]
pub type Src = MmapSource;
/// The source of the tests' heaps: `mmap`, or an arena under Miri.
#[cfg(miri)]
pub type Src = ArenaSource;

/// A test's heap and the arena buffer it may use, freed after the heap (so
/// Miri's leak check stays on).
pub struct TestHeap<S: BlockSource = Src> {
    heap: Box<crate::Allocator<S>>,
    /// Owned (empty when the heap is over `mmap`); a raw pointer, so moving
    /// the heap never retags the buffer the arena's blocks point into.
    arena: *mut [u8],
}

impl<S: BlockSource> core::ops::Deref for TestHeap<S> {
    type Target = crate::Allocator<S>;
    fn deref(&self) -> &Self::Target {
        &self.heap
    }
}

impl<S: BlockSource> Drop for TestHeap<S> {
    fn drop(&mut self) {
        if !self.arena.is_empty() {
            // SAFETY: `arena` came from `Box::into_raw` in `arena_heap`, and
            // the heap over it is never used again (`heap` is dropped after
            // this, and has no drop glue touching its memory).
            drop(unsafe { Box::from_raw(self.arena) });
        }
    }
}

/// A heap over an arena of `bytes`.
pub fn arena_heap(bytes: usize) -> TestHeap<ArenaSource> {
    let arena = Box::into_raw(std::vec![0u8; bytes].into_boxed_slice());
    // SAFETY: the buffer is owned by the returned `TestHeap` and outlives
    // every use of the arena.
    let src = unsafe { ArenaSource::new(arena.cast::<u8>(), bytes) };
    TestHeap {
        heap: Box::new(crate::Allocator::new(src)),
        arena,
    }
}

/// A heap over `mmap`; under Miri, over an arena of `miri_bytes` (enough
/// for the peak of the tests that use it).
#[cfg(not(miri))]
pub fn heap(_miri_bytes: usize) -> TestHeap {
    TestHeap {
        heap: Box::new(crate::Allocator::new(MmapSource::new())),
        arena: core::ptr::slice_from_raw_parts_mut(core::ptr::null_mut(), 0),
    }
}

/// A heap over `mmap`; under Miri, over an arena of `miri_bytes` (enough
/// for the peak of the tests that use it).
#[cfg(miri)]
pub fn heap(miri_bytes: usize) -> TestHeap {
    arena_heap(miri_bytes)
}

/// `n`, or `small` under Miri (which runs a thousand times slower).
pub const fn miri_or(n: usize, small: usize) -> usize {
    if cfg!(miri) { small } else { n }
}
