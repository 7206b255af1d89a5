//! `vitalloc_heap_*`: heap objects for GPU memory (CDRAM, physically
//! contiguous or uncached main memory), each a [`BlockHeap`] over memblocks
//! of its type with a lock of its own. Thin: C semantics (NULL + `errno`,
//! misuse reports naming the call, the heap and the address) around one
//! call into the heap; the heap object itself is a block of the main heap.

use crate::blocks::BlockHeap;
use crate::heap::{BlockHook, Misuse, Stats};
use crate::report;
use crate::sys;
use core::ffi::{c_char, c_int, c_void};

#[cfg(target_os = "vita")]
type HeapSource = crate::source::VitaSource;
#[cfg(not(target_os = "vita"))]
type HeapSource = crate::source::MmapSource;

type Object = BlockHeap<HeapSource, super::platform::Lock>;

/// A heap object (`vitalloc_heap_t` in C): opaque.
pub struct VitallocHeap {
    _opaque: [u8; 0],
}

/// How to make a heap object (`vitalloc_heap_config_t` in C). Zero (or
/// NULL) fields mean the default; a NULL config means all defaults.
#[repr(C)]
pub struct HeapConfig {
    /// The memblock type of the heap's memory, one of
    /// `SCE_KERNEL_MEMBLOCK_TYPE_USER_CDRAM_RW` (0x09408060, 256 KiB
    /// granularity), `_USER_MAIN_PHYCONT_RW` (0x0C80D060, 1 MiB),
    /// `_USER_MAIN_PHYCONT_NC_RW` (0x0D808060, 1 MiB), `_USER_RW_UNCACHE`
    /// (0x0C208060, 4 KiB) or `_USER_RW` (0x0C20D060; the default). Other
    /// values fail with EINVAL. On hosts memory comes from `mmap` whatever
    /// the type.
    pub mem_type: u32,
    /// Upper bound on the bytes of the type the heap holds (0: none).
    pub limit: usize,
    /// The first memblock's size (the growth unit; 0: 128 KiB). Later
    /// memblocks grow with the heap, by 1/8 of what it holds, up to 8 MiB;
    /// all rounded up to the type's granularity. Blocks of 1 MiB and more
    /// get a memblock of their own.
    pub growth: usize,
    /// Non-zero: a fixed pool. One memblock of this size (rounded up to
    /// the granularity) is obtained by `vitalloc_heap_create` and serves
    /// every allocation; the heap never obtains another one nor gives it
    /// back before `vitalloc_heap_destroy`.
    pub capacity: usize,
    /// Prefix of the heap's memblock names (NULL: "vitalloc_heap"); the
    /// names are `<prefix>_segment`, `<prefix>_large` and `<prefix>_meta`
    /// (the prefix cut to 22 characters).
    pub name: *const c_char,
    /// Called after the heap obtains a memblock and before it releases one
    /// (NULL: none), with `hook_user`; see `vitalloc_block_hook_t`. Blocks
    /// of kind 2 are the heap's metadata, in `USER_RW` main memory: map only
    /// kinds 0 and 1 for the GPU.
    pub block_hook: BlockHook,
    /// Passed to `block_hook`.
    pub hook_user: *mut c_void,
}

/// The memblock types a heap object accepts (vita-headers' values).
const TYPES: [u32; 5] = [
    0x0C20_D060,
    0x0C20_8060,
    0x0940_8060,
    0x0C80_D060,
    0x0D80_8060,
];

fn object<'a>(h: *mut VitallocHeap) -> Option<&'a Object> {
    // SAFETY: a non-null handle is one `vitalloc_heap_create` returned and
    // `vitalloc_heap_destroy` did not end (the caller's contract).
    (!h.is_null()).then(|| unsafe { &*h.cast::<Object>() })
}

fn checked<T>(r: Result<T, Misuse>, call: &str, h: *mut VitallocHeap, p: *mut c_void) -> T {
    r.unwrap_or_else(|m| report::heap_misuse(call, h as usize, p as usize, m))
}

/// Makes a heap object from `cfg` (NULL: a `USER_RW` heap with every
/// default). Returns NULL with `errno` EINVAL for an unknown memory type,
/// ENOMEM when the object, or the fixed pool's memblock, cannot be had.
/// Its metadata lives in ordinary main memory: nothing of the heap is ever
/// written into the memory it manages. Thread-safe.
///
/// # Safety
/// `cfg` is NULL or valid; its `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_create(cfg: *const HeapConfig) -> *mut VitallocHeap {
    // SAFETY: per the caller.
    let cfg = unsafe { cfg.as_ref() };
    let mem_type = cfg.map_or(0, |c| c.mem_type);
    let mem_type = if mem_type == 0 { TYPES[0] } else { mem_type };
    if !TYPES.contains(&mem_type) {
        sys::set_errno(sys::EINVAL);
        return core::ptr::null_mut();
    }
    let raw = super::HEAP.memalign(align_of::<Object>(), size_of::<Object>());
    if raw.is_null() {
        sys::set_errno(sys::ENOMEM);
        return core::ptr::null_mut();
    }
    let obj = raw.cast::<Object>();
    // SAFETY: a fresh block of the object's size and alignment; the object
    // stays at this address until destroyed (its lock must not move).
    unsafe {
        obj.write(Object::new(source(
            mem_type,
            cfg.map_or(core::ptr::null(), |c| c.name),
        )))
    };
    // SAFETY: just written.
    let o = unsafe { &*obj };
    let ok = o.with(|h| {
        let mut t = h.tunables();
        if let Some(c) = cfg {
            t.limit = c.limit;
            if c.growth != 0 {
                t.segment_min = c.growth;
            }
        }
        h.set_tunables(t);
        if let Some(c) = cfg {
            h.set_block_hook(c.block_hook, c.hook_user);
            if c.capacity != 0 {
                return h.set_fixed_block(c.capacity);
            }
        }
        true
    });
    if !ok {
        // SAFETY: nothing else saw the object.
        unsafe { destroy_object(obj) };
        sys::set_errno(sys::ENOMEM);
        return core::ptr::null_mut();
    }
    obj.cast()
}

#[cfg(target_os = "vita")]
fn source(mem_type: u32, name: *const c_char) -> HeapSource {
    let prefix: &[u8] = if name.is_null() {
        b"vitalloc_heap"
    } else {
        // SAFETY: the caller passes a NUL-terminated string.
        unsafe { core::ffi::CStr::from_ptr(name) }.to_bytes()
    };
    crate::source::VitaSource::with_type_and_prefix(mem_type, prefix)
}

#[cfg(not(target_os = "vita"))]
fn source(_mem_type: u32, _name: *const c_char) -> HeapSource {
    crate::source::MmapSource::new()
}

/// Gives back every memblock and the object; the count of blocks live.
///
/// # Safety
/// `obj` is a live heap object nobody uses again.
unsafe fn destroy_object(obj: *mut Object) -> usize {
    // SAFETY: per the caller.
    unsafe {
        let live = (*obj).destroy();
        core::ptr::drop_in_place(obj);
        let _ = super::HEAP.free(obj.cast());
        live
    }
}

/// Gives every memblock of `heap` back to the system (each reported to the
/// block hook first) and ends the heap. Returns how many blocks were still
/// allocated (their memory is gone too); NULL: 0.
///
/// # Safety
/// `heap` is NULL or a live heap object that nothing uses again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_destroy(heap: *mut VitallocHeap) -> usize {
    if heap.is_null() {
        return 0;
    }
    // SAFETY: per the caller.
    unsafe { destroy_object(heap.cast()) }
}

/// `size` bytes of the heap's memory, aligned to 16 bytes. Blocks of up to
/// 2 KiB are slots of 16 B to 2 KiB sharing pages (aligned to the largest
/// power of two dividing the slot's size: a 64-byte block is 64-aligned);
/// larger ones are runs of whole 4 KiB pages, aligned to 4 KiB. `size` 0
/// gives a unique block. NULL with `errno` ENOMEM when the memory, the
/// limit or the capacity runs out (EINVAL for a NULL heap). O(1) but for
/// the system call that grows the heap.
///
/// # Safety
/// `heap` is NULL or a live heap object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_malloc(heap: *mut VitallocHeap, size: usize) -> *mut c_void {
    // SAFETY: forwarded.
    unsafe { vitalloc_heap_memalign(heap, crate::blocks::MIN_ALIGN, size) }
}

/// As `vitalloc_heap_malloc`, aligned to `align`, a power of two (below
/// 16, 16; GXM's render targets want 4 KiB, textures 256 B or less,
/// buffers 16 B); any power of two the heap's size allows, 1 MiB and more
/// included. NULL with `errno` EINVAL for another alignment or a NULL
/// heap, ENOMEM when out of memory.
///
/// # Safety
/// `heap` is NULL or a live heap object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_memalign(
    heap: *mut VitallocHeap,
    align: usize,
    size: usize,
) -> *mut c_void {
    let Some(o) = object(heap).filter(|_| align.is_power_of_two()) else {
        sys::set_errno(sys::EINVAL);
        return core::ptr::null_mut();
    };
    let p = o.memalign(align, size);
    if p.is_null() {
        sys::set_errno(sys::ENOMEM);
    }
    p.cast()
}

/// Frees a block of `heap` (NULL: nothing). A pointer the heap did not
/// return, one of another heap or of `malloc`, or a block freed already
/// ends the program with one line naming the call, the heap and the
/// address.
///
/// # Safety
/// `heap` is a live heap object; nothing uses the block afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_free(heap: *mut VitallocHeap, p: *mut c_void) {
    let Some(o) = object(heap) else {
        report::heap_misuse("vitalloc_heap_free", 0, p as usize, Misuse::InvalidPointer)
    };
    // SAFETY: forwarded; misuse is returned, then reported.
    checked(unsafe { o.free(p.cast()) }, "vitalloc_heap_free", heap, p)
}

/// Resizes a block of `heap`: in place when it fits (a slot holding the
/// new size; pages shrunk, or grown into free pages after them), else a
/// new block (aligned as `vitalloc_heap_malloc`'s) with the contents
/// copied (by the CPU) and the old one freed. NULL `p`: `vitalloc_heap_malloc`. NULL with `errno` ENOMEM (the
/// block intact) when out of memory; misuse as `vitalloc_heap_free`.
///
/// # Safety
/// As `vitalloc_heap_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_realloc(
    heap: *mut VitallocHeap,
    p: *mut c_void,
    size: usize,
) -> *mut c_void {
    let Some(o) = object(heap) else {
        sys::set_errno(sys::EINVAL);
        return core::ptr::null_mut();
    };
    // SAFETY: forwarded.
    let q = checked(
        unsafe { o.realloc(p.cast(), size) },
        "vitalloc_heap_realloc",
        heap,
        p,
    );
    if q.is_null() {
        sys::set_errno(sys::ENOMEM);
    }
    q.cast()
}

/// Usable bytes of a block of `heap` (its slot's size up to 2 KiB, else a
/// multiple of 4 KiB; 0 for NULL); misuse as `vitalloc_heap_free`.
///
/// # Safety
/// `heap` is a live heap object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_usable_size(
    heap: *mut VitallocHeap,
    p: *mut c_void,
) -> usize {
    let Some(o) = object(heap) else { return 0 };
    // SAFETY: forwarded.
    checked(
        unsafe { o.usable_size(p.cast()) },
        "vitalloc_heap_usable_size",
        heap,
        p,
    )
}

/// The heap's statistics, exact now (the fields of `vitalloc_stats_t` as
/// for the main heap; `reserved` includes the metadata's main memory).
/// Nothing is written for a NULL heap or `out`.
///
/// # Safety
/// `heap` is NULL or a live heap object; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_stats(heap: *mut VitallocHeap, out: *mut Stats) {
    if let (Some(o), false) = (object(heap), out.is_null()) {
        // SAFETY: per the caller.
        unsafe { out.write(o.stats()) };
    }
}

/// Walks the heap's structures; 0 when every invariant holds, otherwise 1
/// after reporting the first violation ("vitalloc:
/// vitalloc_heap_check(0x...): <what> (at 0x...)", printed and passed to
/// the error hook). NULL: -1.
///
/// # Safety
/// `heap` is NULL or a live heap object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_check(heap: *mut VitallocHeap) -> c_int {
    let Some(o) = object(heap) else { return -1 };
    match o.check() {
        Ok(()) => 0,
        Err(b) => {
            report::check_failed(
                &format_args!("vitalloc_heap_check({:#x})", heap as usize),
                &b,
            );
            1
        }
    }
}

/// Gives back the memory the heap keeps cached (an emptied memblock, a
/// freed large block) beyond `pad` bytes; 1 if anything went back.
///
/// # Safety
/// `heap` is NULL or a live heap object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vitalloc_heap_trim(heap: *mut VitallocHeap, pad: usize) -> c_int {
    object(heap).is_some_and(|o| o.trim(pad)) as c_int
}
