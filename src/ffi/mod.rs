//! The C ABI: thin wrappers that turn the heap's results into C and POSIX
//! semantics (NULL + `errno`, EINVAL, misuse reports). No allocation logic
//! lives here: every function is one call into [`HEAP`] plus error mapping.
//!
//! - [`api`]: the shared implementations, parameterised by where `errno` goes;
//! - [`prefixed`]: `vitalloc_*` (the documented API of `vitalloc.h`);
//! - [`heaps`]: `vitalloc_heap_*`, heap objects for GPU memory;
//! - [`standard`]: `malloc` & co. and newlib's `_r` entry points, only in the
//!   C library build (feature `c-library`), since they interpose every other
//!   allocator in the program.

pub(crate) mod api;
/// cbindgen:ignore
#[cfg(feature = "debug-heap")]
mod api_debug;
pub mod heaps;
pub mod prefixed;
/// cbindgen:ignore
#[cfg(feature = "c-library")]
mod runtime;
/// cbindgen:ignore
#[cfg(feature = "c-library")]
mod standard;
/// cbindgen:ignore
#[cfg(all(feature = "c-library", target_os = "vita"))]
mod vita_heap;

use crate::Allocator;

#[cfg(all(target_os = "linux", not(target_os = "vita")))]
mod platform {
    pub type Source = crate::source::MmapSource;
    pub type Lock = crate::sync::FutexLock;
    pub const fn source() -> Source {
        crate::source::MmapSource::new()
    }
}

#[cfg(target_os = "vita")]
mod platform {
    pub type Source = crate::source::VitaSource;
    pub type Lock = crate::sync::LwMutexLock;
    pub const fn source() -> Source {
        crate::source::VitaSource::new()
    }
}

/// The process-wide heap behind the C API.
pub static HEAP: Allocator<platform::Source, platform::Lock, true> =
    Allocator::new(platform::source());

/// The debug layer in front of [`HEAP`] (debug build only).
/// cbindgen:ignore
#[cfg(feature = "debug-heap")]
pub static DEBUG: crate::debug::Debug<platform::Lock> = crate::debug::Debug::new();
