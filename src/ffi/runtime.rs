//! What a `no_std` C library needs from Rust's side: a panic handler, the
//! `rust_eh_personality` symbol a `cdylib` references even with
//! `panic = "abort"` (DESIGN.md §6), and, on Linux, fork handlers so a
//! child forked while another thread held the heap lock does not deadlock.

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let mut line = crate::report::Line::new();
    let _ = writeln!(line, "vitalloc: internal error: {}", info.message());
    crate::report::fatal(line.as_cstr())
}

#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

#[cfg(target_os = "linux")]
mod fork {
    use crate::ffi::HEAP;
    use crate::sync::RawLock;

    // The debug build's lock is taken first (its order with the heap's).
    extern "C" fn prepare() {
        #[cfg(feature = "debug-heap")]
        crate::ffi::DEBUG.raw_lock().lock();
        HEAP.raw_lock().lock();
    }
    extern "C" fn parent() {
        // SAFETY: `prepare` took the locks in this thread.
        unsafe {
            HEAP.raw_lock().unlock();
            #[cfg(feature = "debug-heap")]
            crate::ffi::DEBUG.raw_lock().unlock();
        }
    }
    extern "C" fn child() {
        // SAFETY: the child is single-threaded right after fork.
        unsafe {
            HEAP.raw_lock().reset_after_fork();
            #[cfg(feature = "debug-heap")]
            crate::ffi::DEBUG.raw_lock().reset_after_fork();
        }
    }
    extern "C" fn register() {
        // SAFETY: registering handlers has no preconditions; glibc keeps the
        // first handlers in static storage, so this does not allocate.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    }

    #[used]
    #[unsafe(link_section = ".init_array")]
    static REGISTER: extern "C" fn() = register;
}
