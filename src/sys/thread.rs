//! Thread identity: the one word per thread where the calling thread's heap
//! pointer lives, the thread's id, and whether a thread still lives. Each
//! platform's version is here and nowhere else; nothing here allocates.
//!
//! - **Vita**: a TLS slot of our own key ([`VITA_TLS_KEY`]), at the address
//!   `sceKernelGetTLSAddr(key)` gives. Vita3K models a thread's 4-byte
//!   slots as the 0x800 bytes just below the address in TPIDRURO (the
//!   layout VitaSDK's newlib relies on through `sceKernelGetTLSAddr`), so
//!   the fast path reads the slot from TPIDRURO without a call. That model
//!   is not verified on hardware, and under another layout the word it
//!   reads belongs to someone else and may hold garbage: trusting it even
//!   once would be fatal. So the fast path reads the word at
//!   `(TPIDRURO & mask) + offset`, where (mask, offset) is (0, the address
//!   of a zero word) until [`check_layout`] (run by `_init_vita_heap`
//!   before `main`, while the process has one thread) has found the model
//!   equal to `sceKernelGetTLSAddr`; only then is it (all ones,
//!   4 * key - 0x800). Otherwise every fast path reads 0 and every call
//!   takes the slow path, which finds the thread's heap in its slot through
//!   `sceKernelGetTLSAddr` ([`get_checked`]); one line through
//!   `sceClibPrintf` says so. A thread whose own layout disagrees while the
//!   first thread's agreed (no known kernel does that) is reported the
//!   same way when it registers and uses the kernel's call too. A new
//!   thread's slots are zero. Liveness:
//!   `sceKernelGetThreadInfo` fails for a thread that no longer exists, and
//!   reports a thread that exited but was not deleted as dormant (or, when
//!   the thread manager killed it, deleted): all three are dead. And a
//!   thread id reused by a new thread is told apart because the new
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
        // SAFETY: per the module comment, the word read is this thread's
        // slot (the layout was checked) or a zero word in read-only memory.
        // Six instructions; a read that trusted the layout blindly was
        // three (mrc, sub, ldr): the pair's address (movw, movt), its load
        // (ldrd) and the mask (and) are the price of never reading an
        // unchecked word.
        unsafe {
            core::arch::asm!(
                "mrc p15, 0, {t}, c13, c0, 3",
                "movw {m}, :lower16:{pair}",
                "movt {m}, :upper16:{pair}",
                "ldrd {m}, {k}, [{m}]",
                "and {t}, {t}, {m}",
                "ldr {t}, [{t}, {k}]",
                t = out(reg) v,
                m = out(reg) _,
                k = out(reg) _,
                pair = sym vita::FAST_SLOT,
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
    // SAFETY: the calling thread's slot, a writable TLS word.
    unsafe {
        *vita::official_slot() = v
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
        vita::official_slot() as usize
    }
    #[cfg(not(any(target_os = "vita", all(target_os = "linux", target_arch = "x86_64"))))]
    {
        0
    }
}

/// The calling thread's slot value, read the slow way that is right on any
/// layout (on the Vita through `sceKernelGetTLSAddr`; elsewhere as
/// [`get`]). The slow path asks it before making a heap for a thread whose
/// [`get`] gave 0: when the fast path is off, the heap may be there.
#[inline(never)]
pub fn get_checked() -> usize {
    #[cfg(target_os = "vita")]
    // SAFETY: the calling thread's slot, a readable TLS word.
    unsafe {
        *vita::official_slot()
    }
    #[cfg(not(target_os = "vita"))]
    {
        get()
    }
}

/// Checks, once per process and before any thread's slot is read on the
/// fast path, that the TLS layout is the one the fast path assumes, and
/// turns the fast path on only then (see the module comment). Must run
/// while the process has a single thread (`_init_vita_heap`); later calls
/// do nothing. Only the Vita has a layout to check. (Without the C
/// library nothing calls it, and the slot is always found the slow way.)
#[cfg(target_os = "vita")]
pub fn check_layout() {
    vita::check_layout();
}

/// Called once per thread, before its slot is first set: returns the
/// thread's id (0 where there is no such thing). On the Vita, also reports
/// (once per process) a thread whose TLS layout differs from the first
/// thread's; it then finds its heap through the kernel's call.
pub fn register_thread() -> i32 {
    #[cfg(target_os = "vita")]
    {
        vita::check_thread();
        // SAFETY: a plain kernel query about the calling thread.
        unsafe { crate::sys::vita::sceKernelGetThreadId() }
    }
    #[cfg(not(target_os = "vita"))]
    {
        0
    }
}

/// Places inside the thread-heap protocol where a test build may make the
/// calling thread give way to another (see [`preempt_point`]): the
/// simulated Vita kernel's cooperative threads otherwise never meet in the
/// middle of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Point {
    /// A cross-thread free, between reading a span's owner word and
    /// queueing the span for its owner.
    Notify = 1,
    /// A new thread heap, between its registration and its publication in
    /// the thread's slot.
    Register = 2,
}

/// A preemption point (see [`Point`]): nothing at all (no code) in the
/// library's builds; the crate's unit tests run a hook here, and a Vita
/// build with the feature `sim-preempt` lets the simulated kernel switch
/// threads (its threads are ARM-only).
#[inline(always)]
pub fn preempt_point(id: Point) {
    #[cfg(all(feature = "sim-preempt", target_os = "vita"))]
    {
        unsafe extern "C" {
            /// The simulated kernel's (c-tests/vita-sim/sim_kernel.h).
            fn sim_preempt_point(id: core::ffi::c_uint);
        }
        // SAFETY: a plain C function of the test kernel; it may run other
        // simulated threads before it returns, as a preemption would. The
        // id crosses the FFI as an integer, never as an enum.
        unsafe { sim_preempt_point(id as core::ffi::c_uint) };
    }
    // Unit tests run another model thread's steps here (`test_hook`).
    #[cfg(all(test, not(loom)))]
    test_hook::run(id);
    #[cfg(not(all(feature = "sim-preempt", target_os = "vita")))]
    let _ = id;
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
/// uses the heap `heap` (a thread that exited but may be started again
/// forgets the heap: its slot is cleared).
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
                // A dormant thread can be started again: its slot must not
                // keep pointing at a heap that is about to be reclaimed and
                // handed to another thread (it cannot run meanwhile, so the
                // write races nothing).
                let other = sceKernelGetThreadTLSAddr(tid, VITA_TLS_KEY as i32) as *mut usize;
                if !other.is_null() && other as usize == slot && *other == heap {
                    *other = 0;
                }
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

#[cfg(target_os = "vita")]
mod vita {
    use super::VITA_TLS_KEY;
    use crate::sys::vita::sceKernelGetTLSAddr;
    use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

    /// The fast path reads the word at `(TPIDRURO & mask) + offset`.
    /// Written only by `check_layout`, while the process has one thread:
    /// the two words are read together by one `ldrd`, which is not
    /// single-copy atomic on the Cortex-A9, so a change while other threads
    /// read could be seen torn.
    #[repr(C, align(8))]
    pub struct FastSlot {
        mask: AtomicUsize,
        offset: AtomicPtr<usize>,
    }

    /// The word the fast path reads while the layout is unchecked or
    /// wrong: always 0 ("no heap yet"), in read-only memory.
    static ZERO: usize = 0;

    pub static FAST_SLOT: FastSlot = FastSlot {
        mask: AtomicUsize::new(0),
        offset: AtomicPtr::new((&raw const ZERO).cast_mut()),
    };

    /// Set once the layout has been checked (whatever the outcome).
    static CHECKED: AtomicBool = AtomicBool::new(false);
    /// Set once the fallback has been announced.
    static TOLD: AtomicBool = AtomicBool::new(false);

    /// Where the layout the fast path assumes puts `key`'s slot.
    fn expected_slot(key: usize) -> usize {
        let tp: usize;
        // SAFETY: reads TPIDRURO, the user-read-only thread register.
        unsafe {
            core::arch::asm!(
                "mrc p15, 0, {tp}, c13, c0, 3",
                tp = out(reg) tp,
                options(nomem, nostack, preserves_flags, pure),
            )
        };
        tp.wrapping_sub(0x800).wrapping_add(4 * key)
    }

    /// The calling thread's slot, from the kernel.
    pub fn official_slot() -> *mut usize {
        // SAFETY: a plain query about the calling thread; the key is valid
        // (0..=0x100), so the result is its slot.
        unsafe { sceKernelGetTLSAddr(VITA_TLS_KEY as i32) as *mut usize }
    }

    /// Whether the calling thread's slots (ours, and the first and last
    /// key's) are where the fast path expects them.
    fn layout_matches() -> bool {
        [0, VITA_TLS_KEY, 0x100].iter().all(|&k| {
            // SAFETY: as in `official_slot`.
            let a = unsafe { sceKernelGetTLSAddr(k as i32) } as usize;
            a == expected_slot(k)
        })
    }

    pub fn check_layout() {
        if CHECKED.swap(true, Ordering::AcqRel) {
            return;
        }
        if layout_matches() {
            FAST_SLOT.mask.store(usize::MAX, Ordering::Relaxed);
            let offset = (4 * VITA_TLS_KEY).wrapping_sub(0x800);
            FAST_SLOT
                .offset
                .store(core::ptr::without_provenance_mut(offset), Ordering::Release);
        } else {
            tell();
        }
    }

    /// A thread registering: if the first thread's layout enabled the fast
    /// path but this thread's slot is elsewhere, say so. The thread still
    /// works: its fast path reads a word that is not ours and that we never
    /// write (0 in a fresh thread), so its calls take the slow path, which
    /// finds its heap through the kernel (`get_checked`).
    pub fn check_thread() {
        if FAST_SLOT.mask.load(Ordering::Relaxed) != 0
            && official_slot() as usize != expected_slot(VITA_TLS_KEY)
        {
            tell();
        }
    }

    /// Says once that calls run without the TLS fast path.
    #[cold]
    fn tell() {
        if !TOLD.swap(true, Ordering::AcqRel) {
            crate::sys::print(
                c"vitalloc: sceKernelGetTLSAddr does not match the TLS layout below TPIDRURO that the fast path assumes; finding each thread's heap through sceKernelGetTLSAddr instead (slower)\n",
            );
        }
    }
}

/// Unit tests run code of their own at a preempt point of the calling
/// thread: another thread's steps, made deterministic (see
/// `front/race_tests.rs`).
#[cfg(all(test, not(loom)))]
pub mod test_hook {
    use super::Point;
    use std::boxed::Box;
    use std::cell::RefCell;

    type Hook = Box<dyn FnOnce(Point)>;

    std::thread_local! {
        static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
    }

    /// Runs `f` at the calling thread's next preempt point (once).
    pub fn once(f: impl FnOnce(Point) + 'static) {
        HOOK.with(|h| *h.borrow_mut() = Some(Box::new(f)));
    }

    pub(super) fn run(p: Point) {
        if let Some(f) = HOOK.with(|h| h.borrow_mut().take()) {
            f(p);
        }
    }
}
