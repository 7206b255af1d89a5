//! vitalloc: a memory allocator for PlayStation Vita homebrew.
//!
//! The core ([`heap`]) is `no_std`, platform-agnostic and takes its memory
//! from a [`source::BlockSource`]; [`sync`] puts it behind a lock as
//! [`Allocator`], which implements [`core::alloc::GlobalAlloc`]; `ffi`
//! exports the C malloc family when built as the C library.
#![no_std]
#![cfg_attr(not(test), warn(missing_docs))]

#[cfg(test)]
extern crate std;

pub mod ffi;
mod global;
pub mod heap;
pub mod report;
pub mod source;
pub mod sync;
mod sys;

pub use global::Allocator;
pub use heap::{Heap, Misuse, Stats};
