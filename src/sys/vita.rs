//! Bindings to the Vita kernel calls vitalloc uses (DESIGN.md §2), declared
//! here with vita-headers' types (`psp2/kernel/sysmem.h`,
//! `psp2/kernel/threadmgr/lw_mutex.h`, `psp2/kernel/threadmgr/thread.h`,
//! `psp2common/kernel/threadmgr.h`,
//! `psp2/kernel/clib.h`). No stub library is linked: VitaSDK's
//! default link line brings `SceSysmem_stub` and `SceLibKernel_stub`.
//! Nothing but these declarations and their constants lives here.

#![allow(non_snake_case, non_camel_case_types, dead_code)]

use core::ffi::{c_char, c_int, c_uint, c_void};

pub type SceUID = c_int;
pub type SceSize = c_uint;
pub type SceUInt32 = c_uint;

/// `SceKernelAllocMemBlockOpt` (0x14 bytes of fields; the kernel reads
/// `size` to know how much of it is there).
#[repr(C)]
pub struct SceKernelAllocMemBlockOpt {
    pub size: SceSize,
    pub attr: SceUInt32,
    pub alignment: SceSize,
    pub uidBaseBlock: SceUInt32,
    pub strBaseBlockName: *const c_char,
    pub flags: c_int,
    pub reserved: [c_int; 10],
}
const _: () = assert!(size_of::<SceKernelAllocMemBlockOpt>() == 0x40 || usize::BITS != 32);

/// `attr` bit: `alignment` is valid.
pub const SCE_KERNEL_ALLOC_MEMBLOCK_ATTR_HAS_ALIGNMENT: SceUInt32 = 0x4;

/// `SceKernelFreeMemorySizeInfo`.
#[repr(C)]
pub struct SceKernelFreeMemorySizeInfo {
    pub size: c_int,
    pub size_user: c_int,
    pub size_cdram: c_int,
    pub size_phycont: c_int,
}

/// `SceKernelLwMutexWork`: 32 bytes, 8-byte aligned, in static memory.
#[repr(C, align(8))]
pub struct SceKernelLwMutexWork {
    pub data: [u64; 4],
}

/// LwMutex attribute: recursive.
pub const SCE_KERNEL_MUTEX_ATTR_RECURSIVE: c_uint = 0x02;

pub const SCE_KERNEL_MEMBLOCK_TYPE_USER_RW: SceUInt32 = 0x0C20_D060;
pub const SCE_KERNEL_MEMBLOCK_TYPE_USER_RW_UNCACHE: SceUInt32 = 0x0C20_8060;
pub const SCE_KERNEL_MEMBLOCK_TYPE_USER_CDRAM_RW: SceUInt32 = 0x0940_8060;
pub const SCE_KERNEL_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_RW: SceUInt32 = 0x0C80_D060;
pub const SCE_KERNEL_MEMBLOCK_TYPE_USER_MAIN_PHYCONT_NC_RW: SceUInt32 = 0x0D80_8060;

pub type SceInt32 = c_int;
/// `SceKernelSysClock` (`psp2common/types.h`): a 64-bit count.
pub type SceKernelSysClock = u64;
/// `SceKernelThreadEntry` (`psp2common/kernel/threadmgr.h`).
pub type SceKernelThreadEntry =
    Option<unsafe extern "C" fn(args: SceSize, argp: *mut c_void) -> c_int>;

/// `SceKernelThreadInfo` of vita-headers (`psp2common/kernel/threadmgr.h`,
/// `VITASDK_BUILD_ASSERT_EQ(0x80, SceKernelThreadInfo)`): the caller sets
/// `size`, the kernel checks it. vitalloc reads `status` (offset 0x2C): a
/// thread that exited but was not deleted still answers, as
/// [`SCE_THREAD_DORMANT`] or [`SCE_THREAD_DELETED`].
#[repr(C)]
pub struct SceKernelThreadInfo {
    pub size: SceSize,
    pub processId: SceUID,
    pub name: [c_char; 32],
    pub attr: SceUInt32,
    pub status: SceUInt32,
    pub entry: SceKernelThreadEntry,
    pub stack: *mut c_void,
    pub stackSize: SceInt32,
    pub initPriority: SceInt32,
    pub currentPriority: SceInt32,
    pub initCpuAffinityMask: SceInt32,
    pub currentCpuAffinityMask: SceInt32,
    pub currentCpuId: SceInt32,
    pub lastExecutedCpuId: SceInt32,
    pub waitType: SceUInt32,
    pub waitId: SceUID,
    pub exitStatus: SceInt32,
    pub runClocks: SceKernelSysClock,
    pub intrPreemptCount: SceUInt32,
    pub threadPreemptCount: SceUInt32,
    pub threadReleaseCount: SceUInt32,
    pub changeCpuCount: SceInt32,
    pub fNotifyCallback: SceInt32,
    pub reserved: SceInt32,
}
const _: () = assert!(size_of::<SceKernelThreadInfo>() == 0x80);
const _: () = assert!(core::mem::offset_of!(SceKernelThreadInfo, status) == 0x2C);
const _: () = assert!(core::mem::offset_of!(SceKernelThreadInfo, runClocks) == 0x60);

impl SceKernelThreadInfo {
    /// An all-zero structure with `size` set, ready for
    /// `sceKernelGetThreadInfo`.
    pub const fn sized() -> Self {
        // SAFETY: every field is an integer, a raw pointer or an
        // `Option<fn>`, for all of which zero is a valid value (`None`).
        let mut info: Self = unsafe { core::mem::zeroed() };
        info.size = size_of::<Self>() as SceSize;
        info
    }
}

/// `SceThreadStatus` values (`psp2common/kernel/threadmgr.h`; an int-sized
/// enum there, plain constants here: C enums never cross the FFI). A thread in one
/// of the last three no longer runs: it exited and was not deleted
/// (`DORMANT`), the thread manager killed it (`DELETED`), or it is dead.
pub const SCE_THREAD_RUNNING: SceUInt32 = 1;
pub const SCE_THREAD_READY: SceUInt32 = 2;
pub const SCE_THREAD_DORMANT: SceUInt32 = 16;
pub const SCE_THREAD_DELETED: SceUInt32 = 32;
pub const SCE_THREAD_DEAD: SceUInt32 = 64;

unsafe extern "C" {
    /// SceLibKernel's printf to the kernel's debug output (catlog,
    /// PrincessLog, psp2shell); it does not allocate (DESIGN.md §2).
    pub fn sceClibPrintf(fmt: *const c_char, ...) -> c_int;
    pub fn sceKernelGetThreadId() -> SceUID;
    pub fn sceKernelGetThreadInfo(thid: SceUID, info: *mut SceKernelThreadInfo) -> c_int;
    pub fn sceKernelGetTLSAddr(key: c_int) -> *mut c_void;
    pub fn sceKernelGetThreadTLSAddr(thid: SceUID, key: c_int) -> *mut c_void;
    pub fn sceKernelAllocMemBlock(
        name: *const c_char,
        type_: SceUInt32,
        size: SceSize,
        opt: *mut SceKernelAllocMemBlockOpt,
    ) -> SceUID;
    pub fn sceKernelFreeMemBlock(uid: SceUID) -> c_int;
    pub fn sceKernelGetMemBlockBase(uid: SceUID, base: *mut *mut c_void) -> c_int;
    pub fn sceKernelFindMemBlockByAddr(addr: *const c_void, size: SceSize) -> SceUID;
    pub fn sceKernelGetFreeMemorySize(info: *mut SceKernelFreeMemorySizeInfo) -> c_int;
    pub fn sceKernelCreateLwMutex(
        work: *mut SceKernelLwMutexWork,
        name: *const c_char,
        attr: c_uint,
        init_count: c_int,
        opt: *const c_void,
    ) -> c_int;
    pub fn sceKernelDeleteLwMutex(work: *mut SceKernelLwMutexWork) -> c_int;
    pub fn sceKernelLockLwMutex(
        work: *mut SceKernelLwMutexWork,
        count: c_int,
        timeout: *mut c_uint,
    ) -> c_int;
    pub fn sceKernelTryLockLwMutex(work: *mut SceKernelLwMutexWork, count: c_int) -> c_int;
    pub fn sceKernelUnlockLwMutex(work: *mut SceKernelLwMutexWork, count: c_int) -> c_int;
}
