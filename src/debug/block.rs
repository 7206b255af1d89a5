//! The debug build's block layout: the header in front of every block, the
//! byte patterns, and the faults found in them.
//!
//! ```text
//!  inner block from the heap (malloc or memalign):
//!  ┌─────────┬───────────────────────────────┬──────────────────┬──────────────────────┐
//!  │ padding │ Header: next prev serial      │ user bytes       │ canary 0xFD ...      │
//!  │ (align) │ caller freer offset size tag  │ (size; 0xCD when │ (at least            │
//!  │         │ 8 words, ends at user pointer │  fresh, 0xDD     │  DEBUG_CANARY_MIN,   │
//!  │         │                               │  once freed)     │  up to usable end)   │
//!  └─────────┴───────────────────────────────┴──────────────────┴──────────────────────┘
//!  inner                                    user = inner + offset            inner + usable
//! ```
//! The header is 8 words (32 bytes on the Vita, 64 on x86-64), a multiple
//! of `MIN_ALIGN`, so `user` keeps the heap's alignment; a `memalign`
//! request puts padding in front so that `user` has the asked alignment.
//! `tag` is the word next to the user bytes, so a write just before the
//! block (an underrun) breaks it first; it also binds the size, so a header
//! that does not belong to `user` never passes as one.
//!
//! Nothing here allocates, locks or reports: it reads and writes the bytes
//! of blocks it is handed and says what it found.

use core::fmt;

/// Fresh memory: what `malloc` hands out (not zero, so code that forgets
/// to initialise shows it; MSVC's debug heap uses the same byte).
pub const FRESH: u8 = 0xCD;
/// Freed memory, checked when the block leaves the quarantine.
pub const POISON: u8 = 0xDD;
/// The canary after every block.
pub const CANARY: u8 = 0xFD;

/// `tag` of a live block is `user ^ size ^ LIVE`, of a freed one
/// `user ^ size ^ FREED` (distinct odd values no aligned address can mimic
/// by accident).
const LIVE: usize = 0x5a17_a11c_u32 as usize;
const FREED: usize = 0xf7ee_dead_u32 as usize;

/// The words in front of every block of the debug build.
#[repr(C)]
pub struct Header {
    /// The live list (in allocation order) or the quarantine FIFO.
    pub next: *mut Header,
    /// The live list only.
    pub prev: *mut Header,
    /// Allocation number (1 for the first block), for dumps.
    pub serial: usize,
    /// The return address of the call that allocated the block.
    pub caller: usize,
    /// The return address of the call that freed it (0 while live).
    pub freer: usize,
    /// `user - inner`: where the heap's block starts.
    pub offset: usize,
    /// Bytes the program asked for.
    pub size: usize,
    /// `user ^ size ^ LIVE` (or `FREED`).
    pub tag: usize,
}

/// Bytes of the header; a multiple of `MIN_ALIGN` (8 words).
pub const HEADER: usize = size_of::<Header>();
const _: () = assert!(HEADER % crate::heap::config::MIN_ALIGN == 0);

impl Header {
    /// The header of the block at `user` (derived from `user`, so it keeps
    /// the provenance of the pointer the block was reached by).
    pub fn of(user: *mut u8) -> *mut Header {
        user.wrapping_sub(HEADER).cast()
    }
    /// The user pointer of the block this header describes.
    pub fn user(h: *const Header) -> *mut u8 {
        h.cast::<u8>().cast_mut().wrapping_add(HEADER)
    }
    /// The tag of a live block at `user` of `size` bytes.
    pub fn live_tag(user: *const u8, size: usize) -> usize {
        user.addr() ^ size ^ LIVE
    }
    /// The tag of a freed one.
    pub fn freed_tag(user: *const u8, size: usize) -> usize {
        user.addr() ^ size ^ FREED
    }
    /// What the block looks like, as far as its header tells.
    ///
    /// # Safety
    /// `h` is readable.
    pub unsafe fn state(h: *const Header) -> State {
        let user = Self::user(h);
        // SAFETY: per the caller.
        let (size, tag) = unsafe { ((*h).size, (*h).tag) };
        if tag == Self::live_tag(user, size) {
            State::Live
        } else if tag == Self::freed_tag(user, size) {
            State::Freed
        } else {
            State::Unknown
        }
    }
    /// The block's details for a message.
    ///
    /// # Safety
    /// `h` is readable.
    pub unsafe fn info(h: *const Header) -> Facts {
        // SAFETY: per the caller.
        unsafe {
            Facts {
                user: Self::user(h).addr(),
                size: (*h).size,
                caller: (*h).caller,
                freer: (*h).freer,
            }
        }
    }
}

/// What a header says of its block.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// Allocated.
    Live,
    /// Freed (in the quarantine).
    Freed,
    /// Not a header of ours, or an overwritten one.
    Unknown,
}

/// A block as messages name it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Facts {
    /// The user pointer.
    pub user: usize,
    /// Requested bytes.
    pub size: usize,
    /// Return address of the allocating call.
    pub caller: usize,
    /// Return address of the freeing call (0 while live).
    pub freer: usize,
}

/// Heap corruption or misuse the debug build found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// What the heap itself reports (invalid pointer, double free).
    Misuse(crate::heap::Misuse),
    /// The canary after a live block is overwritten.
    Overrun(Facts),
    /// The tag just before a live block is overwritten.
    Underrun(Facts),
    /// A freed block's poison (or canary, or tag) was overwritten while
    /// it was in the quarantine.
    WriteAfterFree(Facts),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::Misuse(m) => f.write_str(m.describe()),
            Fault::Overrun(b) => write!(
                f,
                "buffer overrun after block {:#x} of {} bytes, allocated by {:#x}",
                b.user, b.size, b.caller
            ),
            Fault::Underrun(b) => write!(
                f,
                "buffer underrun before block {:#x} of {} bytes, allocated by {:#x}",
                b.user, b.size, b.caller
            ),
            Fault::WriteAfterFree(b) => write!(
                f,
                "write after free into block {:#x} of {} bytes, allocated by {:#x}, freed by {:#x}",
                b.user, b.size, b.caller, b.freer
            ),
        }
    }
}

/// Sets `len` bytes at `at` to `byte`.
///
/// # Safety
/// The bytes are writable.
pub unsafe fn fill(at: *mut u8, len: usize, byte: u8) {
    // SAFETY: per the caller.
    unsafe { core::ptr::write_bytes(at, byte, len) }
}

/// Whether the `len` bytes at `at` all hold `byte`. Compares a word at a
/// time where it can: quarantine checks read up to a megabyte.
///
/// # Safety
/// The bytes are readable.
pub unsafe fn holds(at: *const u8, len: usize, byte: u8) -> bool {
    let word = usize::from_ne_bytes([byte; size_of::<usize>()]);
    // The bytes before the first word boundary, the whole words, the rest.
    let head = (at.addr().wrapping_neg() % size_of::<usize>()).min(len);
    let words = (len - head) / size_of::<usize>();
    let tail = head + words * size_of::<usize>();
    // SAFETY: every read lies in [at, at + len), readable per the caller;
    // word reads start at a word boundary, so they are aligned.
    unsafe {
        for i in 0..head {
            if *at.add(i) != byte {
                return false;
            }
        }
        let w = at.add(head).cast::<usize>();
        for i in 0..words {
            if *w.add(i) != word {
                return false;
            }
        }
        for i in tail..len {
            if *at.add(i) != byte {
                return false;
            }
        }
    }
    true
}
