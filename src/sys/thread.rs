//! Thread identity: the one word per thread where the calling thread's heap
//! pointer lives, the thread's id, and whether a thread still lives. Each
//! platform's version is here and nowhere else; nothing here allocates.
//!
//! - **Vita**: a TLS slot of our own key ([`VITA_TLS_KEY`]). Per DESIGN.md
//!   §2 (Vita3K's model of SceLibKernel, and the layout VitaSDK's newlib
//!   relies on through `sceKernelGetTLSAddr`), a thread's 4-byte slots lie
//!   in the 0x800 bytes just below the address in TPIDRURO, so the fast
//!   path reads the slot with `mrc p15, 0, rX, c13, c0, 3` and one load.
//!   The first use in each thread checks that address against
//!   `sceKernelGetTLSAddr(key)` and stops the program with a message if
//!   they differ. A new thread's slots are zero. Liveness:
//!   `sceKernelGetThreadInfo` fails for a thread that no longer exists, and
//!   reports a thread that exited but was not deleted as dormant (or, when
//!   the thread manager killed it, deleted): all three are dead. And
//!   a thread id reused by a new thread is told apart because the new
//!   thread's slot (`sceKernelGetThreadTLSAddr`) does not point at the old
//!   thread's heap.
//! - **x86-64 Linux**: an initial-exec TLS word (two instructions), and a
//!   `pthread_key_create` destructor that hands the heap back when the
//!   thread exits (glibc's keys below 32 need no allocation).
//! - **Elsewhere** (bare metal): no slot; the allocator uses its lock.

#[cfg(target_os = "vita")]
use crate::heap::config::VITA_TLS_KEY;

/// Whether this platform has a per-thread slot.
pub const HAS_SLOT: bool = cfg!(any(
    target_os = "vita",
    all(target_os = "linux", target_arch = "x86_64")
));

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
core::arch::global_asm!(
    ".pushsection .tbss.vitalloc_thread_slot,\"awT\",@nobits",
    ".p2align 3",
    ".globl vitalloc_thread_slot",
    ".hidden vitalloc_thread_slot",
    "vitalloc_thread_slot:",
    ".zero 8",
    ".globl vitalloc_thread_exited",
    ".hidden vitalloc_thread_exited",
    "vitalloc_thread_exited:",
    ".zero 8",
    ".popsection",
);

/// The calling thread's slot value (0 in a new thread).
#[inline(always)]
pub fn get() -> usize {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let v: usize;
        // SAFETY: reads this thread's TLS word through its initial-exec
        // offset; no memory is written.
        unsafe {
            core::arch::asm!(
                "mov {v}, qword ptr [rip + vitalloc_thread_slot@GOTTPOFF]",
                "mov {v}, qword ptr fs:[{v}]",
                v = out(reg) v,
                options(nostack, readonly, preserves_flags, pure),
            );
        }
        v
    }
    #[cfg(target_os = "vita")]
    {
        let v: usize;
        // SAFETY: per the module comment, the slot is readable TLS memory;
        // three instructions (an offset of -0x800 + 4*key does not fit one
        // load's immediate).
        unsafe {
            core::arch::asm!(
                "mrc p15, 0, {t}, c13, c0, 3",
                "sub {t}, {t}, #0x800",
                "ldr {v}, [{t}, #{off}]",
                t = out(reg) _,
                v = lateout(reg) v,
                off = const 4 * VITA_TLS_KEY,
                options(nostack, readonly, preserves_flags, pure),
            )
        };
        v
    }
    #[cfg(not(any(target_os = "vita", all(target_os = "linux", target_arch = "x86_64"))))]
    {
        0
    }
}

/// Sets the calling thread's slot value.
pub fn set(v: usize) {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    // SAFETY: writes this thread's TLS word.
    unsafe {
        core::arch::asm!(
            "mov {a}, qword ptr [rip + vitalloc_thread_slot@GOTTPOFF]",
            "mov qword ptr fs:[{a}], {v}",
            a = out(reg) _,
            v = in(reg) v,
            options(nostack, preserves_flags),
        );
    }
    #[cfg(target_os = "vita")]
    // SAFETY: as in `get`.
    unsafe {
        *vita_slot() = v
    };
    #[cfg(not(any(target_os = "vita", all(target_os = "linux", target_arch = "x86_64"))))]
    let _ = v;
}

/// Whether the calling thread has already handed its heap back (its exit
/// is under way): calls it makes from then on use the allocator's own heap
/// under the lock rather than a new thread heap (which nothing would
/// reclaim, and whose registration would call `pthread_setspecific` in
/// the middle of glibc's teardown of thread-specific data).
pub fn exited() -> bool {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let v: usize;
        // SAFETY: reads this thread's TLS word.
        unsafe {
            core::arch::asm!(
                "mov {v}, qword ptr [rip + vitalloc_thread_exited@GOTTPOFF]",
                "mov {v}, qword ptr fs:[{v}]",
                v = out(reg) v,
                options(nostack, readonly, preserves_flags),
            );
        }
        v != 0
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        false
    }
}

/// Records that the calling thread handed its heap back (see [`exited`]).
pub fn set_exited() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    // SAFETY: writes this thread's TLS word.
    unsafe {
        core::arch::asm!(
            "mov {a}, qword ptr [rip + vitalloc_thread_exited@GOTTPOFF]",
            "mov qword ptr fs:[{a}], 1",
            a = out(reg) _,
            options(nostack, preserves_flags),
        );
    }
}

/// The address of the calling thread's slot (kept by its heap, for the
/// liveness check).
pub fn slot_address() -> usize {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let a: usize;
        // SAFETY: computes this thread's TLS word address (fs:0 holds the
        // thread pointer on x86-64 Linux).
        unsafe {
            core::arch::asm!(
                "mov {a}, qword ptr [rip + vitalloc_thread_slot@GOTTPOFF]",
                "add {a}, qword ptr fs:0",
                a = out(reg) a,
                options(nostack, readonly, pure),
            );
        }
        a
    }
    #[cfg(target_os = "vita")]
    {
        vita_slot() as usize
    }
    #[cfg(not(any(target_os = "vita", all(target_os = "linux", target_arch = "x86_64"))))]
    {
        0
    }
}

#[cfg(target_os = "vita")]
#[inline(always)]
fn vita_slot() -> *mut usize {
    let tp: usize;
    // SAFETY: reads TPIDRURO, the user-read-only thread register.
    unsafe {
        core::arch::asm!(
            "mrc p15, 0, {tp}, c13, c0, 3",
            tp = out(reg) tp,
            options(nomem, nostack, preserves_flags, pure),
        )
    };
    (tp - 0x800 + 4 * VITA_TLS_KEY) as *mut usize
}

/// Called once per thread, before its slot is first set: checks the
/// platform's assumptions and returns the thread's id (0 where there is no
/// such thing). On the Vita, a TLS layout other than the expected one
/// stops the program (the fast path would read the wrong word).
pub fn register_thread() -> i32 {
    #[cfg(target_os = "vita")]
    {
        use crate::sys::vita::*;
        // SAFETY: plain kernel queries about the calling thread.
        let (official, tid) = unsafe {
            (
                sceKernelGetTLSAddr(VITA_TLS_KEY as i32) as usize,
                sceKernelGetThreadId(),
            )
        };
        if official != vita_slot() as usize {
            use core::fmt::Write;
            let mut line = crate::report::Line::new();
            let _ = writeln!(
                line,
                "vitalloc: sceKernelGetTLSAddr({:#x}) is {:#x}, not {:#x} below TPIDRURO as expected; aborting",
                VITA_TLS_KEY,
                official,
                vita_slot() as usize
            );
            crate::report::fatal(line.as_cstr());
        }
        tid
    }
    #[cfg(not(target_os = "vita"))]
    {
        0
    }
}

/// Arranges for the calling thread's exit to be reported (the host's
/// pthread key), once its slot holds its heap: `pthread_setspecific` may
/// allocate (glibc's second-level key arrays come from `calloc`), and that
/// allocation must find the heap already in place instead of making
/// another.
pub fn arm_exit() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    host::arm_destructor();
}

/// Whether the thread `tid`, whose slot was at `slot`, still runs and still
/// uses the heap `heap`.
pub fn is_alive(tid: i32, slot: usize, heap: usize) -> bool {
    #[cfg(target_os = "vita")]
    {
        use crate::sys::vita::*;
        let mut info = SceKernelThreadInfo::sized();
        // SAFETY: a sized info structure; the TLS address, when non-null,
        // is that thread's slot.
        unsafe {
            if sceKernelGetThreadInfo(tid, &mut info) < 0 {
                return false;
            }
            // An exited thread answers until it is deleted: dormant (it
            // returned or called sceKernelExitThread), or killed by the
            // thread manager. Its heap is as dead as a deleted thread's.
            if info.status & (SCE_THREAD_DORMANT | SCE_THREAD_DELETED | SCE_THREAD_DEAD) != 0 {
                return false;
            }
            let other = sceKernelGetThreadTLSAddr(tid, VITA_TLS_KEY as i32) as *const usize;
            !other.is_null() && other as usize == slot && *other == heap
        }
    }
    #[cfg(not(target_os = "vita"))]
    {
        // The host's thread destructor reports exits itself.
        let _ = (tid, slot, heap);
        true
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod host {
    use core::sync::atomic::{AtomicU32, Ordering};

    /// 0: no key yet; 1: being made; 2 + key.
    static KEY: AtomicU32 = AtomicU32::new(0);
    /// Called when a thread that set its key exits.
    static EXIT: core::sync::atomic::AtomicPtr<()> =
        core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

    /// Sets the function called (in the exiting thread) with its slot
    /// value when a registered thread exits.
    pub fn on_exit(f: fn(usize)) {
        EXIT.store(f as *mut (), Ordering::Release);
    }

    unsafe extern "C" fn destructor(_v: *mut libc::c_void) {
        let f = EXIT.load(Ordering::Acquire);
        let v = super::get();
        if !f.is_null() && v != 0 {
            // SAFETY: only `on_exit` stores here, always a `fn(usize)`.
            let f = unsafe { core::mem::transmute::<*mut (), fn(usize)>(f) };
            f(v);
        }
    }

    /// Makes sure the calling thread's exit is reported.
    pub fn arm_destructor() {
        let mut k = KEY.load(Ordering::Acquire);
        if k < 2 {
            if KEY
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let mut key: libc::pthread_key_t = 0;
                // SAFETY: creating a key with a valid destructor.
                let r = unsafe { libc::pthread_key_create(&mut key, Some(destructor)) };
                KEY.store(if r == 0 { key + 2 } else { 0 }, Ordering::Release);
            }
            while KEY.load(Ordering::Acquire) == 1 {
                core::hint::spin_loop();
            }
            k = KEY.load(Ordering::Acquire);
            if k < 2 {
                return;
            }
        }
        // SAFETY: a valid key; a non-null value makes the destructor run.
        unsafe { libc::pthread_setspecific(k - 2, core::ptr::dangling::<libc::c_void>()) };
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use host::on_exit;
