//! Reading the debug layer's records: the class table, the totals, and
//! the walk of the live list that `vitalloc_dump` makes. Nothing here
//! changes a block; the walk never holds the lock while its callback runs
//! and never allocates.

use super::block::Header;
use super::{BUCKETS, Debug, newer};
use crate::heap::ClassStats;
use crate::sync::RawLock;
use core::ptr;

impl<L: RawLock> Debug<L> {
    /// The class table (see [`ClassStats`]): copies up to `out.len()`
    /// entries and returns how many there are ([`BUCKETS`]).
    pub fn class_stats(&self, out: &mut [ClassStats]) -> usize {
        self.with(|s| {
            let n = out.len().min(BUCKETS);
            out[..n].copy_from_slice(&s.classes[..n]);
        });
        BUCKETS
    }

    /// Live blocks and bytes, and quarantined blocks and bytes.
    pub fn totals(&self) -> (usize, usize, usize, usize) {
        self.with(|s| (s.live, s.live_bytes, s.q_blocks, s.q_bytes))
    }

    /// Lists the blocks live when it starts, oldest first, a few at a time:
    /// `each(user, size, caller, serial)` runs without the lock (so it may
    /// allocate and free: blocks it allocates are not listed). Returns how
    /// many were listed. Dumps from several threads take turns.
    pub fn for_each_live(&self, mut each: impl FnMut(usize, usize, usize, usize)) -> usize {
        const BATCH: usize = 16;
        self.dump_lock.lock();
        let end = self.with(|s| {
            s.cursor = s.head;
            s.serial
        });
        let mut listed = 0;
        loop {
            let mut batch = [(0usize, 0usize, 0usize, 0usize); BATCH];
            let n = self.with(|s| {
                let mut n = 0;
                // SAFETY: the cursor is a live header or null (unlink moves it).
                unsafe {
                    while n < BATCH && !s.cursor.is_null() && !newer((*s.cursor).serial, end) {
                        let h = s.cursor;
                        batch[n] = (Header::user(h).addr(), (*h).size, (*h).caller, (*h).serial);
                        n += 1;
                        s.cursor = (*h).next;
                    }
                }
                n
            });
            for &(user, size, caller, serial) in &batch[..n] {
                each(user, size, caller, serial);
            }
            listed += n;
            if n < BATCH {
                break;
            }
        }
        self.with(|s| s.cursor = ptr::null_mut());
        // SAFETY: locked above.
        unsafe { self.dump_lock.unlock() };
        listed
    }
}
