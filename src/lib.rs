//! vitalloc: a memory allocator for PlayStation Vita homebrew.
//!
//! The core ([`heap`]) is `no_std`, platform-agnostic and takes its memory
//! from a [`source::BlockSource`]; [`front`] gives each thread a heap of
//! its own for small objects; [`Allocator`] puts the shared heap behind a
//! lock ([`sync`]) and implements [`core::alloc::GlobalAlloc`]; `ffi`
//! exports the C malloc family when built as the C library.
#![no_std]
// The Vita build is nightly-only anyway (tier 3, build-std): it reads a
// program's optional `_newlib_heap_size_user` through a weak reference.
#![cfg_attr(target_os = "vita", feature(linkage))]
// The debug build records each block's caller with `return_address!`
// (nightly, as the Vita build already is; see `ffi/api_debug.rs`).
#![cfg_attr(feature = "debug-heap", feature(return_address))]
#![cfg_attr(not(test), warn(missing_docs))]

#[cfg(test)]
extern crate std;

/// cbindgen:ignore
pub mod blocks;
/// cbindgen:ignore
#[cfg(any(test, feature = "debug-heap"))]
pub mod debug;
#[cfg(feature = "c-api")]
pub mod ffi;
pub mod front;
mod global;
pub mod heap;
pub mod report;
pub mod source;
pub mod sync;
/// cbindgen:ignore
mod sys;
#[cfg(test)]
mod testing;

pub use global::Allocator;
pub use heap::{Heap, Misuse, Stats};
