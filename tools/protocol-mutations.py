#!/usr/bin/env python3
"""Shows that the protocol's tests have teeth: re-introduces, one at a time,
each behaviour of the thread-heap protocol that used to be wrong (a missing
fence on either side of the FULL handshake, no owner re-check in
free_abandoned, a notifier that flags a span after a stale read, a recycled
record whose remote stack is reset, a release that ignores QUEUED), runs
the deterministic race tests and the loom scenarios, and reports which fail.
Every mutation must make at least one test fail. Each file is restored
with `git checkout` afterwards, so it refuses to run on uncommitted
changes in src/.

    tools/protocol-mutations.py            # all mutations (a few minutes)
    tools/protocol-mutations.py M3-...     # one
"""
import os
import subprocess
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
if subprocess.run(["git", "diff", "--quiet", "--", "src"]).returncode != 0:
    sys.exit("protocol-mutations: src/ has uncommitted changes (each mutated file is restored with git checkout)")
muts = {
 'M1-no-fence-owner': ('src/heap/span.rs', """            fence(Ordering::SeqCst);
            if (*this).thread_free.load(Ordering::Relaxed).is_null() {""", """            if (*this).thread_free.load(Ordering::Relaxed).is_null() {"""),
 'M1b-no-fence-freer': ('src/heap/span.rs', """            // Pairs with the fence in `tag_full`: between the push onto
            // `thread_free` and reading the owner word.
            fence(Ordering::SeqCst);""", ""),
 'M2-no-owner-recheck': ('src/heap/small.rs', """            if (*span).owner.load(Ordering::Acquire) & !FLAGS != NO_OWNER {
                return None;
            }""", ""),
 'M3-flag-after-stale-read': ('src/heap/span.rs', """                match (*this).owner.compare_exchange(
                    w,
                    w | QUEUED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Some(w & !FLAGS),
                    Err(now) => w = now,
                }""", """                let old = (*this).owner.fetch_or(QUEUED, Ordering::AcqRel);
                if old & QUEUED == 0 { return Some(w & !FLAGS); }
                return None;"""),
 'M4-record-reset': ('src/front/local.rs', """            (*this).next = n.next;
            (*this).prev = n.prev;
        }""", """            (*this).next = n.next;
            (*this).prev = n.prev;
            (*this).remote.store(ptr::null_mut(), Ordering::Relaxed);
        }"""),
 'M5-release-while-queued': ('src/heap/span.rs', """        if self.owner.load(Ordering::Relaxed) != owner {""", """        if self.owner.load(Ordering::Relaxed) & !QUEUED != owner {"""),
}

failed_to_catch = []
for name in sys.argv[1:] or list(muts):
    f, old, new = muts[name]
    s = open(f).read()
    assert old in s, f"{name}: the code it mutates has changed"
    open(f, "w").write(s.replace(old, new))
    try:
        r = subprocess.run(
            "cargo test --release --lib race_tests 2>&1; "
            'RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 '
            "cargo test --release --lib --target-dir target/loom -- loom_ 2>&1",
            shell=True, capture_output=True, text=True)
    finally:
        subprocess.run(["git", "checkout", "--", f])
    caught = [l for l in r.stdout.splitlines() if l.startswith("test front::") and "FAILED" in l]
    print(f"{name}: caught by {len(caught)} test(s)")
    for l in caught:
        print("   ", l)
    if not caught:
        failed_to_catch.append(name)
if failed_to_catch:
    sys.exit("protocol-mutations: not caught: " + ", ".join(failed_to_catch))
