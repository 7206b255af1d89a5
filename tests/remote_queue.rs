//! A full span another thread has queued on its owner's remote stack is
//! emptied by its owner before the owner takes the stack: it must stay
//! live (not go back and be reused as a new span) until taken off, or a
//! later push links it into the stack twice and the owner's next look at
//! the stack never ends. `check()` walks the caller's remote stack and
//! reports a released span on it (the old behaviour, caught after the
//! first round); a loop would show as the timeout.
//!
//! SAFETY, for every `unsafe` block below: each block is freed once, by one
//! thread, after the thread that allocated it handed it over.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use vitalloc::{Allocator, source::MmapSource, sync::DefaultLock};

static HEAP: Allocator<MmapSource, DefaultLock, true> = Allocator::new(MmapSource::new());

struct Blocks(Vec<*mut u8>);
// SAFETY: the blocks are handed from one thread to the other.
unsafe impl Send for Blocks {}

/// Rounds of: the owner fills spans of one class; another thread frees one
/// object in each (each span is full, so each is queued on the owner's
/// remote stack); the owner frees the rest (emptying the queued spans)
/// and allocates again.
fn rounds() {
    for round in 0..40 {
        let ps: Vec<*mut u8> = (0..4000).map(|_| HEAP.malloc(64)).collect();
        assert!(ps.iter().all(|p| !p.is_null()));
        let (remote, mine): (Vec<_>, Vec<_>) =
            ps.into_iter().enumerate().partition(|(i, _)| i % 16 == 0);
        let remote = Blocks(remote.into_iter().map(|(_, p)| p).collect());
        thread::spawn(move || {
            let r = remote;
            for &p in &r.0 {
                unsafe { HEAP.free(p) }.unwrap();
            }
        })
        .join()
        .unwrap();
        for (_, p) in mine {
            unsafe { HEAP.free(p) }.unwrap();
        }
        assert_eq!(HEAP.check(), Ok(()), "round {round}");
    }
}

#[test]
fn a_queued_span_emptied_by_its_owner_stays_until_taken() {
    let (done, wait) = mpsc::channel();
    thread::spawn(move || {
        rounds();
        done.send(()).unwrap();
    });
    match wait.recv_timeout(Duration::from_secs(120)) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the owner's remote stack loops (a released span was queued twice)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the rounds failed (see above)"),
    }
}
